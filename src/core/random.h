// Cryptographically secure randomness (OpenSSL's RAND_bytes) and identifiers built from it.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace jg {

// Fills buf with n random bytes. Aborts the process if the system RNG fails: nothing in the
// gateway may continue with predictable secrets.
void randomBytes(void* buf, size_t n);
uint32_t randomU32();
// A short random identifier of lowercase base32 characters, e.g. "k3x9q2m7"; `chars` long.
std::string randomId(size_t chars = 12);
// Lowercase hex of the given bytes.
std::string toHex(std::string_view bytes);

}  // namespace jg
