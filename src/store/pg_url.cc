#include "store/pg_url.h"

#include <charconv>
#include <optional>

#include "core/text.h"

namespace jg::store {
namespace {

int hexValue(char c) {
  if (isAsciiDigit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || hexValue(s[i + 1]) < 0 || hexValue(s[i + 2]) < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
    i += 2;
  }
  return out;
}

std::optional<int> parseInt(std::string_view s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    return std::nullopt;
  }
  return v;
}

Status badUrl(std::string_view url, const std::string& why) {
  return invalidArgument("state store URL " + redactUrl(url) + ": " + why);
}

// Splits "host:port" or "[v6]:port" into u.host / u.port.
Status parseHostPort(std::string_view url, std::string_view hp, PgUrl& u) {
  std::string_view host = hp;
  std::string_view port;
  if (hp.starts_with('[')) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      return badUrl(url, "unterminated [ in the host");
    }
    host = hp.substr(1, close - 1);
    if (close + 1 < hp.size()) {
      if (hp[close + 1] != ':') {
        return badUrl(url, "junk after ]");
      }
      port = hp.substr(close + 2);
    }
  } else if (size_t colon = hp.rfind(':'); colon != std::string_view::npos) {
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  if (!host.empty()) {
    auto h = percentDecode(host);
    if (!h) {
      return badUrl(url, "bad %-escape in the host");
    }
    u.host = *h;
  }
  if (!port.empty()) {
    auto p = parseInt(port, 1, 65535);
    if (!p) {
      return badUrl(url, "port must be 1..65535");
    }
    u.port = *p;
  }
  return Status::ok();
}

Status applyParam(std::string_view url, const std::string& key, const std::string& value,
                  PgUrl& u) {
  std::string* text = key == "sslmode"            ? &u.sslmode
                      : key == "sslrootcert"      ? &u.sslrootcert
                      : key == "sslcert"          ? &u.sslcert
                      : key == "sslkey"           ? &u.sslkey
                      : key == "password_file"    ? &u.password_file
                      : key == "application_name" ? &u.application_name
                                                  : nullptr;
  if (text != nullptr) {
    *text = value;
    return Status::ok();
  }
  if (key == "pool_size" || key == "pool_timeout_ms" || key == "connect_timeout") {
    auto v = key == "pool_size"         ? parseInt(value, 1, kMaxPoolSize)
             : key == "connect_timeout" ? parseInt(value, 1, 600)
                                        : parseInt(value, 1, 600000);
    if (!v) {
      return badUrl(url, key + " is out of range");
    }
    if (key == "pool_size") {
      u.pool_size = *v;
    } else if (key == "connect_timeout") {
      u.connect_timeout_s = *v;
    } else {
      u.pool_timeout = std::chrono::milliseconds(*v);
    }
    return Status::ok();
  }
  if (key == "password") {
    return badUrl(url,
                  "a password in the URL is not allowed; use password_file= or "
                  "JITGATE_STORE_PASSWORD");
  }
  return badUrl(url, "unknown parameter '" + key + "'");
}

Status parseQuery(std::string_view url, std::string_view query, PgUrl& u) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) {
      continue;
    }
    size_t eq = item.find('=');
    auto key = percentDecode(item.substr(0, eq));
    auto value = percentDecode(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    if (!key || !value) {
      return badUrl(url, "bad %-escape in the query");
    }
    if (Status st = applyParam(url, *key, *value, u); !st) {
      return st;
    }
  }
  return Status::ok();
}

Status checkTls(std::string_view url, PgUrl& u) {
  if (u.sslmode.empty()) {
    u.sslmode = u.sslrootcert.empty() ? "require" : "verify-full";
  }
  const std::string& m = u.sslmode;
  bool weak = m == "disable" || m == "allow" || m == "prefer";
  if (!weak && m != "require" && m != "verify-ca" && m != "verify-full") {
    return badUrl(url, "sslmode must be disable, allow, prefer, require, verify-ca or verify-full");
  }
  if (weak && !isLoopbackHost(u.host)) {
    return badUrl(url, "sslmode=" + m +
                           " is allowed only for a loopback host; use require, "
                           "verify-ca or verify-full");
  }
  return Status::ok();
}

}  // namespace

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.") || host.starts_with('/');
}

std::string redactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  std::string out(url);
  // A password may hold '@', '/' or '?': everything from the first ':' of the user info to the
  // last '@' goes, whatever it holds.
  size_t at = out.rfind('@');
  size_t colon = out.find(':', start);
  size_t rest = start;
  if (at != std::string::npos && at >= start && colon != std::string::npos && colon < at) {
    out = out.substr(0, colon) + ":***" + out.substr(at);
    rest = colon + 4;
  }
  return out.substr(0, out.find('?', rest));
}

std::string describe(const PgUrl& u) {
  return u.user + "@" + u.host + ":" + std::to_string(u.port) + "/" + u.dbname;
}

Result<PgUrl> parsePgUrl(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("postgresql://")) {
    rest.remove_prefix(13);
  } else if (rest.starts_with("postgres://")) {
    rest.remove_prefix(11);
  } else {
    return badUrl(url, "must start with postgresql://");
  }
  PgUrl u;
  size_t q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  rest = rest.substr(0, q);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  auto db = percentDecode(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  if (!db || db->empty()) {
    return badUrl(url, "names no database (postgresql://user@host/dbname)");
  }
  u.dbname = *db;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    if (userinfo.find(':') != std::string_view::npos) {
      return badUrl(url,
                    "a password in the URL is not allowed; use password_file= or "
                    "JITGATE_STORE_PASSWORD");
    }
    auto user = percentDecode(userinfo);
    if (!user) {
      return badUrl(url, "bad %-escape in the user");
    }
    u.user = *user;
    authority = authority.substr(at + 1);
  }
  if (Status st = parseHostPort(url, authority, u); !st) {
    return st;
  }
  if (Status st = parseQuery(url, query, u); !st) {
    return st;
  }
  if (u.user.empty()) {
    return badUrl(url, "names no user (postgresql://user@host/dbname)");
  }
  if (Status st = checkTls(url, u); !st) {
    return st;
  }
  return u;
}

}  // namespace jg::store
