#include "core/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace jg {

void randomBytes(void* buf, size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(buf), static_cast<int>(n)) != 1) {
    std::fputs("fatal: system random number generator failed\n", stderr);
    std::abort();
  }
}

uint32_t randomU32() {
  uint32_t v;
  randomBytes(&v, sizeof v);
  return v;
}

std::string randomId(size_t chars) {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";  // 32 symbols
  std::string raw(chars, '\0');
  randomBytes(raw.data(), raw.size());
  std::string out(chars, '\0');
  for (size_t i = 0; i < chars; ++i) {
    out[i] = kAlphabet[static_cast<unsigned char>(raw[i]) % 32];
  }
  return out;
}

std::string toHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace jg
