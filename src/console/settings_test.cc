#include "console/settings.h"

#include <gtest/gtest.h>

namespace jg::console {
namespace {

Settings parsed(const std::string& yaml, std::string& errors_out) {
  auto root = config::Node::parse(yaml, "gw.yaml");
  EXPECT_TRUE(root.isOk());
  config::Errors errors;
  Settings s = parseSettings((*root)["console"], errors);
  errors_out = errors.empty() ? std::string() : errors.joined();
  return s;
}

TEST(ConsoleSettings, RedirectUrlMustBeHttpsOrLoopbackHttpAndEndInTheCallback) {
  EXPECT_EQ(redirectUrlProblem("https://gw.example:8443/console/callback"), "");
  EXPECT_EQ(redirectUrlProblem("http://127.0.0.1:8080/console/callback"), "");
  EXPECT_EQ(redirectUrlProblem("http://localhost:8080/console/callback"), "");
  EXPECT_NE(redirectUrlProblem("http://gw.example/console/callback"), "");
  EXPECT_NE(redirectUrlProblem("https://gw.example/elsewhere"), "");
  EXPECT_NE(redirectUrlProblem("https://user@gw.example/console/callback"), "");
  EXPECT_NE(redirectUrlProblem("gw.example/console/callback"), "");
}

TEST(ConsoleSettings, OriginIsTheRedirectUrlsSchemeHostAndPort) {
  Settings s;
  s.redirect_url = "https://gw.example:8443/console/callback";
  EXPECT_EQ(s.origin(), "https://gw.example:8443");
}

TEST(ConsoleSettings, SectionParsesWithDefaults) {
  std::string errors;
  auto s = parsed(
      "console: { client_id: jg, redirect_url: 'https://gw.example/console/callback' }\n", errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(s.client_id, "jg");
  EXPECT_EQ(s.session_ttl, std::chrono::hours(8));
  EXPECT_EQ(s.scopes.front(), "openid");
  EXPECT_TRUE(s.client_secret.empty());
}

TEST(ConsoleSettings, MissingClientIdAndUnknownKeysAreReported) {
  std::string errors;
  parsed("console: { redirect_url: 'https://gw.example/console/callback', colour: blue }\n",
         errors);
  EXPECT_NE(errors.find("client_id"), std::string::npos) << errors;
  EXPECT_NE(errors.find("colour"), std::string::npos) << errors;
}

}  // namespace
}  // namespace jg::console
