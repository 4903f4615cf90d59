#include "audit/redact.h"

#include <array>
#include <cctype>

namespace jg::audit {
namespace {

constexpr std::string_view kRedacted = "[redacted]";
constexpr std::array<std::string_view, 9> kSecretKeys = {
    "password", "passwd",     "secret",      "token",        "api_key",
    "apikey",   "access_key", "private_key", "client_secret"};

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool isB64Url(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool iequalsAt(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) {
    return false;
  }
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i]) {
      return false;
    }
  }
  return true;
}

// If a secret keyword starts at `pos`, returns the span [value_begin, value_end) of its value.
// A keyword may follow '_' or '-' (the end of a longer name: access_token, x-api-key), not
// another letter or digit.
bool secretValueAt(std::string_view t, size_t pos, size_t& vb, size_t& ve) {
  if (pos > 0 && isWordChar(t[pos - 1]) && t[pos - 1] != '_') {
    return false;
  }
  for (auto key : kSecretKeys) {
    if (!iequalsAt(t, pos, key)) {
      continue;
    }
    size_t i = pos + key.size();
    if (i < t.size() && (t[i] == '"' || t[i] == '\'')) {
      ++i;  // closing quote of a JSON key
    }
    bool assigned = false;
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '=' || t[i] == ':')) {
      assigned = assigned || t[i] == '=' || t[i] == ':';
      ++i;
    }
    if (i >= t.size()) {
      return false;
    }
    if (t[i] == '\'' || t[i] == '"') {
      // Quoted: SQL `PASSWORD 'x'` needs no '='; other keys need an assignment.
      if (!assigned && key != "password") {
        return false;
      }
      char q = t[i];
      size_t end = i + 1;
      while (end < t.size() && !(t[end] == q && (end + 1 >= t.size() || t[end + 1] != q))) {
        end += (t[end] == q) ? 2 : 1;  // '' is an escaped quote in SQL
      }
      vb = i + 1;
      ve = std::min(end, t.size());
      return true;
    }
    if (!assigned) {
      return false;
    }
    size_t end = i;
    while (end < t.size() && !std::isspace(static_cast<unsigned char>(t[end])) && t[end] != '&' &&
           t[end] != ',' && t[end] != ';') {
      ++end;
    }
    vb = i;
    ve = end;
    return ve > vb;
  }
  return false;
}

// A JWT: three base64url parts, the first starting with "eyJ".
size_t jwtEnd(std::string_view t, size_t pos) {
  if (t.compare(pos, 3, "eyJ") != 0 || (pos > 0 && isB64Url(t[pos - 1]))) {
    return 0;
  }
  size_t i = pos;
  int dots = 0;
  while (i < t.size() && (isB64Url(t[i]) || t[i] == '.')) {
    dots += t[i] == '.';
    ++i;
  }
  return dots == 2 ? i : 0;
}

// Whether a secret (PEM block, JWT, secret keyword) can start with this byte: most bytes of a
// statement cannot, and skip the checks.
bool mayStartSecret(char c) {
  switch (c) {
    case '-':
    case 'e':
    case 'p':
    case 'P':
    case 's':
    case 'S':
    case 't':
    case 'T':
    case 'a':
    case 'A':
    case 'c':
    case 'C':
      return true;
    default:
      return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

bool isSecretName(std::string_view name) {
  static constexpr std::array<std::string_view, 13> kParts = {
      "password",   "passwd",      "secret",    "token",      "api_key", "api-key", "apikey",
      "access_key", "private_key", "signature", "credential", "session", "cookie"};
  static constexpr std::array<std::string_view, 5> kWhole = {"key", "sig", "code", "authorization",
                                                             "auth"};
  std::string n = lower(name);
  for (auto part : kParts) {
    if (n.find(part) != std::string::npos) {
      return true;
    }
  }
  for (auto whole : kWhole) {
    if (n == whole || n.ends_with("-" + std::string(whole)) ||
        n.ends_with("_" + std::string(whole))) {
      return true;
    }
  }
  return false;
}

std::string scrubQuery(std::string_view query) {
  std::string out;
  out.reserve(query.size());
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find_first_of("&;", i);
    size_t end = amp == std::string_view::npos ? query.size() : amp;
    std::string_view pair = query.substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && eq + 1 < pair.size() && isSecretName(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out.append(kRedacted);
    } else {
      out.append(pair);
    }
    if (end == query.size()) {
      break;
    }
    out.push_back(query[end]);
    i = end + 1;
  }
  return out;
}

std::string scrubHeaderValue(std::string_view name, std::string_view value) {
  if (!isSecretName(name) || value.empty()) {
    return std::string(value);
  }
  std::string n = lower(name);
  if (n == "authorization" || n == "proxy-authorization") {
    size_t sp = value.find(' ');
    if (sp != std::string_view::npos && sp > 0) {
      return std::string(value.substr(0, sp + 1)) + std::string(kRedacted);
    }
  }
  return std::string(kRedacted);
}

std::string scrubSecrets(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  size_t i = 0;
  size_t run = 0;  // start of the bytes not yet copied to out
  auto flush = [&] { out.append(t.substr(run, i - run)); };
  while (i < t.size()) {
    if (!mayStartSecret(t[i])) {
      ++i;
      continue;
    }
    size_t vb = 0;
    size_t ve = 0;
    if (t.compare(i, 11, "-----BEGIN ") == 0) {
      size_t end = t.find("-----END ", i);
      size_t close = end == std::string_view::npos ? t.size() : t.find("-----", end + 9);
      size_t stop = close == std::string_view::npos ? t.size() : close + 5;
      if (t.substr(i, stop - i).find("PRIVATE KEY") != std::string_view::npos) {
        flush();
        out.append(kRedacted);
        i = run = stop;
        continue;
      }
    }
    if (size_t e = jwtEnd(t, i); e != 0) {
      flush();
      out.append(kRedacted);
      i = run = e;
      continue;
    }
    if (secretValueAt(t, i, vb, ve)) {
      flush();
      out.append(t.substr(i, vb - i));
      out.append(kRedacted);
      i = run = ve;
      continue;
    }
    ++i;
  }
  flush();
  return out;
}

}  // namespace jg::audit
