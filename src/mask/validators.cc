#include "mask/validators.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "core/text.h"

namespace jg::mask {
namespace {

constexpr auto isDigit = isAsciiDigit;
constexpr auto isUpper = isAsciiUpper;
constexpr auto isLower = isAsciiLower;
bool isBase64(char c) {
  return isDigit(c) || isUpper(c) || isLower(c) || c == '/' || c == '+';
}

// Collects the digits of s; returns false when s holds anything but digits and the single
// separator kind `seps` allows (a card written "4111 1111-1111 1111" is not a card).
bool digitsWithOneSeparator(std::string_view s, std::string& digits) {
  char sep = 0;
  for (char c : s) {
    if (isDigit(c)) {
      digits.push_back(c);
    } else if (c == ' ' || c == '-') {
      if (sep != 0 && sep != c) {
        return false;
      }
      sep = c;
    } else {
      return false;
    }
  }
  return true;
}

bool allSame(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return c == s[0]; });
}

int num(std::string_view s) {
  int v = 0;
  for (char c : s) {
    v = v * 10 + (c - '0');
  }
  return v;
}

// IIN ranges and lengths of the card networks in wide use; a Luhn-valid number outside them is
// far more likely an order number or a timestamp than a card.
bool knownCardPrefix(std::string_view d) {
  size_t n = d.size();
  int p2 = num(d.substr(0, 2));
  int p3 = num(d.substr(0, 3));
  int p4 = num(d.substr(0, 4));
  switch (d[0]) {
    case '4':  // Visa
      return n == 13 || n == 16 || n == 19;
    case '5':  // Mastercard
      return p2 >= 51 && p2 <= 55 && n == 16;
    case '2':  // Mastercard 2-series
      return p4 >= 2221 && p4 <= 2720 && n == 16;
    case '3':
      if (p2 == 34 || p2 == 37) {
        return n == 15;  // American Express
      }
      if (p2 == 35) {
        return n >= 16 && n <= 19;  // JCB
      }
      return (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305)) && n >= 14 &&
             n <= 19;  // Diners Club
    case '6':          // Discover, UnionPay
      return (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62) && n >= 16 && n <= 19;
    default:
      return false;
  }
}

