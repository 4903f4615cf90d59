#include "identity/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json/parse.hpp>

#include "identity/base64url.h"
#include "identity/errors.h"

namespace jg::identity {
namespace {

Result<boost::json::object> decodePart(std::string_view text, std::string_view what) {
  auto bytes = base64UrlDecode(text);
  if (!bytes) {
    return invalidToken("malformed token: the " + std::string(what) + " is not valid base64url");
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*bytes, ec);
  if (ec || !v.is_object()) {
    return invalidToken("malformed token: the " + std::string(what) + " is not a JSON object");
  }
  return std::move(v.get_object());
}

Status checkHeader(const boost::json::object& header, Jws& jws) {
  const auto* alg = header.if_contains("alg");
  if (!alg || !alg->is_string()) {
    return invalidToken("malformed token: the header has no \"alg\"");
  }
  const std::string_view name = alg->get_string();
  if (name == "none" || name.empty()) {
    return invalidToken("unsigned tokens (alg \"none\") are refused");
  }
  if (name.starts_with("HS")) {
    return invalidToken("HMAC-signed tokens (alg " + quoteUntrusted(name) +
                        ") are refused: only asymmetric signatures from the issuer's keys count");
  }
  auto parsed = parseAlg(name);
  if (!parsed) {
    return invalidToken("unsupported signature algorithm " + quoteUntrusted(name));
  }
  jws.alg = *parsed;
  for (std::string_view forbidden : {"jku", "x5u", "jwk", "x5c"}) {
    if (header.contains(forbidden)) {
      return invalidToken("token header \"" + std::string(forbidden) +
                          "\" is refused: keys come only from the configured issuer");
    }
  }
  if (const auto* crit = header.if_contains("crit")) {
    std::string names;
    if (crit->is_array()) {
      for (const auto& c : crit->get_array()) {
        names += (names.empty() ? "" : ", ") +
                 (c.is_string() ? quoteUntrusted(c.get_string()) : std::string("?"));
      }
    }
    return invalidToken("token header lists critical extensions that are not understood: " +
                        (names.empty() ? std::string("(malformed crit)") : names));
  }
  if (const auto* kid = header.if_contains("kid")) {
    if (!kid->is_string()) {
      return invalidToken("malformed token: \"kid\" is not a string");
    }
    jws.kid = std::string(kid->get_string());
  }
  return Status::ok();
}

// JWS carries ECDSA signatures as fixed-size R‖S; OpenSSL verifies DER.
Result<std::string> ecdsaRawToDer(Alg alg, std::string_view raw) {
  const size_t half = alg == Alg::kES256 ? 32 : 48;
  if (raw.size() != 2 * half) {
    return invalidToken(std::string(algName(alg)) + " signature must be " +
                        std::to_string(2 * half) + " bytes (raw R||S), got " +
                        std::to_string(raw.size()));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(p, half, nullptr);
  BIGNUM* s = BN_bin2bn(p + half, half, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return internalError("cannot build an ECDSA signature");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) {
    return internalError("cannot encode an ECDSA signature");
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool isPss(Alg alg) {
  return alg == Alg::kPS256 || alg == Alg::kPS384 || alg == Alg::kPS512;
}

}  // namespace

Result<Jws> decodeJwsUnchecked(std::string_view token) {
  const size_t d1 = token.find('.');
  const size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return invalidToken("malformed token: expected three dot-separated parts (header.payload." +
                        std::string("signature)"));
  }
  auto header = decodePart(token.substr(0, d1), "header");
  if (!header) {
    return header.status();
  }
  auto payload = decodePart(token.substr(d1 + 1, d2 - d1 - 1), "payload");
  if (!payload) {
    return payload.status();
  }
  Jws jws;
  jws.header = std::move(*header);
  jws.payload = std::move(*payload);
  jws.signing_input = token.substr(0, d2);
  auto signature = base64UrlDecode(token.substr(d2 + 1));
  if (!signature) {
    return invalidToken("malformed token: the signature is not valid base64url");
  }
  jws.signature = std::move(*signature);
  return jws;
}

Result<Jws> decodeJws(std::string_view token, size_t max_bytes) {
  if (token.size() > max_bytes) {
    return invalidToken("token too large: " + std::to_string(token.size()) + " bytes (limit " +
                        std::to_string(max_bytes) + ")");
  }
  if (token.empty()) {
    return invalidToken("no token given");
  }
  auto jws = decodeJwsUnchecked(token);
  if (!jws) {
    return jws.status();
  }
  if (Status st = checkHeader(jws->header, *jws); !st) {
    return st;
  }
  if (jws->signature.empty()) {
    return invalidToken("malformed token: the signature is empty");
  }
  return jws;
}

Status verifyJws(const Jws& jws, const Jwk& key) {
  if (std::string why = key.unfitFor(jws.alg); !why.empty()) {
    return invalidToken(why);
  }
  std::string der;
  std::string_view sig = jws.signature;
  if (jws.alg == Alg::kES256 || jws.alg == Alg::kES384) {
    auto converted = ecdsaRawToDer(jws.alg, sig);
    if (!converted) {
      return converted.status();
    }
    der = std::move(*converted);
    sig = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx, &pctx, algDigest(jws.alg), nullptr, key.key.get()) == 1;
  if (ok && isPss(jws.alg)) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  const bool valid =
      ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(jws.signing_input.data()),
                             jws.signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!valid) {
    ERR_clear_error();  // a failed check leaves entries that would confuse later TLS calls
    return invalidToken("signature verification failed (" + std::string(algName(jws.alg)) +
                        ", kid=" + quoteUntrusted(key.kid) + ")");
  }
  return Status::ok();
}

}  // namespace jg::identity
