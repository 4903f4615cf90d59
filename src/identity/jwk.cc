#include "identity/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <boost/json/parse.hpp>

#include "identity/base64url.h"
#include "identity/errors.h"

namespace jg::identity {
namespace {

constexpr std::array<std::pair<Alg, std::string_view>, 9> kAlgNames = {{
    {Alg::kRS256, "RS256"},
    {Alg::kRS384, "RS384"},
    {Alg::kRS512, "RS512"},
    {Alg::kPS256, "PS256"},
    {Alg::kPS384, "PS384"},
    {Alg::kPS512, "PS512"},
    {Alg::kES256, "ES256"},
    {Alg::kES384, "ES384"},
    {Alg::kEdDSA, "EdDSA"},
}};

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::string memberString(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

Result<std::string> memberBytes(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) {
    return invalidArgument("JWK member '" + std::string(key) + "' is missing");
  }
  auto bytes = base64UrlDecode(v->get_string());
  if (!bytes || bytes->empty()) {
    return invalidArgument("JWK member '" + std::string(key) + "' is not base64url");
  }
  return *bytes;
}

Result<PKeyPtr> keyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  const bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
                  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) {
    ERR_clear_error();
    return invalidArgument(std::string("JWK is not a valid ") + type + " public key");
  }
  return wrapKey(key);
}

Status rsaKey(const boost::json::object& o, Jwk& jwk) {
  auto n = memberBytes(o, "n");
  auto e = memberBytes(o, "e");
  if (!n || !e) {
    return n ? e.status() : n.status();
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), n->size(), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), e->size(), nullptr));
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    OSSL_PARAM_BLD_free(bld);
    return internalError("cannot build RSA key parameters");
  }
  auto key = keyFromParams("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!key) {
    return key.status();
  }
  jwk.bits = EVP_PKEY_get_bits(key->get());
  jwk.key = std::move(*key);
  return Status::ok();
}

Status ecKey(const boost::json::object& o, Jwk& jwk) {
  size_t coord = 0;
  const char* group = nullptr;
  if (jwk.crv == "P-256") {
    coord = 32;
    group = "prime256v1";
  } else if (jwk.crv == "P-384") {
    coord = 48;
    group = "secp384r1";
  } else {
    return invalidArgument("unsupported EC curve '" + quoteUntrusted(jwk.crv) + "'");
  }
  auto x = memberBytes(o, "x");
  auto y = memberBytes(o, "y");
  if (!x || !y) {
    return x ? y.status() : x.status();
  }
  if (x->size() != coord || y->size() != coord) {
    return invalidArgument("EC key coordinates have the wrong length for " + jwk.crv);
  }
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
    OSSL_PARAM_BLD_free(bld);
    return internalError("cannot build EC key parameters");
  }
  auto key = keyFromParams("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!key) {
    return key.status();
  }
  // Reject points that are not on the curve (invalid-curve attacks).
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr);
  const bool on_curve = check && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!on_curve) {
    ERR_clear_error();
    return invalidArgument("EC key point is not on " + jwk.crv);
  }
  jwk.key = std::move(*key);
  return Status::ok();
}

Status okpKey(const boost::json::object& o, Jwk& jwk) {
  if (jwk.crv != "Ed25519") {
    return invalidArgument("unsupported OKP curve '" + quoteUntrusted(jwk.crv) + "'");
  }
  auto x = memberBytes(o, "x");
  if (!x) {
    return x.status();
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (!key) {
    ERR_clear_error();
    return invalidArgument("JWK is not a valid Ed25519 public key");
  }
  jwk.key = wrapKey(key);
  return Status::ok();
}

}  // namespace

std::optional<Alg> parseAlg(std::string_view name) {
  for (const auto& [alg, text] : kAlgNames) {
    if (text == name) {
      return alg;
    }
  }
  return std::nullopt;
}

std::string_view algName(Alg alg) {
  return kAlgNames[static_cast<size_t>(alg)].second;
}

const EVP_MD* algDigest(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
    case Alg::kES256:
      return EVP_sha256();
    case Alg::kRS384:
    case Alg::kPS384:
    case Alg::kES384:
      return EVP_sha384();
    case Alg::kRS512:
    case Alg::kPS512:
      return EVP_sha512();
    case Alg::kEdDSA:
      return nullptr;
  }
  return nullptr;
}

PKeyPtr wrapKey(EVP_PKEY* key) {
  return PKeyPtr(key, EVP_PKEY_free);
}

std::string quoteUntrusted(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, 120)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (value.size() > 120) {
    out += "...";
  }
  return out;
}

std::string Jwk::unfitFor(Alg a) const {
  const std::string name(algName(a));
  std::string needed;
  switch (a) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
    case Alg::kPS256:
    case Alg::kPS384:
    case Alg::kPS512:
      needed = kty == "RSA" ? "" : "an RSA key";
      break;
    case Alg::kES256:
      needed = kty == "EC" && crv == "P-256" ? "" : "an EC P-256 key";
      break;
    case Alg::kES384:
      needed = kty == "EC" && crv == "P-384" ? "" : "an EC P-384 key";
      break;
    case Alg::kEdDSA:
      needed = kty == "OKP" && crv == "Ed25519" ? "" : "an Ed25519 key";
      break;
  }
  const std::string which = "signing key kid=" + kid;
  if (!needed.empty()) {
    return name + " needs " + needed + " but " + which + " is " + kty +
           (crv.empty() ? "" : " " + crv);
  }
  if (!alg.empty() && alg != name) {
    return which + " is for " + quoteUntrusted(alg) + ", not " + name;
  }
  if (!use.empty() && use != "sig") {
    return which + " is not a signature key (use=" + quoteUntrusted(use) + ")";
  }
  if (kty == "RSA" && bits < kMinRsaBits) {
    return which + " is a " + std::to_string(bits) + "-bit RSA key; at least " +
           std::to_string(kMinRsaBits) + " bits are required";
  }
  return {};
}

Result<Jwk> parseJwk(const boost::json::object& o) {
  Jwk jwk;
  jwk.kid = memberString(o, "kid");
  jwk.kty = memberString(o, "kty");
  jwk.crv = memberString(o, "crv");
  jwk.alg = memberString(o, "alg");
  jwk.use = memberString(o, "use");
  Status st;
  if (jwk.kty == "RSA") {
    st = rsaKey(o, jwk);
  } else if (jwk.kty == "EC") {
    st = ecKey(o, jwk);
  } else if (jwk.kty == "OKP") {
    st = okpKey(o, jwk);
  } else {
    st = invalidArgument("key type '" + quoteUntrusted(jwk.kty) + "' is not an accepted " +
                         "signature key type");
  }
  if (!st) {
    return st;
  }
  return jwk;
}

Result<JwkSet> parseJwks(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) {
    return invalidArgument("JWKS is not a JSON object");
  }
  const auto* keys = doc.get_object().if_contains("keys");
  if (!keys || !keys->is_array()) {
    return invalidArgument("JWKS has no \"keys\" array");
  }
  JwkSet set;
  for (const auto& item : keys->get_array()) {
    if (!item.is_object()) {
      set.skipped.push_back("a JWKS entry is not an object");
      continue;
    }
    auto jwk = parseJwk(item.get_object());
    if (jwk) {
      set.keys.push_back(std::move(*jwk));
    } else {
      set.skipped.push_back("kid=" + quoteUntrusted(memberString(item.get_object(), "kid")) + ": " +
                            jwk.status().message());
    }
  }
  return set;
}

}  // namespace jg::identity
