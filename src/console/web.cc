#include "console/web.h"

#include <openssl/crypto.h>

#include <fmt/format.h>

#include "core/random.h"
#include "core/text.h"
#include "identity/base64url.h"
#include "identity/digest.h"

namespace jg::console {

std::string cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = trimSpace(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && trimSpace(pair.substr(0, eq)) == name) {
      return std::string(trimSpace(pair.substr(eq + 1)));
    }
  }
  return {};
}

std::string sessionCookie(std::string_view session_id, std::chrono::seconds max_age) {
  return fmt::format("{}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}", kSessionCookie,
                     session_id, max_age.count());
}

std::string clearedSessionCookie() {
  return fmt::format("{}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0", kSessionCookie);
}

std::string loginCookie(std::string_view state, std::chrono::seconds max_age) {
  return fmt::format("{}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}", kLoginCookie,
                     state, max_age.count());
}

std::string clearedLoginCookie() {
  return fmt::format("{}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0", kLoginCookie);
}

std::string randomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  randomBytes(raw.data(), raw.size());
  return identity::base64UrlEncode(raw);
}

std::string pkceChallenge(std::string_view verifier) {
  return identity::base64UrlEncode(identity::sha256(verifier));
}

bool validPkceVerifier(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) {
    return false;
  }
  for (char c : v) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string csrfProblem(std::string_view expected, std::string_view header_token,
                        std::string_view origin, std::string_view allowed_origin) {
  if (header_token.empty()) {
    return "the X-CSRF-Token header is required on state changes (GET /console/api/me gives it)";
  }
  if (expected.empty() || !constantTimeEqual(expected, header_token)) {
    return "the X-CSRF-Token header does not match this session";
  }
  if (!origin.empty() && origin != allowed_origin) {
    return fmt::format("requests from origin {} are not accepted", origin);
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> securityHeaders() {
  return {
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
}

std::string etagOf(std::string_view body) {
  return "\"" + toHex(identity::sha256(body)).substr(0, 32) + "\"";
}

bool etagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view one = trimSpace(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (one.starts_with("W/")) {
      one.remove_prefix(2);
    }
    if (one == "*" || one == etag) {
      return true;
    }
  }
  return false;
}

}  // namespace jg::console
