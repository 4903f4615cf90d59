#include "identity/claims.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace jg::identity {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

class ClaimsTest : public ::testing::Test {
 protected:
  ClaimsTest() {
    issuer_.issuer = "https://idp.test";
    issuer_.audiences = {"jitgate"};
    claims_ = {{"iss", "https://idp.test"}, {"aud", "jitgate"}, {"sub", "alice"},
               {"exp", kNow + 600},         {"iat", kNow - 10}, {"nbf", kNow - 10}};
  }
  Result<CheckedClaims> check(int64_t now = kNow) {
    return checkClaims(claims_, issuer_, std::chrono::seconds(60),
                       std::chrono::system_clock::time_point(std::chrono::seconds(now)));
  }
  std::string refusal(int64_t now = kNow) {
    auto r = check(now);
    EXPECT_FALSE(r.isOk());
    return r.isOk() ? std::string() : r.status().message();
  }
  IssuerSettings issuer_;
  boost::json::object claims_;
};

TEST_F(ClaimsTest, AcceptsAValidTokenAndReportsItsExpiry) {
  auto r = check();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->identity.subject, "alice");
  EXPECT_EQ(r->identity.issuer, "https://idp.test");
  EXPECT_EQ(r->identity.expires_at,
            std::chrono::system_clock::time_point(std::chrono::seconds(kNow + 600)));
  EXPECT_EQ(r->valid_until, r->identity.expires_at + std::chrono::seconds(60));
  EXPECT_FALSE(r->identity.service_account);
}

TEST_F(ClaimsTest, ExpiryIsRequired) {
  claims_.erase("exp");
  EXPECT_THAT(refusal(), HasSubstr("no expiry"));
}

TEST_F(ClaimsTest, ExpiredTokenIsRefusedOnlyAfterTheSkew) {
  claims_["exp"] = kNow - 59;
  EXPECT_TRUE(check().isOk());
  claims_["exp"] = kNow - 61;
  EXPECT_EQ(refusal(), "token expired at 2027-01-15T07:58:59Z");
  EXPECT_EQ(check().status().sqlstate(), "28P01");
}

