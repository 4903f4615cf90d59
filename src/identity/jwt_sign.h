// Producing JWS tokens and JWKs: key generation, public JWK export and compact signing.
//
// The gateway itself only verifies; this is the other half, used by unit tests, benchmarks and
// tools that need real signed tokens (e.g. a local issuer for demos). Stateless; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "identity/jwk.h"

namespace jg::identity {

// A fresh key pair for `alg`: RSA (`rsa_bits`) for RS*/PS*, EC P-256/P-384 for ES*, Ed25519.
Result<PKeyPtr> generateKey(Alg alg, int rsa_bits = 2048);

// The public half of `key` as a JWK object with "kid" and (unless empty) "alg" and "use".
Result<boost::json::object> publicJwk(const PKeyPtr& key, std::string_view kid,
                                      std::string_view alg = {});

// The JWS signature over `input` as it goes into a token (ECDSA as raw R||S unless `ecdsa_der`).
Result<std::string> signBytes(Alg alg, const PKeyPtr& key, std::string_view input,
                              bool ecdsa_der = false);

// header.payload.signature; `header` gets "alg" (and "kid" when given) set.
Result<std::string> signJws(Alg alg, const PKeyPtr& key, std::string_view kid,
                            boost::json::object header, const boost::json::object& payload);

}  // namespace jg::identity