struct IbanLength {
  char cc[3];
  int length;
};
constexpr IbanLength kIbanLengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24},
    {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31},
    {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
    {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

bool isWordByte(char c) {
  return isDigit(c) || isUpper(c) || isLower(c) || c == '_';
}

}  // namespace

bool luhnValid(std::string_view digits) {
  if (digits.empty()) {
    return false;
  }
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!isDigit(digits[i])) {
      return false;
    }
    int d = digits[i] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool ibanValid(std::string_view iban) {
  std::string s;
  for (char c : iban) {
    if (c != ' ') {
      s.push_back(c);
    }
  }
  if (s.size() < 15 || s.size() > 34 || !isUpper(s[0]) || !isUpper(s[1]) || !isDigit(s[2]) ||
      !isDigit(s[3])) {
    return false;
  }
  auto it = std::find_if(std::begin(kIbanLengths), std::end(kIbanLengths),
                         [&](const IbanLength& l) { return s.compare(0, 2, l.cc) == 0; });
  if (it == std::end(kIbanLengths) || static_cast<size_t>(it->length) != s.size()) {
    return false;
  }
  // mod-97 over the rearranged string (country + check digits moved to the end, letters as
  // 10..35), computed piecewise so no big integers are needed.
  std::rotate(s.begin(), s.begin() + 4, s.end());
  int rem = 0;
  for (char c : s) {
    if (isDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (isUpper(c)) {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool ssnValid(std::string_view s) {
  if (s.size() != 11 || s[3] != s[6] || (s[3] != '-' && s[3] != ' ')) {
    return false;
  }
  std::string_view area = s.substr(0, 3), group = s.substr(4, 2), serial = s.substr(7, 4);
  for (std::string_view part : {area, group, serial}) {
    if (!std::all_of(part.begin(), part.end(), isDigit)) {
      return false;
    }
  }
  int a = num(area);
  return a != 0 && a != 666 && a < 900 && num(group) != 0 && num(serial) != 0;
}

bool ipv4Valid(std::string_view ip) {
  int parts = 0;
  size_t i = 0;
  while (i <= ip.size()) {
    size_t j = i;
    while (j < ip.size() && isDigit(ip[j])) {
      ++j;
    }
    size_t len = j - i;
    if (len == 0 || len > 3 || (len > 1 && ip[i] == '0') || num(ip.substr(i, len)) > 255) {
      return false;
    }
    ++parts;
    if (j == ip.size()) {
      break;
    }
    if (ip[j] != '.') {
      return false;
    }
    i = j + 1;
  }
  return parts == 4;
}

bool ipv6Valid(std::string_view ip) {
  if (ip.size() < 2 || ip.size() > 45) {
    return false;
  }
  char buf[64];
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

namespace {

// How far back from an address to look for the `scheme://user:` of a URI (bounded, so a long
// run of addresses costs linear time).
constexpr size_t kMaxUserinfoLookBack = 256;

// True if `at` lies in the user information of a URI (`scheme://user:password@host`, also with
// JSON-escaped slashes): the token holds `://`, then a `:` and no `/`, `?` or `#` before `at`.
bool inUrlUserinfo(std::string_view text, size_t at) {
  size_t start = at;
  size_t limit = at > kMaxUserinfoLookBack ? at - kMaxUserinfoLookBack : 0;
  while (start > limit && text[start - 1] != ' ' && text[start - 1] != '\n' &&
         text[start - 1] != '\t') {
    --start;
  }
  std::string_view token = text.substr(start, at - start);
  size_t scheme = token.rfind("://");
  size_t escaped = token.rfind(":\\/\\/");
  size_t authority = scheme != std::string_view::npos    ? scheme + 3
                     : escaped != std::string_view::npos ? escaped + 5
                                                         : std::string_view::npos;
  if (authority == std::string_view::npos) {
    return false;
  }
  std::string_view userinfo = token.substr(authority);
  return userinfo.find(':') != std::string_view::npos &&
         userinfo.find_first_of("/?#") == std::string_view::npos;
}

}  // namespace

bool validateEmail(std::string_view text, size_t& from, size_t& to) {
  while (from < to && (text[from] == '.' || text[from] == '-')) {
    ++from;
  }
  // `scheme://user:password@host` is a URL with credentials (url_password), not an address.
  if (inUrlUserinfo(text, from)) {
    return false;
  }
  return from < to && text[from] != '@';
}

bool validatePhone(std::string_view text, size_t& from, size_t& to) {
  std::string_view s = text.substr(from, to - from);
  int digits = 0, open = 0;
  char prev = 0;
  for (char c : s) {
    if (isDigit(c)) {
      ++digits;
    } else if (c == '(') {
      ++open;
    } else if (c == ')') {
      --open;
    } else if (c != '+' && (prev == ' ' || prev == '.' || prev == '-')) {
      return false;  // doubled separators
    }
    prev = c;
  }
  if (open != 0 || digits < 8 || digits > 15) {
    return false;
  }
  // A phone is not glued to more digits or to a decimal point.
  return to == text.size() || !(text[to] == '.' && to + 1 < text.size() && isDigit(text[to + 1]));
}

bool validateNanpPhone(std::string_view text, size_t& from, size_t& to) {
  std::string digits;
  for (size_t i = from; i < to; ++i) {
    if (isDigit(text[i])) {
      digits.push_back(text[i]);
    }
  }
  if (digits.size() == 11 && digits[0] == '1') {
    digits.erase(0, 1);
  }
  if (digits.size() != 10 || digits[0] < '2' || digits[3] < '2' || allSame(digits)) {
    return false;
  }
  // Not a run inside a larger dotted or dashed number (a date or a version).
  if (from > 0 && (text[from - 1] == '-' || text[from - 1] == '.' || text[from - 1] == '/')) {
    return false;
  }
  return to == text.size() || !((text[to] == '-' || text[to] == '.' || text[to] == '/') &&
                                to + 1 < text.size() && isDigit(text[to + 1]));
}

bool validateCard(std::string_view text, size_t& from, size_t& to) {
  std::string digits;
  if (!digitsWithOneSeparator(text.substr(from, to - from), digits)) {
    return false;
  }
  if (digits.size() < 13 || digits.size() > 19 || allSame(digits)) {
    return false;
  }
  // A card is not a piece of a dashed or dotted identifier (UUIDs, dates, versions).
  if (from > 0 && (text[from - 1] == '-' || text[from - 1] == '.')) {
    return false;
  }
  if (to < text.size() && (text[to] == '-' || text[to] == '.') && to + 1 < text.size() &&
      isDigit(text[to + 1])) {
    return false;
  }
  return knownCardPrefix(digits) && luhnValid(digits);
}

bool validateSsn(std::string_view text, size_t& from, size_t& to) {
  if (from > 0 && (text[from - 1] == '-' || text[from - 1] == '.')) {
    return false;
  }
  if (to < text.size() && text[to] == '-') {
    return false;
  }
  return ssnValid(text.substr(from, to - from));
}

bool validateIban(std::string_view text, size_t& from, size_t& to) {
  while (to > from && text[to - 1] == ' ') {
    --to;
  }
  return ibanValid(text.substr(from, to - from));
}

bool validateIpv4(std::string_view text, size_t& from, size_t& to) {
  // "1.2.3.4.5" is a version number, not an address.
  if (from > 0 && text[from - 1] == '.') {
    return false;
  }
  if (to + 1 < text.size() && text[to] == '.' && isDigit(text[to + 1])) {
    return false;
  }
  return ipv4Valid(text.substr(from, to - from));
}

bool validateIpv6(std::string_view text, size_t& from, size_t& to) {
  if (to < text.size() && (isWordByte(text[to]) || text[to] == ':')) {
    return false;  // cut in the middle of a longer token
  }
  std::string_view s = text.substr(from, to - from);
  if (std::count(s.begin(), s.end(), ':') < 2) {
    return false;
  }
  return ipv6Valid(s);
}

bool validateAwsSecret(std::string_view text, size_t& from, size_t& to) {
  if (to - from < 40 || (to < text.size() && isBase64(text[to]))) {
    return false;
  }
  from = to - 40;
  std::string_view key = text.substr(from, 40);
  bool upper = std::any_of(key.begin(), key.end(), isUpper);
  bool lower = std::any_of(key.begin(), key.end(), isLower);
  bool digit = std::any_of(key.begin(), key.end(), isDigit);
  return upper && lower && digit;
}

bool extendPemBlock(std::string_view text, size_t& from, size_t& to) {
  // Mask through the END line; a block cut short is masked to the end of the text.
  size_t end = text.find("-----END", to);
  if (end == std::string_view::npos) {
    to = text.size();
    return true;
  }
  size_t close = text.find("-----", end + 8);
  to = close == std::string_view::npos ? text.size() : close + 5;
  return true;
}

namespace {
bool validateLuhnSpan(std::string_view text, size_t& from, size_t& to) {
  std::string digits;
  for (size_t i = from; i < to; ++i) {
    if (isDigit(text[i])) {
      digits.push_back(text[i]);
    } else if (text[i] != ' ' && text[i] != '-') {
      return false;
    }
  }
  return luhnValid(digits);
}
bool validateIbanSpan(std::string_view text, size_t& from, size_t& to) {
  return ibanValid(text.substr(from, to - from));
}
bool validateSsnSpan(std::string_view text, size_t& from, size_t& to) {
  return ssnValid(text.substr(from, to - from));
}
bool validateIpv4Span(std::string_view text, size_t& from, size_t& to) {
  return ipv4Valid(text.substr(from, to - from));
}
bool validateIpv6Span(std::string_view text, size_t& from, size_t& to) {
  return ipv6Valid(text.substr(from, to - from));
}
}  // namespace

Validator validatorByName(std::string_view name) {
  if (name == "luhn") {
    return validateLuhnSpan;
  }
  if (name == "card") {
    return validateCard;
  }
  if (name == "iban") {
    return validateIbanSpan;
  }
  if (name == "ssn") {
    return validateSsnSpan;
  }
  if (name == "ipv4") {
    return validateIpv4Span;
  }
  if (name == "ipv6") {
    return validateIpv6Span;
  }
  if (name == "email") {
    return validateEmail;
  }
  if (name == "phone") {
    return validatePhone;
  }
  return nullptr;
}

}  // namespace jg::mask
