// Fuzzes the OIDC token parsers: the input is what a client sends as its password (a JWS compact
// token) or what an issuer serves as its JWKS. Each input goes through decodeJws with its header
// rules, the claim rules (checkClaims, at a fixed instant), signature verification against
// fixed P-256 and Ed25519 keys, the unchecked decoder of `token inspect`, and parseJwks. Strict
// base64url must round-trip: whatever decodes re-encodes to the same text.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "identity/base64url.h"
#include "identity/claims.h"
#include "identity/jwk.h"
#include "identity/jwt.h"

namespace {

using namespace jg::identity;

// Public keys only (the fuzzer cannot sign): P-256 and Ed25519 JWKs.
constexpr std::string_view kKeys = R"({"keys": [
  {"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig",
   "x": "wJ2ItzTcvheNAD-OOE-u_h0GmLcsbZj7jUWebiqzfJg",
   "y": "eW_8p9LVq-9IXUseft68JxbxosorK6Os3nZTmlITZEk"},
  {"kty": "OKP", "crv": "Ed25519", "kid": "ed",
   "x": "ahyzaSMTggxm3oHQfutPVfCdgB9q2a6l-coBXNvkUcA"}]})";

const std::vector<Jwk>& keys() {
  static const std::vector<Jwk> k = [] {
    auto set = parseJwks(kKeys);
    if (!set || set->keys.size() != 2) {
      std::abort();
    }
    return set->keys;
  }();
  return k;
}

IssuerSettings issuer() {
  IssuerSettings s;
  s.issuer = "https://idp.example.com";
  s.audiences = {"jitgate"};
  s.required_scopes = {"db"};
  s.max_token_age = std::chrono::hours(12);
  return s;
}

void checkToken(std::string_view token) {
  auto jws = decodeJws(token);
  if (jws) {
    for (const auto& key : keys()) {
      (void)verifyJws(*jws, key);
    }
    static const IssuerSettings settings = issuer();
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    (void)checkClaims(jws->payload, settings, std::chrono::seconds(60), now);
    (void)findClaim(jws->payload, "realm_access.roles");
  }
  (void)decodeJwsUnchecked(token);
}

void checkBase64(std::string_view text) {
  auto bytes = base64UrlDecode(text);
  if (bytes && base64UrlEncode(*bytes) != text) {
    std::abort();  // strict base64url has exactly one spelling per byte string
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  checkToken(in);
  auto set = parseJwks(in);
  if (set) {
    for (const auto& key : set->keys) {
      (void)key.unfitFor(Alg::kES256);
    }
  }
  checkBase64(in.substr(0, in.find('.')));
  return 0;
}
