// The two kinds of refusal a token verification reports, as PostgreSQL SQLSTATEs so the front
// door can send them to a client unchanged. Messages must never contain the token.
#pragma once

#include <string>

#include "core/status.h"

namespace jg::identity {

// The token is not a valid credential: malformed, badly signed, expired (28P01).
inline Status invalidToken(std::string message) {
  return Status::error(Code::kPermissionDenied, std::move(message), "28P01");
}
// The token is genuine but not acceptable here: issuer, audience, scopes, age (28000).
inline Status notAccepted(std::string message) {
  return Status::error(Code::kPermissionDenied, std::move(message), "28000");
}
// The keys needed to check the token cannot be obtained (28000, Code::kUnavailable).
inline Status keysUnavailable(std::string message) {
  return Status::error(Code::kUnavailable, std::move(message), "28000");
}

// Quotes an untrusted value for an error message: printable ASCII only, at most 120 characters.
std::string quoteUntrusted(std::string_view value);

}  // namespace jg::identity
