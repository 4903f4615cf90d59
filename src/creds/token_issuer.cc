#include "creds/token_issuer.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "config/node.h"
#include "core/random.h"
#include "identity/base64url.h"
#include "identity/digest.h"
#include "identity/jwt_sign.h"

namespace jg::creds {
namespace {

using identity::Alg;

Result<Alg> algForKey(const identity::PKeyPtr& key) {
  const int id = EVP_PKEY_get_base_id(key.get());
  if (id == EVP_PKEY_ED25519) {
    return Alg::kEdDSA;
  }
  if (id == EVP_PKEY_EC && EVP_PKEY_get_bits(key.get()) == 256) {
    return Alg::kES256;
  }
  return invalidArgument("the token signing key must be Ed25519 or EC P-256");
}

std::string member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return boost::json::serialize(v && v->is_string() ? *v : boost::json::value(""));
}

}  // namespace

std::string jwkThumbprint(const boost::json::object& jwk) {
  std::string kty = jwk.contains("kty") && jwk.at("kty").is_string()
                        ? std::string(jwk.at("kty").as_string())
                        : "";
  std::string canonical;
  if (kty == "EC") {
    canonical = fmt::format(R"({{"crv":{},"kty":"EC","x":{},"y":{}}})", member(jwk, "crv"),
                            member(jwk, "x"), member(jwk, "y"));
  } else if (kty == "OKP") {
    canonical =
        fmt::format(R"({{"crv":{},"kty":"OKP","x":{}}})", member(jwk, "crv"), member(jwk, "x"));
  } else {
    canonical = fmt::format(R"({{"e":{},"kty":"RSA","n":{}}})", member(jwk, "e"), member(jwk, "n"));
  }
  return identity::base64UrlEncode(identity::sha256(canonical));
}

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::fromKey(identity::PKeyPtr key, std::string issuer,
                                                          const Clock& clock) {
  if (!key) {
    return invalidArgument("no token signing key");
  }
  auto alg = algForKey(key);
  if (!alg) {
    return alg.status();
  }
  auto jwk = identity::publicJwk(key, "");
  if (!jwk) {
    return jwk.status();
  }
  std::unique_ptr<TokenIssuer> t(new TokenIssuer(std::move(key), *alg, std::move(issuer), clock));
  t->kid_ = jwkThumbprint(*jwk);
  (*jwk)["kid"] = t->kid_;
  (*jwk)["alg"] = identity::algName(*alg);
  (*jwk)["use"] = "sig";
  t->jwks_ = boost::json::serialize(boost::json::object{{"keys", boost::json::array{*jwk}}});
  return t;
}

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::load(const std::string& key_file,
                                                       std::string issuer, const Clock& clock) {
  auto pem = config::readSecretFile(key_file, /*strict_mode=*/true);
  if (!pem) {
    return pem.status();
  }
  pem->push_back('\n');
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!raw) {
    return invalidArgument(fmt::format("{} does not hold a PEM private key", key_file));
  }
  return fromKey(identity::wrapKey(raw), std::move(issuer), clock);
}

Result<std::string> TokenIssuer::sign(std::string_view subject, std::string_view audience,
                                      std::chrono::seconds ttl) const {
  if (ttl <= std::chrono::seconds(0) || ttl > kMaxTokenTtl) {
    return invalidArgument(fmt::format("token lifetime must be 1-{} s", kMaxTokenTtl.count()));
  }
  if (subject.empty() || audience.empty()) {
    return invalidArgument("a token needs a subject and an audience");
  }
  const int64_t now = clock_.nowUnixSeconds();
  std::string jti(16, '\0');
  randomBytes(jti.data(), jti.size());
  boost::json::object payload{{"iss", issuer_},
                              {"sub", subject},
                              {"aud", audience},
                              {"iat", now},
                              {"nbf", now},
                              {"exp", now + ttl.count()},
                              {"jti", identity::base64UrlEncode(jti)}};
  return identity::signJws(alg_, key_, kid_, boost::json::object{{"typ", "JWT"}}, payload);
}

Status generateKeyFile(const std::string& path, identity::Alg alg) {
  if (alg != Alg::kEdDSA && alg != Alg::kES256) {
    return invalidArgument("token signing keys are EdDSA (Ed25519) or ES256 (P-256)");
  }
  auto key = identity::generateKey(alg);
  if (!key) {
    return key.status();
  }
  BIO* bio = BIO_new(BIO_s_secmem());  // wiped when freed
  if (!bio ||
      PEM_write_bio_PrivateKey(bio, key->get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    BIO_free(bio);
    return internalError("cannot encode the private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    BIO_free(bio);
    return invalidArgument(fmt::format("cannot create {}: {}", path,
                                       errno == EEXIST ? "it already exists" : strerror(errno)));
  }
  bool ok = ::write(fd, data, static_cast<size_t>(len)) == len;
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  BIO_free(bio);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::error(Code::kUnavailable, fmt::format("cannot write {}", path));
  }
  return Status::ok();
}

}  // namespace jg::creds
