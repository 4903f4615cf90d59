#include "identity/test_support.h"

#include <boost/json/serialize.hpp>
#include <stdexcept>

namespace jg::identity::testing {

Result<net::HttpResponse> FakeHttp::get(const std::string& url, std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  ++calls_[url];
  if (down_) {
    return Status::error(Code::kUnavailable, "cannot connect to " + url + ": Connection refused");
  }
  auto it = responses_.find(url);
  if (it == responses_.end()) {
    return net::HttpResponse{404, "text/plain", "not found"};
  }
  return it->second;
}

void FakeHttp::set(const std::string& url, int status, std::string body) {
  std::lock_guard lock(mu_);
  responses_[url] = net::HttpResponse{status, "application/json", std::move(body)};
}

int FakeHttp::calls(const std::string& url) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(url);
  return it == calls_.end() ? 0 : it->second;
}

int FakeHttp::totalCalls() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [url, count] : calls_) {
    n += count;
  }
  return n;
}

const TestKey& sharedKey(Alg alg) {
  static std::mutex mu;
  static std::map<Alg, TestKey> keys;
  std::lock_guard lock(mu);
  auto it = keys.find(alg);
  if (it == keys.end()) {
    auto key = generateKey(alg);
    if (!key) {
      throw std::runtime_error("key generation failed");
    }
    it = keys.emplace(alg, TestKey{"k-" + std::string(algName(alg)), alg, *key}).first;
  }
  return it->second;
}

const TestKey& weakRsaKey() {
  static const TestKey key{"k-weak", Alg::kRS256, *generateKey(Alg::kRS256, 1024)};
  return key;
}

TestIssuer::TestIssuer(std::string issuer, std::string audience)
    : issuer_(std::move(issuer)), audience_(std::move(audience)) {}

std::string TestIssuer::jwksJson(const std::vector<const TestKey*>& keys) {
  boost::json::array list;
  for (const auto* k : keys) {
    list.push_back(*publicJwk(k->key, k->kid, algName(k->alg)));
  }
  return boost::json::serialize(boost::json::object{{"keys", list}});
}

void TestIssuer::publish(FakeHttp& http, const std::vector<const TestKey*>& keys) const {
  boost::json::object discovery{{"issuer", issuer_}, {"jwks_uri", jwksUri()}};
  http.set(issuer_ + "/.well-known/openid-configuration", 200, boost::json::serialize(discovery));
  http.set(jwksUri(), 200, jwksJson(keys));
}

boost::json::object TestIssuer::claims(int64_t now) const {
  return boost::json::object{{"iss", issuer_},
                             {"aud", audience_},
                             {"sub", "alice"},
                             {"exp", now + 3600},
                             {"iat", now},
                             {"nbf", now},
                             {"email", "alice@example.com"},
                             {"groups", {"rag", "analysts"}}};
}

std::string TestIssuer::sign(const TestKey& key, const boost::json::object& claims,
                             boost::json::object header) const {
  auto token = signJws(key.alg, key.key, key.kid, std::move(header), claims);
  if (!token) {
    throw std::runtime_error("signing failed");
  }
  return *token;
}

IssuerSettings TestIssuer::settings() const {
  IssuerSettings s;
  s.issuer = issuer_;
  s.audiences = {audience_};
  return s;
}

std::string replacePart(const std::string& token, int index, const std::string& encoded) {
  const size_t d1 = token.find('.');
  const size_t d2 = token.find('.', d1 + 1);
  std::string parts[3] = {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1),
                          token.substr(d2 + 1)};
  parts[index] = encoded;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

}  // namespace jg::identity::testing
