#include "proto/http/headers.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "core/text.h"

namespace jg::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (isAsciiUpper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

template <size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

constexpr std::array<std::string_view, 6> kHopByHop = {
    "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"};

// The lower-cased names listed in every Connection field of `headers`.
std::vector<std::string> connectionOptions(const bhttp::fields& headers) {
  std::vector<std::string> names;
  for (const auto& f : headers) {
    if (f.name() != bhttp::field::connection) {
      continue;
    }
    std::string_view rest = f.value();
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = trimSpace(rest.substr(0, comma));
      if (!item.empty()) {
        names.push_back(lower(item));
      }
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return names;
}

// Copies every field of `from` whose lower-cased name `drop` does not refuse.
template <typename Drop>
void copyFields(const bhttp::fields& from, bhttp::fields& to, Drop drop) {
  const std::vector<std::string> named = connectionOptions(from);
  for (const auto& f : from) {
    const std::string name = lower(f.name_string());
    if (isHopByHop(name) || std::find(named.begin(), named.end(), name) != named.end() ||
        drop(name)) {
      continue;
    }
    to.insert(f.name_string(), f.value());
  }
}

bool hasBlankControlOrNonAscii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c >= 0x7F;
  });
}

// `value` as text for a record: kept when it is UTF-8, else each byte above 0x7F as "\xNN".
std::string recordable(std::string_view value) {
  if (isValidUtf8(value)) {
    return std::string(value);
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

Status malformed(std::string message) {
  return invalidArgument(std::move(message));
}

constexpr std::array<std::string_view, 7> kCredentials = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "api-key",
    "x-api-key",     "x-amz-security-token"};

constexpr std::array<std::string_view, 16> kRecorded = {"host",
                                                        "content-type",
                                                        "content-length",
                                                        "content-encoding",
                                                        "transfer-encoding",
                                                        "accept",
                                                        "accept-encoding",
                                                        "user-agent",
                                                        "x-request-id",
                                                        "traceparent",
                                                        "idempotency-key",
                                                        "openai-organization",
                                                        "openai-beta",
                                                        "anthropic-version",
                                                        "x-client-request-id",
                                                        "x-stainless-lang"};

}  // namespace

bool isHopByHop(std::string_view name) {
  const std::string n = lower(name);
  return contains(kHopByHop, n) || startsWith(n, "proxy-");
}

Result<std::optional<std::string>> extractToken(const bhttp::fields& headers,
                                                const TokenSource& src) {
  const size_t n = headers.count(src.header);
  if (n == 0) {
    return std::optional<std::string>();
  }
  if (n > 1) {
    return malformed("the request has more than one " + src.header + " header; send one");
  }
  std::string_view value = trimSpace(headers[src.header]);
  if (!src.scheme.empty()) {
    const size_t space = value.find_first_of(" \t");
    const std::string_view scheme = value.substr(0, space);
    if (!beast::iequals(scheme, src.scheme)) {
      return malformed("the " + src.header + " header must use the " + src.scheme + " scheme");
    }
    value = space == std::string_view::npos ? std::string_view() : trimSpace(value.substr(space));
  }
  if (value.empty()) {
    return malformed("the " + src.header + " header carries an empty token");
  }
  if (hasBlankControlOrNonAscii(value)) {
    return malformed("the token in the " + src.header +
                     " header contains white space, a control or a non-ASCII byte");
  }
  return std::optional<std::string>(std::string(value));
}

std::string wwwAuthenticate(std::string_view realm, std::string_view error,
                            std::string_view description) {
  std::string out = "Bearer realm=\"";
  for (const char ch : realm) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += ch;
  }
  out += '"';
  if (!error.empty()) {
    out += ", error=\"";
    for (const char c : error) {
      if (isAsciiAlnum(c) || c == '_' || c == '-' || c == '.') {
        out += c;
      }
    }
    out += '"';
  }
  if (!description.empty()) {
    // RFC 6750 3: %x20-21 / %x23-5B / %x5D-7E only.
    out += ", error_description=\"";
    for (const char ch : description) {
      const auto c = static_cast<unsigned char>(ch);
      out += c == '"' ? '\'' : (c < 0x20 || c >= 0x7F || c == '\\') ? ' ' : ch;
    }
    out += '"';
  }
  return out;
}

void copyForwardHeaders(const bhttp::fields& from, bhttp::fields& to, const TokenSource& src,
                        bool decode_ok) {
  const std::string token_header = lower(src.header);
  copyFields(from, to, [&](const std::string& name) {
    return name == token_header || name == "authorization" || name == "cookie" ||
           name == "forwarded" || startsWith(name, "x-forwarded-") || name == "accept-encoding";
  });
  to.set(bhttp::field::accept_encoding, decode_ok ? "gzip, deflate" : "identity");
}

void copyResponseHeaders(const bhttp::fields& from, bhttp::fields& to, bool body_rewritten) {
  constexpr std::array<std::string_view, 8> kDescribeBytes = {
      "content-length", "content-encoding", "content-md5",   "digest",
      "content-digest", "repr-digest",      "accept-ranges", "etag"};
  copyFields(from, to, [&](const std::string& name) {
    return body_rewritten && contains(kDescribeBytes, name);
  });
}

std::vector<std::pair<std::string, std::string>> recordedHeaders(const bhttp::fields& headers,
                                                                 const TokenSource& src) {
  const std::string token_header = lower(src.header);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : headers) {
    std::string name = lower(f.name_string());
    if (name == token_header || contains(kCredentials, name)) {
      out.emplace_back(std::move(name), "[redacted]");
    } else if (contains(kRecorded, name)) {
      out.emplace_back(std::move(name), recordable(f.value()));
    }
  }
  return out;
}

}  // namespace jg::http
