#include "identity/jwt_sign.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json/serialize.hpp>

#include "identity/base64url.h"

namespace jg::identity {
namespace {

std::string bnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    return {};
  }
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

Result<std::string> derToRaw(std::string_view der, size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) {
    return internalError("cannot decode an ECDSA signature");
  }
  std::string out(2 * half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, half) == static_cast<int>(half) &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + half, half) == static_cast<int>(half);
  ECDSA_SIG_free(sig);
  return ok ? Result<std::string>(out) : internalError("ECDSA signature does not fit");
}

}  // namespace

Result<PKeyPtr> generateKey(Alg alg, int rsa_bits) {
  EVP_PKEY* key = nullptr;
  switch (alg) {
    case Alg::kES256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kES384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case Alg::kEdDSA:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    default:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
      break;
  }
  if (!key) {
    return internalError("key generation failed");
  }
  return wrapKey(key);
}

Result<boost::json::object> publicJwk(const PKeyPtr& key, std::string_view kid,
                                      std::string_view alg) {
  boost::json::object jwk;
  const int id = EVP_PKEY_get_base_id(key.get());
  if (id == EVP_PKEY_RSA) {
    jwk["kty"] = "RSA";
    jwk["n"] = base64UrlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = base64UrlEncode(bnParam(key.get(), OSSL_PKEY_PARAM_RSA_E));
  } else if (id == EVP_PKEY_EC) {
    const bool p256 = EVP_PKEY_get_bits(key.get()) == 256;
    const size_t coord = p256 ? 32 : 48;
    std::string x(coord, '\0'), y(coord, '\0');
    BIGNUM* bx = nullptr;
    BIGNUM* by = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &bx);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &by);
    BN_bn2binpad(bx, reinterpret_cast<unsigned char*>(x.data()), coord);
    BN_bn2binpad(by, reinterpret_cast<unsigned char*>(y.data()), coord);
    BN_free(bx);
    BN_free(by);
    jwk["kty"] = "EC";
    jwk["crv"] = p256 ? "P-256" : "P-384";
    jwk["x"] = base64UrlEncode(x);
    jwk["y"] = base64UrlEncode(y);
  } else if (id == EVP_PKEY_ED25519) {
    std::string x(32, '\0');
    size_t len = x.size();
    EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(x.data()), &len);
    jwk["kty"] = "OKP";
    jwk["crv"] = "Ed25519";
    jwk["x"] = base64UrlEncode(x);
  } else {
    return invalidArgument("unsupported key type");
  }
  jwk["kid"] = kid;
  if (!alg.empty()) {
    jwk["alg"] = alg;
    jwk["use"] = "sig";
  }
  return jwk;
}

Result<std::string> signBytes(Alg alg, const PKeyPtr& key, std::string_view input, bool ecdsa_der) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, algDigest(alg), nullptr, key.get()) == 1;
  if (ok && (alg == Alg::kPS256 || alg == Alg::kPS384 || alg == Alg::kPS512)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  ok = ok && EVP_DigestSign(ctx, nullptr, &len, in, input.size()) == 1;
  std::string sig(len, '\0');
  ok = ok && EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                            input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    return internalError("signing failed");
  }
  sig.resize(len);
  if ((alg == Alg::kES256 || alg == Alg::kES384) && !ecdsa_der) {
    return derToRaw(sig, alg == Alg::kES256 ? 32 : 48);
  }
  return sig;
}

Result<std::string> signJws(Alg alg, const PKeyPtr& key, std::string_view kid,
                            boost::json::object header, const boost::json::object& payload) {
  header["alg"] = algName(alg);
  if (!kid.empty()) {
    header["kid"] = kid;
  }
  std::string input = base64UrlEncode(boost::json::serialize(header)) + "." +
                      base64UrlEncode(boost::json::serialize(payload));
  auto sig = signBytes(alg, key, input);
  if (!sig) {
    return sig.status();
  }
  return input + "." + base64UrlEncode(*sig);
}

}  // namespace jg::identity
