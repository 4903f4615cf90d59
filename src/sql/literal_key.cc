#include "sql/literal_key.h"

#include "core/text.h"

namespace jg::sql {
namespace {

constexpr char kInteger = '\x01';
constexpr char kDecimal = '\x02';
constexpr char kString = '\x03';

constexpr auto isDigit = isAsciiDigit;
bool isNameStart(char c) {
  return isAsciiLetter(c) || c == '_';
}
bool isNameChar(char c) {
  return isNameStart(c) || isDigit(c);
}
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
// Operator characters and punctuation, which PostgreSQL tokenizes the same way whatever the
// constants around them are (they are copied unchanged).
bool isPunct(char c) {
  switch (c) {
    case '(':
    case ')':
    case '[':
    case ']':
    case ',':
    case ';':
    case ':':
    case '.':
    case '+':
    case '-':
    case '*':
    case '/':
    case '<':
    case '>':
    case '=':
    case '~':
    case '!':
    case '@':
    case '#':
    case '%':
    case '^':
    case '&':
    case '|':
    case '`':
    case '?':
      return true;
    default:
      return false;
  }
}

// Scans the number at `i`; false when its tokenization is not modelled (see the header).
bool number(std::string_view s, size_t& i, std::string& out) {
  size_t start = i;
  while (i < s.size() && isDigit(s[i])) {
    ++i;
  }
  bool decimal = false;
  if (i < s.size() && s[i] == '.') {
    if (i + 1 >= s.size() || !isDigit(s[i + 1])) {
      return false;  // "1." and "1.." tokenize in ways this scanner does not model
    }
    decimal = true;
    ++i;
    while (i < s.size() && isDigit(s[i])) {
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) {
      ++j;
    }
    if (j >= s.size() || !isDigit(s[j])) {
      return false;
    }
    decimal = true;
    i = j;
    while (i < s.size() && isDigit(s[i])) {
      ++i;
    }
  }
  if (!decimal && i - start > 9) {
    return false;  // may not fit in int4: PostgreSQL makes it a numeric constant
  }
  if (i < s.size() && (isNameChar(s[i]) || s[i] == '.' || s[i] == '\'' || s[i] == '"')) {
    return false;
  }
  out += decimal ? kDecimal : kInteger;
  return true;
}

// Scans the '...' constant at `i` (a doubled quote stands for one).
bool string(std::string_view s, size_t& i, std::string& out) {
  if (i > 0 && (isNameChar(s[i - 1]) || s[i - 1] == '&')) {
    return false;  // E'', B'', X'', N'', U&'' constants have their own rules
  }
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      return false;  // meaning depends on standard_conforming_strings
    }
    if (c == '\'') {
      if (i + 1 < s.size() && s[i + 1] == '\'') {
        ++i;
        continue;
      }
      ++i;
      out += kString;
      return true;
    }
  }
  return false;  // unterminated
}

bool quotedName(std::string_view s, size_t& i, std::string& out) {
  size_t start = i;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') {
      if (i + 1 < s.size() && s[i + 1] == '"') {
        ++i;
        continue;
      }
      ++i;
      out.append(s.substr(start, i - start));
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> literalKey(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool replaced = false;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (isNameStart(c)) {
      size_t start = i;
      while (i < s.size() && isNameChar(s[i])) {
        ++i;
      }
      out.append(s.substr(start, i - start));
      continue;
    }
    if (isDigit(c) || (c == '.' && i + 1 < s.size() && isDigit(s[i + 1]))) {
      if (c == '.' || !number(s, i, out)) {
        return std::nullopt;
      }
      replaced = true;
      continue;
    }
    if (c == '\'') {
      if (!string(s, i, out)) {
        return std::nullopt;
      }
      replaced = true;
      continue;
    }
    if (c == '"') {
      if (!quotedName(s, i, out)) {
        return std::nullopt;
      }
      continue;
    }
    if ((c == '-' && i + 1 < s.size() && s[i + 1] == '-') ||
        (c == '/' && i + 1 < s.size() && s[i + 1] == '*')) {
      return std::nullopt;  // comments
    }
    if (!isSpace(c) && !isPunct(c)) {
      return std::nullopt;  // '$', '\\', '{', non-ASCII and control bytes
    }
    out += c;
    ++i;
  }
  if (!replaced) {
    return std::nullopt;  // no constant: the exact text is the key
  }
  return out;
}

}  // namespace jg::sql
