// SHA-256 through OpenSSL, for token cache keys and cache file names. Thread-safe.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace jg::identity {

// The raw 32-byte SHA-256 of `data`.
inline std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

}  // namespace jg::identity
