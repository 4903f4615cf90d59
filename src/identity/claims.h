// Claim rules for a token whose signature has been verified, and the Identity they yield.
//
// Rules: `iss` equals the issuer exactly; `aud` (string or array) contains a configured audience;
// `exp` is required; `nbf` and `iat` are honoured with the clock skew; an optional maximum token
// age; optional required scopes (`scope` string or `scp` array). Stateless and thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>

#include "core/status.h"
#include "identity/identity.h"
#include "identity/settings.h"

namespace jg::identity {

struct CheckedClaims {
  Identity identity;  // token_hash is left empty for the caller to fill
  // The last instant at which these claims still pass (expiry or maximum age, plus skew).
  std::chrono::system_clock::time_point valid_until;
};

Result<CheckedClaims> checkClaims(const boost::json::object& claims, const IssuerSettings& issuer,
                                  std::chrono::seconds skew,
                                  std::chrono::system_clock::time_point now);

// Follows a claim path: the literal name first (namespaced claims such as
// "https://example.com/groups" contain dots), then dot-separated nested objects
// ("realm_access.roles"). Returns nullptr when absent.
const boost::json::value* findClaim(const boost::json::object& claims, std::string_view path);

}  // namespace jg::identity
