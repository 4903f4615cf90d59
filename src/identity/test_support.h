// Test helpers for the identity module: a fake HTTP getter and a test issuer that owns real
// generated keys, serves discovery + JWKS through the fake, and signs tokens. Tests only.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "identity/jwk.h"
#include "identity/jwt_sign.h"
#include "identity/settings.h"
#include "net/http.h"

namespace jg::identity::testing {

class FakeHttp final : public net::HttpGetter {
 public:
  Result<net::HttpResponse> get(const std::string& url, std::chrono::milliseconds) override;
  void set(const std::string& url, int status, std::string body);
  void setDown(bool down) { down_ = down; }
  int calls(const std::string& url) const;
  int totalCalls() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, net::HttpResponse> responses_;
  std::map<std::string, int> calls_;
  bool down_ = false;
};

struct TestKey {
  std::string kid;
  Alg alg;
  PKeyPtr key;
};

// Keys are generated once per process and shared between tests (RSA generation is slow).
const TestKey& sharedKey(Alg alg);
const TestKey& weakRsaKey();  // 1024 bits

class TestIssuer {
 public:
  explicit TestIssuer(std::string issuer = "https://idp.test", std::string audience = "jitgate");

  const std::string& issuer() const { return issuer_; }
  std::string jwksUri() const { return issuer_ + "/jwks"; }
  // Publishes discovery and a JWKS with `keys` on `http`.
  void publish(FakeHttp& http, const std::vector<const TestKey*>& keys) const;
  static std::string jwksJson(const std::vector<const TestKey*>& keys);

  // Claims of a valid token at unix time `now`: iss, aud, sub, exp (now+1h), iat, nbf.
  boost::json::object claims(int64_t now) const;
  std::string sign(const TestKey& key, const boost::json::object& claims,
                   boost::json::object header = {}) const;

  IssuerSettings settings() const;

 private:
  std::string issuer_;
  std::string audience_;
};

// Replaces one segment (0 header, 1 payload, 2 signature) of a compact token.
std::string replacePart(const std::string& token, int index, const std::string& encoded);

}  // namespace jg::identity::testing
