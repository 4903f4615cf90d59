#include "identity/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jg::identity {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Settings parse(const std::string& yaml, config::Errors& errors) {
  auto root = config::Node::parse(yaml, "gateway.yaml");
  EXPECT_TRUE(root.isOk());
  return parseSettings((*root)["identity"], errors);
}

TEST(SettingsTest, ParsesIssuersAndDurations) {
  config::Errors errors;
  Settings s = parse(R"(
identity:
  issuers:
    - issuer: https://idp.example
      audiences: [jitgate, https://jitgate.local/]
      groups_claim: realm_access.roles
      required_scopes: db.read
      max_token_age: 12h
      algorithms: [RS256, EdDSA]
    - issuer: http://127.0.0.1:9000
      audience: jitgate
      allow_insecure_http: true
      jwks_file: /etc/jitgate/jwks.json
  clock_skew: 30s
  jwks_refresh: 10m
  jwks_cache_dir: /var/lib/jitgate/jwks
)",
                     errors);
  ASSERT_TRUE(errors.empty()) << errors.joined();
  ASSERT_EQ(s.issuers.size(), 2u);
  EXPECT_THAT(s.issuers[0].audiences, ElementsAre("jitgate", "https://jitgate.local/"));
  EXPECT_EQ(s.issuers[0].groups_claim, "realm_access.roles");
  EXPECT_THAT(s.issuers[0].required_scopes, ElementsAre("db.read"));
  EXPECT_EQ(s.issuers[0].max_token_age, std::chrono::hours(12));
  EXPECT_THAT(s.issuers[0].algorithms, ElementsAre(Alg::kRS256, Alg::kEdDSA));
  EXPECT_TRUE(s.issuers[1].allow_insecure_http);
  EXPECT_EQ(s.issuers[1].jwks_file, "/etc/jitgate/jwks.json");
  EXPECT_EQ(s.clock_skew, std::chrono::seconds(30));
  EXPECT_EQ(s.jwks_refresh, std::chrono::minutes(10));
  EXPECT_EQ(s.jwks_cache_dir, "/var/lib/jitgate/jwks");
  EXPECT_EQ(settingsProblem(s), "");
}

TEST(SettingsTest, ReportsEveryProblemWithItsLocation) {
  config::Errors errors;
  parse(R"(
identity:
  issuers:
    - issuer: http://idp.example
      audiences: [jitgate]
    - audiences: [jitgate]
      algorithms: [HS256]
      colour: blue
  clock_skew: soon
)",
        errors);
  const std::string all = errors.joined();
  EXPECT_THAT(
      all,
      HasSubstr("gateway.yaml:4: identity.issuers[0]: issuer 'http://idp.example' is plain http"));
  EXPECT_THAT(all, HasSubstr("identity.issuers[1].issuer: required"));
  EXPECT_THAT(all, HasSubstr("unsupported algorithm 'HS256'"));
  EXPECT_THAT(all, HasSubstr("identity.issuers[1].colour: unknown key"));
  EXPECT_THAT(all, HasSubstr("identity.clock_skew: expected a duration"));
}

TEST(SettingsTest, AudienceAndIssuersAreRequired) {
  config::Errors errors;
  parse("identity:\n  issuers:\n    - issuer: https://idp.example\n", errors);
  EXPECT_THAT(errors.joined(), HasSubstr("at least one audience is required"));
  config::Errors missing;
  parse("other: 1\n", missing);
  EXPECT_THAT(missing.joined(), HasSubstr("identity section"));
}

TEST(SettingsTest, DuplicateIssuersAreRefused) {
  config::Errors errors;
  parse(R"(
identity:
  issuers:
    - { issuer: https://idp.example, audiences: [a] }
    - { issuer: https://idp.example, audiences: [b] }
)",
        errors);
  EXPECT_THAT(errors.joined(), HasSubstr("listed twice"));
}

}  // namespace
}  // namespace jg::identity
