// JWS compact tokens: structural decoding with the header rules, and signature verification.
//
// decodeJws() never trusts anything: it enforces a size limit, exactly three base64url segments,
// JSON objects for header and payload, a supported asymmetric `alg` (never `none` or HMAC) and no
// header that would let the token choose its own key (`jku`, `x5u`, `jwk`, `x5c`) or demand
// extensions we do not implement (`crit`). verifyJws() checks the signature against one key after
// checking that the key fits the algorithm. Both are stateless and thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "identity/jwk.h"

namespace jg::identity {

constexpr size_t kDefaultMaxTokenBytes = 16 * 1024;

struct Jws {
  boost::json::object header;
  boost::json::object payload;
  Alg alg = Alg::kRS256;
  std::string kid;                 // empty when the header has none
  std::string_view signing_input;  // points into the token passed to decodeJws
  std::string signature;           // decoded bytes
};

// REQUIRES: `token` outlives the returned Jws (signing_input points into it).
Result<Jws> decodeJws(std::string_view token, size_t max_bytes = kDefaultMaxTokenBytes);

// Decodes header and payload without enforcing any rule; for diagnostics only (token inspect).
Result<Jws> decodeJwsUnchecked(std::string_view token);

// Checks that `key` fits the token's algorithm, then the signature.
Status verifyJws(const Jws& jws, const Jwk& key);

}  // namespace jg::identity
