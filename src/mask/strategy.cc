#include "mask/strategy.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

namespace jg::mask {
namespace {

bool hmacSha256(const void* key, size_t key_len, std::string_view data, unsigned char out[32]) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key, static_cast<int>(key_len),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
              &len) != nullptr &&
         len == 32;
}

size_t utf8Length(unsigned char lead) {
  if (lead < 0x80) {
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    return 2;
  }
  if ((lead & 0xF0) == 0xE0) {
    return 3;
  }
  if ((lead & 0xF8) == 0xF0) {
    return 4;
  }
  return 0;
}

}  // namespace

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8Length(c);
    if (n == 0 || i + n > s.size()) {
      return false;
    }
    uint32_t cp = c & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

// SHA256_* are deprecated in OpenSSL 3 in favour of EVP, whose contexts cannot be copied
// without an allocation; these are the same routines EVP's default provider runs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void Keyer::Mac::init(const unsigned char key[32]) {
  unsigned char ipad[SHA256_CBLOCK];
  unsigned char opad[SHA256_CBLOCK];
  std::memset(ipad, 0x36, sizeof(ipad));
  std::memset(opad, 0x5c, sizeof(opad));
  for (int i = 0; i < 32; ++i) {
    ipad[i] ^= key[i];
    opad[i] ^= key[i];
  }
  SHA256_Init(&inner);
  SHA256_Update(&inner, ipad, sizeof(ipad));
  SHA256_Init(&outer);
  SHA256_Update(&outer, opad, sizeof(opad));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
}

void Keyer::Mac::sign(std::string_view data, unsigned char out[32]) const {
  SHA256_CTX c = inner;
  SHA256_Update(&c, data.data(), data.size());
  SHA256_Final(out, &c);
  c = outer;
  SHA256_Update(&c, out, 32);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof(c));
}
#pragma GCC diagnostic pop

Keyer::Keyer(std::string_view key) {
  if (key.empty()) {
    return;
  }
  unsigned char hash_key[32];
  unsigned char token_key[32];
  has_key_ = hmacSha256(key.data(), key.size(), "jitgate mask hash v1", hash_key) &&
             hmacSha256(key.data(), key.size(), "jitgate mask token v1", token_key);
  if (has_key_) {
    hash_mac_.init(hash_key);
    token_mac_.init(token_key);
  }
  OPENSSL_cleanse(hash_key, sizeof(hash_key));
  OPENSSL_cleanse(token_key, sizeof(token_key));
}

Status Keyer::hash(std::string_view value, std::string& out) const {
  unsigned char mac[32];
  if (!has_key_) {
    return internalError("masking key unavailable for hash");
  }
  hash_mac_.sign(value, mac);
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return Status::ok();
}

Status Keyer::token(std::string_view value, std::string& out) const {
  unsigned char mac[32];
  if (!has_key_) {
    return internalError("masking key unavailable for tokenize");
  }
  token_mac_.sign(value, mac);
  static constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
  out.append("tok_");
  // 20 characters x 5 bits = the first 100 bits of the MAC.
  uint32_t acc = 0;
  int bits = 0;
  size_t byte = 0;
  for (int i = 0; i < 20; ++i) {
    if (bits < 5) {
      acc = (acc << 8) | mac[byte++];
      bits += 8;
    }
    out.push_back(kBase32[(acc >> (bits - 5)) & 31]);
    bits -= 5;
  }
  return Status::ok();
}

Status applyStrategy(Strategy strategy, std::string_view value, std::string_view label,
                     int keep_last, const Keyer& keyer, std::string& out) {
  switch (strategy) {
    case Strategy::kRedact:
      out.push_back('[');
      out.append(label);
      out.push_back(']');
      return Status::ok();
    case Strategy::kPartial: {
      if (!validUtf8(value)) {
        return invalidArgument("value to mask is not valid UTF-8");
      }
      // Count code points, then star all but the last keep_last of them.
      size_t points = 0;
      for (char c : value) {
        points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      }
      size_t keep = points > static_cast<size_t>(keep_last) ? keep_last : 0;
      size_t stars = points - keep, seen = 0, i = 0;
      for (; i < value.size() && seen < stars; ++i) {
        if ((static_cast<unsigned char>(value[i]) & 0xC0) != 0x80) {
          out.push_back('*');
          ++seen;
        }
      }
      while (i < value.size() && (static_cast<unsigned char>(value[i]) & 0xC0) == 0x80) {
        ++i;
      }
      out.append(value.substr(i));
      return Status::ok();
    }
    case Strategy::kHash:
      return keyer.hash(value, out);
    case Strategy::kTokenize:
      return keyer.token(value, out);
    case Strategy::kNull:
      break;
  }
  return internalError("null strategy has no textual form");
}

}  // namespace jg::mask
