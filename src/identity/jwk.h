// JSON Web Keys (RFC 7517/7518/8037) → OpenSSL public keys, and the JWS algorithms we accept.
//
// Only asymmetric signature keys are built: RSA (n, e), EC P-256/P-384 (x, y) and OKP Ed25519 (x).
// Symmetric ("oct") keys, encryption keys and unknown types in a JWKS are skipped with a note,
// never used. A Jwk is immutable once parsed and its key may be shared by many threads for
// verification.
#pragma once

#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jg::identity {

// The JWS `alg` values jitgate verifies. `none` and HMAC are deliberately absent.
enum class Alg { kRS256, kRS384, kRS512, kPS256, kPS384, kPS512, kES256, kES384, kEdDSA };

std::optional<Alg> parseAlg(std::string_view name);
std::string_view algName(Alg alg);
// The message digest the algorithm signs with; nullptr for EdDSA (which hashes internally).
const EVP_MD* algDigest(Alg alg);

using PKeyPtr = std::shared_ptr<EVP_PKEY>;
PKeyPtr wrapKey(EVP_PKEY* key);  // takes ownership

constexpr int kMinRsaBits = 2048;

struct Jwk {
  std::string kid;  // may be empty
  std::string kty;  // RSA, EC, OKP
  std::string crv;  // P-256, P-384, Ed25519; empty for RSA
  std::string alg;  // as stated by the JWK; may be empty
  std::string use;  // as stated by the JWK; may be empty
  int bits = 0;     // RSA modulus size
  PKeyPtr key;

  // Empty when this key may verify `alg`; otherwise why not (key type or curve does not match,
  // the JWK names another alg, the key is not for signatures, the RSA key is too short).
  std::string unfitFor(Alg alg) const;
};

Result<Jwk> parseJwk(const boost::json::object& jwk);

struct JwkSet {
  std::vector<Jwk> keys;
  std::vector<std::string> skipped;  // one note per key that was not loaded, and why
};

// Parses a JWKS document ({"keys": [...]}). Fails only when the document itself is malformed.
Result<JwkSet> parseJwks(std::string_view json);

}  // namespace jg::identity
