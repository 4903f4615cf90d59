// The console's browser-facing rules as pure functions: the session cookie, PKCE (RFC 7636,
// S256), the CSRF checks on state changes, and the security headers every console answer carries.
// No sockets, no state; the admin listener's console routes (server/console_routes.cc) apply
// them. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jg::console {

// `__Host-` pins the cookie to this exact origin, with Secure and Path=/ (RFC 6265bis).
inline constexpr std::string_view kSessionCookie = "__Host-jg_console";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// The value of cookie `name` in a Cookie request header ("a=1; b=2"); empty when absent.
std::string cookieValue(std::string_view cookie_header, std::string_view name);

// Set-Cookie for a new session: HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age.
std::string sessionCookie(std::string_view session_id, std::chrono::seconds max_age);
// Set-Cookie that removes the session cookie.
std::string clearedSessionCookie();

// The sign-in in progress, bound to the browser that started it: the OIDC `state` in a cookie
// that must come back with the callback (SameSite=Lax: the issuer's redirect is cross-site).
inline constexpr std::string_view kLoginCookie = "__Host-jg_console_login";
std::string loginCookie(std::string_view state, std::chrono::seconds max_age);
std::string clearedLoginCookie();

// A fresh random token of `bytes` random bytes, base64url (state, nonce, PKCE verifier, ids).
std::string randomToken(size_t bytes = 32);
// BASE64URL(SHA-256(verifier)): the S256 code_challenge of a PKCE code verifier.
std::string pkceChallenge(std::string_view verifier);
// A code verifier that RFC 7636 §4.1 accepts: 43-128 characters of [A-Za-z0-9-._~].
bool validPkceVerifier(std::string_view verifier);

// Equal in time that depends only on the lengths (for tokens compared with secrets).
bool constantTimeEqual(std::string_view a, std::string_view b);

// Whether a state-changing request may go on: the session's CSRF token in the X-CSRF-Token
// header and, when the browser sent one, an Origin equal to the console's. Empty when allowed,
// else why not (for the 403 body).
std::string csrfProblem(std::string_view expected_token, std::string_view header_token,
                        std::string_view origin, std::string_view allowed_origin);

// Content-Security-Policy, nosniff, no referrer, no framing: on every console answer.
std::vector<std::pair<std::string, std::string>> securityHeaders();

// A quoted strong ETag of `body` ("\"<hex of SHA-256, 32 chars>\"").
std::string etagOf(std::string_view body);
// Whether an If-None-Match header value names `etag` (a list, or *).
bool etagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace jg::console