TEST_F(ClaimsTest, DatesTheClockCannotHoldAreRefusedAsMalformed) {
  claims_["exp"] = int64_t{9'799'990'000};  // beyond the year 2262 in nanoseconds
  EXPECT_THAT(refusal(), HasSubstr("\"exp\" is not a date between 1970 and 2200"));
  claims_["exp"] = kNow + 600;
  claims_["iat"] = 1e14;
  EXPECT_THAT(refusal(), HasSubstr("\"iat\" is not a date"));
  claims_["iat"] = int64_t{-1};
  EXPECT_THAT(refusal(), HasSubstr("\"iat\" is not a date"));
  claims_["iat"] = kNow - 10;
  claims_["exp"] = int64_t{7'258'118'400};  // 2200-01-01: still accepted
  EXPECT_TRUE(check().isOk());
}

TEST_F(ClaimsTest, NotBeforeInTheFutureIsRefusedBeyondTheSkew) {
  claims_["nbf"] = kNow + 50;
  EXPECT_TRUE(check().isOk());
  claims_["nbf"] = kNow + 120;
  EXPECT_THAT(refusal(), HasSubstr("not valid before 2027-01-15T08:02:00Z"));
}

TEST_F(ClaimsTest, IssuedInTheFutureIsRefused) {
  claims_["iat"] = kNow + 3600;
  EXPECT_THAT(refusal(), HasSubstr("issued in the future"));
}

TEST_F(ClaimsTest, NonNumericDatesAreMalformed) {
  claims_["exp"] = "tomorrow";
  EXPECT_THAT(refusal(), HasSubstr("\"exp\" is not a NumericDate"));
}

TEST_F(ClaimsTest, FractionalDatesAreAccepted) {
  claims_["exp"] = static_cast<double>(kNow) + 100.5;
  EXPECT_TRUE(check().isOk());
}

TEST_F(ClaimsTest, AudienceMayBeAListAndMustContainAConfiguredOne) {
  claims_["aud"] = {"other", "jitgate"};
  EXPECT_TRUE(check().isOk());
  claims_["aud"] = {"other", "another"};
  EXPECT_EQ(refusal(), "audience mismatch: expected jitgate, token is for other, another");
  EXPECT_EQ(check().status().sqlstate(), "28000");
  claims_.erase("aud");
  EXPECT_THAT(refusal(), HasSubstr("token is for no audience"));
}

TEST_F(ClaimsTest, AnyOfSeveralConfiguredAudiencesIsEnough) {
  issuer_.audiences = {"https://jitgate.local/", "jitgate"};
  EXPECT_TRUE(check().isOk());
}

TEST_F(ClaimsTest, IssuerMustMatchExactly) {
  claims_["iss"] = "https://idp.test/";
  EXPECT_THAT(refusal(), HasSubstr("issuer mismatch"));
}

TEST_F(ClaimsTest, SubjectIsRequired) {
  claims_.erase("sub");
  EXPECT_THAT(refusal(), HasSubstr("no subject"));
}

TEST_F(ClaimsTest, MaximumAgeLimitsOldTokensAndShortensValidity) {
  issuer_.max_token_age = std::chrono::seconds(300);
  claims_["iat"] = kNow - 200;
  auto r = check();
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->valid_until,
            std::chrono::system_clock::time_point(std::chrono::seconds(kNow + 160)));
  claims_["iat"] = kNow - 400;
  EXPECT_THAT(refusal(), HasSubstr("too old: issued at"));
  claims_.erase("iat");
  EXPECT_THAT(refusal(), HasSubstr("no issue time"));
}

TEST_F(ClaimsTest, RequiredScopesComeFromScopeOrScp) {
  issuer_.required_scopes = {"db.read"};
  EXPECT_EQ(refusal(), "token lacks the required scope db.read");
  claims_["scope"] = "openid  db.read";
  auto r = check();
  ASSERT_TRUE(r.isOk());
  EXPECT_THAT(r->identity.scopes, ElementsAre("openid", "db.read"));
  claims_.erase("scope");
  claims_["scp"] = {"db.read"};
  EXPECT_TRUE(check().isOk());
}

TEST_F(ClaimsTest, GroupsFollowANestedClaimPath) {
  issuer_.groups_claim = "realm_access.roles";
  claims_["realm_access"] = {{"roles", {"rag", "admins"}}};
  EXPECT_THAT(check()->identity.groups, ElementsAre("rag", "admins"));
  issuer_.groups_claim = "realm_access.missing.roles";
  EXPECT_TRUE(check()->identity.groups.empty());
}

TEST_F(ClaimsTest, NamespacedClaimNamesWithDotsAreFoundLiterally) {
  issuer_.groups_claim = "https://example.com/groups";
  claims_["https://example.com/groups"] = {"finance"};
  EXPECT_THAT(check()->identity.groups, ElementsAre("finance"));
}

TEST_F(ClaimsTest, ASingleStringGroupIsOneGroup) {
  claims_["groups"] = "rag";
  EXPECT_THAT(check()->identity.groups, ElementsAre("rag"));
}

TEST_F(ClaimsTest, PersonClaimsAreExtracted) {
  claims_["email"] = "alice@example.com";
  claims_["name"] = "Alice Liddell";
  claims_["azp"] = "cli";
  auto id = check()->identity;
  EXPECT_EQ(id.email, "alice@example.com");
  EXPECT_EQ(id.name, "Alice Liddell");
  EXPECT_EQ(id.client_id, "cli");
  EXPECT_FALSE(id.service_account);
  EXPECT_EQ(id.display(), "alice@example.com");
}

TEST_F(ClaimsTest, ClientCredentialsTokensAreServiceAccounts) {
  claims_["sub"] = "rag-pipeline";
  claims_["client_id"] = "rag-pipeline";
  auto id = check()->identity;
  EXPECT_TRUE(id.service_account);
  EXPECT_EQ(id.client_id, "rag-pipeline");
}

}  // namespace
}  // namespace jg::identity
