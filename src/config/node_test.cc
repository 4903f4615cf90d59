#include "config/node.h"
#include "config/suggest.h"

#include <gtest/gtest.h>

namespace jg::config {
namespace {

TEST(ConfigNode, ErrorsNameFileLineAndKeyPath) {
  auto root =
      Node::parse("listen:\n  postgres: x\nresources:\n  - name: kb\n    port: abc\n", "gw.yaml");
  ASSERT_TRUE(root.isOk());
  Errors errors;
  (*root)["resources"].at(0)["port"].integer(errors, 5432, 1, 65535);
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_EQ(errors.list()[0],
            "gw.yaml:5: resources[0].port: expected an integer between 1 and 65535, got \"abc\"");
}

TEST(ConfigNode, UnknownKeysAreReported) {
  auto root = Node::parse("a: 1\nbogus: 2\n", "f.yaml");
  ASSERT_TRUE(root.isOk());
  Errors errors;
  root->checkKeys(errors, {"a"});
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_NE(errors.list()[0].find("f.yaml:2: bogus: unknown key"), std::string::npos);
}

TEST(ConfigNode, UnknownKeyCloseToAKnownOneGetsASuggestion) {
  auto root = Node::parse("listen: 1\npolicys: []\nzzz: 3\n", "f.yaml");
  ASSERT_TRUE(root.isOk());
  Errors errors;
  root->checkKeys(errors, {"listen", "policies", "resources"});
  ASSERT_EQ(errors.list().size(), 2u);
  EXPECT_NE(errors.list()[0].find("f.yaml:2: policys: unknown key; did you mean 'policies'?"),
            std::string::npos)
      << errors.list()[0];
  EXPECT_EQ(errors.list()[1].find("did you mean"), std::string::npos) << errors.list()[1];
}

TEST(ConfigNode, ClosestWordIgnoresWordsTooFarApart) {
  EXPECT_EQ(closestWord("resouce", {"resource", "resources"}), "resource");
  EXPECT_EQ(closestWord("ab", {"xy"}), "");
  EXPECT_EQ(closestWord("catalog", {"unlock", "role"}), "");
}

TEST(ConfigNode, DurationsParse) {
  EXPECT_EQ(parseDuration("250ms")->count(), 250);
  EXPECT_EQ(parseDuration("30s")->count(), 30000);
  EXPECT_EQ(parseDuration("2h")->count(), 7200000);
  EXPECT_EQ(parseDuration("12")->count(), 12000);
  EXPECT_FALSE(parseDuration("soon"));
  EXPECT_FALSE(parseDuration("-3s"));
}

TEST(ConfigNode, SecretFilesAreReadUpTo64KiBOnly) {
  auto endless = readSecretFile("/dev/zero");
  ASSERT_FALSE(endless.isOk());
  EXPECT_EQ(endless.status().message(), "secret file /dev/zero is larger than 64 KiB");
}

TEST(ConfigNode, DurationsBeyondAHundredYearsAreRefusedInsteadOfOverflowing) {
  EXPECT_EQ(*parseDuration("36500d"), kMaxDuration);
  EXPECT_FALSE(parseDuration("36501d"));
  EXPECT_FALSE(parseDuration("9223372036854775807ms"));
  EXPECT_FALSE(parseDuration("9223372036854775s"));  // overflowed to a negative duration
  EXPECT_FALSE(parseDuration("2562047788016h"));
}

TEST(ConfigNode, InvalidYamlNamesTheLine) {
  auto root = Node::parse("a: [1, 2\nb: 3\n", "bad.yaml");
  ASSERT_FALSE(root.isOk());
  EXPECT_NE(root.status().message().find("bad.yaml:"), std::string::npos);
}

TEST(ConfigNode, MissingRequiredValueUsesParentLine) {
  auto root = Node::parse("upstream:\n  host: db\n", "f.yaml");
  ASSERT_TRUE(root.isOk());
  Errors errors;
  (*root)["upstream"]["database"].requiredStr(errors);
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_EQ(errors.list()[0], "f.yaml:2: upstream.database: required");
}

}  // namespace
}  // namespace jg::config
