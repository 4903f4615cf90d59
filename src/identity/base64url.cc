#include "identity/base64url.h"

#include <openssl/evp.h>

namespace jg::identity {

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string std_alphabet(text);
  for (char& c : std_alphabet) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!plain) {
      return std::nullopt;  // padding, whitespace, '+', '/', or anything else
    }
  }
  const size_t pad = (4 - text.size() % 4) % 4;
  std_alphabet.append(pad, '=');
  std::string out(std_alphabet.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(std_alphabet.data()),
                                static_cast<int>(std_alphabet.size()));
  if (n < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(n) - pad);
  // Canonical form only: re-encoding must give back the same text (no stray low bits).
  if (base64UrlEncode(out) != text) {
    return std::nullopt;
  }
  return out;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return out;
}

}  // namespace jg::identity
