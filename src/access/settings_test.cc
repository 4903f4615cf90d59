#include "access/settings.h"

#include <gtest/gtest.h>

#include <fstream>

#include "access/test_util.h"

namespace jg::access {
namespace {

using namespace std::chrono_literals;

Settings parse(const std::string& yaml, config::Errors& errors,
               const std::string& file = "t.yaml") {
  auto node = config::Node::parse(yaml, file);
  EXPECT_TRUE(node);
  return parseSettings((*node)["access"], errors);
}

TEST(AccessSettings, DefaultsWhenAbsent) {
  config::Errors errors;
  auto s = parse("other: 1\n", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(s.pending_expiry, 1h);
  EXPECT_EQ(s.statement_validity, 10min);
  EXPECT_TRUE(s.webhooks.empty());
}

TEST(AccessSettings, ParsesTimesAndWebhooksWithSecretFiles) {
  testing::TempDir dir;
  { std::ofstream(dir.file("hook.secret")) << "a-webhook-secret-of-32-bytes....\n"; }
  config::Errors errors;
  auto s = parse(
      "access:\n"
      "  pending_expiry: 15m\n"
      "  statement_validity: 2m\n"
      "  wait_timeout: 90s\n"
      "  public_url: https://jg.example/\n"
      "  webhooks:\n"
      "    - { url: 'https://hooks.example/a', secret_file: hook.secret, format: slack,\n"
      "        events: [review.created, grant.revoked], max_attempts: 3 }\n",
      errors, dir.file("gateway.yaml"));
  EXPECT_TRUE(errors.empty()) << errors.joined();
  EXPECT_EQ(s.pending_expiry, 15min);
  EXPECT_EQ(s.statement_validity, 2min);
  EXPECT_EQ(s.wait_timeout, 90s);
  ASSERT_EQ(s.webhooks.size(), 1u);
  EXPECT_EQ(s.webhooks[0].format, WebhookSettings::Format::kSlack);
  EXPECT_EQ(s.webhooks[0].secret, "a-webhook-secret-of-32-bytes....");
  EXPECT_EQ(s.webhooks[0].events.size(), 2u);
  EXPECT_EQ(s.webhooks[0].max_attempts, 3);
}

TEST(AccessSettings, ReportsEveryProblemWithItsKey) {
  config::Errors errors;
  parse(
      "access:\n"
      "  pending_expiry: soon\n"
      "  colour: blue\n"
      "  webhooks:\n"
      "    - { url: 'ftp://x', secret: inline, format: teams, events: [review.exploded] }\n",
      errors);
  const std::string all = errors.joined();
  EXPECT_NE(all.find("pending_expiry"), std::string::npos) << all;
  EXPECT_NE(all.find("colour"), std::string::npos) << all;
  EXPECT_NE(all.find("http"), std::string::npos) << all;
  EXPECT_NE(all.find("inline secrets"), std::string::npos) << all;
  EXPECT_NE(all.find("format"), std::string::npos) << all;
  EXPECT_NE(all.find("review.exploded"), std::string::npos) << all;
}

}  // namespace
}  // namespace jg::access
