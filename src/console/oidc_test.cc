#include "console/oidc.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "console/web.h"
#include "identity/base64url.h"

namespace jg::console {
namespace {

namespace json = boost::json;

constexpr const char* kIssuer = "https://idp.test";

// An unsigned token with the given payload; the fake verifiers below stand in for signatures.
std::string token(const json::object& payload) {
  return identity::base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." +
         identity::base64UrlEncode(json::serialize(payload)) + "." +
         identity::base64UrlEncode("sig");
}

struct Fixture {
  std::vector<net::HttpRequest> sent;
  std::map<std::string, net::HttpResponse> answers;  // by URL
  std::string id_nonce;
  std::string id_subject = "alice";
  bool refuse_id = false;

  Fixture() {
    answers[std::string(kIssuer) + "/.well-known/openid-configuration"] = {
        200, "application/json",
        R"({"issuer":"https://idp.test","authorization_endpoint":"https://idp.test/auth",
            "token_endpoint":"https://idp.test/token"})"};
  }

  OidcClient client() {
    Settings s;
    s.client_id = "console";
    s.redirect_url = "https://gw.test/console/callback";
    s.resource = "https://jitgate.test/";
    return OidcClient(OidcClientOptions{
        .settings = s,
        .issuer = kIssuer,
        .http = [this](const net::HttpRequest& r) -> Result<net::HttpResponse> {
          sent.push_back(r);
          if (auto it = answers.find(r.url); it != answers.end()) {
            return it->second;
          }
          return net::HttpResponse{404, "text/plain", "no"};
        },
        .verify_id = [this](std::string_view) -> Result<identity::Identity> {
          if (refuse_id) {
            return Status::error(Code::kPermissionDenied, "audience is not console");
          }
          identity::Identity who;
          who.subject = id_subject;
          return who;
        },
        .verify_access = [](std::string_view t) -> Result<identity::Identity> {
          identity::Identity who;
          who.subject = "alice";
          who.groups = {std::string(t.substr(0, 3))};
          return who;
        }});
  }

  void tokenEndpointAnswers(const std::string& nonce) {
    json::object body{{"access_token", "dba-token"},
                      {"id_token", token({{"sub", "alice"}, {"nonce", nonce}})}};
    answers["https://idp.test/token"] = {200, "application/json", json::serialize(body)};
  }
};

PendingLogin login() {
  return PendingLogin{
      .state = "st", .nonce = "n-1", .code_verifier = randomToken(48), .expires_at = {}};
}

TEST(ConsoleOidc, AuthorizationUrlCarriesStateNonceAndS256Challenge) {
  Fixture f;
  auto c = f.client();
  auto p = login();
  auto url = c.authorizationUrl(p);
  ASSERT_TRUE(url) << url.status().message();
  EXPECT_TRUE(url->starts_with("https://idp.test/auth?response_type=code&client_id=console"));
  EXPECT_NE(url->find("&state=st&nonce=n-1&code_challenge=" + pkceChallenge(p.code_verifier)),
            std::string::npos);
  EXPECT_NE(url->find("code_challenge_method=S256"), std::string::npos);
  EXPECT_EQ(url->find(p.code_verifier), std::string::npos);
}

TEST(ConsoleOidc, DiscoveryNamingAnotherIssuerIsRefused) {
  Fixture f;
  f.answers[std::string(kIssuer) + "/.well-known/openid-configuration"].body =
      R"({"issuer":"https://evil.test","authorization_endpoint":"a","token_endpoint":"t"})";
  auto c = f.client();
  EXPECT_FALSE(c.authorizationUrl(login()));
}

TEST(ConsoleOidc, CodeIsExchangedWithTheVerifierAndTheAccessTokensIdentityIsReturned) {
  Fixture f;
  f.tokenEndpointAnswers("n-1");
  auto c = f.client();
  auto p = login();
  auto who = c.completeSignIn("the-code", p);
  ASSERT_TRUE(who) << who.status().message();
  EXPECT_EQ(who->subject, "alice");
  EXPECT_EQ(who->groups, std::vector<std::string>{"dba"});
  const auto& post = f.sent.back();
  EXPECT_EQ(post.method, "POST");
  EXPECT_NE(post.body.find("grant_type=authorization_code&code=the-code"), std::string::npos);
  EXPECT_NE(post.body.find("code_verifier=" + p.code_verifier), std::string::npos);
}

TEST(ConsoleOidc, IdTokenWithAnotherNonceIsRefused) {
  Fixture f;
  f.tokenEndpointAnswers("replayed");
  auto c = f.client();
  auto who = c.completeSignIn("the-code", login());
  ASSERT_FALSE(who);
  EXPECT_NE(who.status().message().find("nonce"), std::string::npos);
}

TEST(ConsoleOidc, IdTokenRefusedByTheVerifierIsRefused) {
  Fixture f;
  f.tokenEndpointAnswers("n-1");
  f.refuse_id = true;
  auto c = f.client();
  auto who = c.completeSignIn("the-code", login());
  ASSERT_FALSE(who);
  EXPECT_EQ(who.status().code(), Code::kPermissionDenied);
}

TEST(ConsoleOidc, TokensOfDifferentSubjectsAreRefused) {
  Fixture f;
  f.tokenEndpointAnswers("n-1");
  f.id_subject = "mallory";
  auto c = f.client();
  EXPECT_FALSE(c.completeSignIn("the-code", login()));
}

TEST(ConsoleOidc, TokenEndpointErrorIsReportedWithoutTheCode) {
  Fixture f;
  f.answers["https://idp.test/token"] = {400, "application/json", R"({"error":"invalid_grant"})"};
  auto c = f.client();
  auto who = c.completeSignIn("secret-code", login());
  ASSERT_FALSE(who);
  EXPECT_NE(who.status().message().find("invalid_grant"), std::string::npos);
  EXPECT_EQ(who.status().message().find("secret-code"), std::string::npos);
}

}  // namespace
}  // namespace jg::console
