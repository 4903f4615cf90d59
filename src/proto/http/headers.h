// Header handling of the HTTP front end: where the caller's token is, which headers go
// upstream and back, and which are worth recording.
//
// The token is the caller's credential for the gateway only: it never goes upstream (the
// server sets the upstream's own credential), and it is recorded as "[redacted]". Pure
// functions over bhttp::fields; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "proto/http/beast.h"

namespace jg::http {

// Where the caller's token is: `Authorization: Bearer x` by default; a resource may name
// another header ("api-key", "x-api-key", with scheme "") or the scheme form
// "Authorization: Api-Key x". Header names compare case-insensitively, schemes too.
struct TokenSource {
  std::string header = "authorization";
  std::string scheme = "Bearer";  // "" = the whole value is the token
};

// nullopt: no token (→ 401); an error (kInvalidArgument, → 400 or 401 invalid_request):
// malformed (the token header twice, empty token, wrong scheme, white space, controls or
// non-ASCII bytes in the token).
Result<std::optional<std::string>> extractToken(const bhttp::fields& headers,
                                                const TokenSource& src);

// The value of WWW-Authenticate for a 401 (RFC 6750): Bearer realm="...", error="...",
// error_description="..."; realm is a quoted-string (escaped), error keeps only token bytes,
// and the description bytes RFC 6750 does not allow (controls, '"', '\', non-ASCII) become
// spaces or quotes. An empty error or description is left out.
std::string wwwAuthenticate(std::string_view realm, std::string_view error,
                            std::string_view description);

// Headers to send upstream: the client's, minus hop-by-hop (Connection and the headers it
// names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade), minus the token header
// (and Authorization always), Cookie, Forwarded/X-Forwarded-* (the server sets its own), and
// Accept-Encoding set to "identity" unless `decode_ok` (then "gzip, deflate"), whether or not
// the client sent one. Host is copied: the server replaces it (set, not insert).
void copyForwardHeaders(const bhttp::fields& from, bhttp::fields& to, const TokenSource& src,
                        bool decode_ok);

// Same for a response going back to the client: hop-by-hop removed. When `body_rewritten` (the
// server decoded or masked the body and sends it with its own framing), also Content-Length,
// Content-Encoding and the headers that describe the original bytes (Content-MD5, Digest,
// Content-Digest, Repr-Digest, Accept-Ranges, ETag).
void copyResponseHeaders(const bhttp::fields& from, bhttp::fields& to, bool body_rewritten);

// Headers worth recording, in order: content-type, content-length, content-encoding,
// transfer-encoding, accept, accept-encoding, user-agent, x-request-id, traceparent,
// idempotency-key, openai-organization...; credentials (the token header, Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, api-key, x-api-key) present as "[redacted]".
// Names are lower-case; a value that is not UTF-8 has its bytes above 0x7F written as "\xNN".
std::vector<std::pair<std::string, std::string>> recordedHeaders(const bhttp::fields& headers,
                                                                 const TokenSource& src);

// True for a hop-by-hop header name (the fixed list; names listed in Connection are not known
// here).
bool isHopByHop(std::string_view name);

}  // namespace jg::http
