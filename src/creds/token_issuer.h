// TokenIssuer: short-lived JWTs that let the gateway call HTTP upstreams on behalf of a caller.
//
// Tokens are signed with the gateway's own key (Ed25519 → EdDSA, or EC P-256 → ES256) and carry
// iss, sub (the caller), aud (the upstream), iat, nbf, exp (at most 60 s ahead) and a unique jti.
// Upstreams verify them with the public key the gateway publishes as a JWKS at
// /.well-known/jwks.json on its admin listener (jwksJson() is that document; the key id is the
// RFC 7638 thumbprint). The private key lives in a PEM file made by `jitgate creds keygen`.
// Immutable after construction; thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "identity/jwk.h"

namespace jg::creds {

inline constexpr std::chrono::seconds kMaxTokenTtl{60};

class TokenIssuer {
 public:
  // `issuer` becomes the iss claim (e.g. the gateway's external URL).
  static Result<std::unique_ptr<TokenIssuer>> fromKey(identity::PKeyPtr key, std::string issuer,
                                                      const Clock& clock);
  // Loads a PEM private key (PKCS#8). Refuses files readable by group or others.
  static Result<std::unique_ptr<TokenIssuer>> load(const std::string& key_file, std::string issuer,
                                                   const Clock& clock);

  // A compact JWS. REQUIRES: 0 < ttl <= kMaxTokenTtl, subject and audience non-empty.
  Result<std::string> sign(std::string_view subject, std::string_view audience,
                           std::chrono::seconds ttl = kMaxTokenTtl) const;

  // {"keys":[<public JWK with kid, alg, use>]}
  const std::string& jwksJson() const { return jwks_; }
  const std::string& kid() const { return kid_; }
  identity::Alg alg() const { return alg_; }

 private:
  TokenIssuer(identity::PKeyPtr key, identity::Alg alg, std::string issuer, const Clock& clock)
      : key_(std::move(key)), alg_(alg), issuer_(std::move(issuer)), clock_(clock) {}

  identity::PKeyPtr key_;
  identity::Alg alg_;
  std::string issuer_;
  const Clock& clock_;
  std::string kid_;
  std::string jwks_;
};

// Writes a new private key (EdDSA: Ed25519, ES256: P-256) as PEM PKCS#8 with mode 0600.
// Refuses to overwrite an existing file.
Status generateKeyFile(const std::string& path, identity::Alg alg);

// The RFC 7638 JWK thumbprint (base64url SHA-256 of the required members, sorted, compact).
std::string jwkThumbprint(const boost::json::object& public_jwk);

}  // namespace jg::creds
