// Small text helpers shared by every module. Pure functions; thread-safe.
#pragma once

#include <cctype>
#include <cstdint>
#include <string_view>

namespace jg {

// ASCII character classes, independent of the locale (the <cctype> functions are not).
constexpr bool isAsciiDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool isAsciiUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
constexpr bool isAsciiLower(char c) {
  return c >= 'a' && c <= 'z';
}
constexpr bool isAsciiLetter(char c) {
  return isAsciiUpper(c) || isAsciiLower(c);
}
constexpr bool isAsciiAlnum(char c) {
  return isAsciiDigit(c) || isAsciiLetter(c);
}

// `s` without leading and trailing white space (ASCII, as isspace in the C locale).
inline std::string_view trimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// True when `s` is well-formed UTF-8: no stray continuation or truncated sequence, no overlong
// form, no surrogate, nothing above U+10FFFF.
inline bool isValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80             ? 0
                     : (c & 0xE0) == 0xC0 ? 1
                     : (c & 0xF0) == 0xE0 ? 2
                     : (c & 0xF8) == 0xF0 ? 3
                                          : 4;
    if (n == 4 || s.size() - i <= n) {
      return false;
    }
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace jg
