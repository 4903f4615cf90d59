// Small text helpers shared by every module. Pure functions; thread-safe.
#pragma once

#include <cctype>
#include <string_view>

namespace jg {

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

}  // namespace jg
