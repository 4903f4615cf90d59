// MCP rules: mcp_methods, tools and arguments conditions decided through the HTTP evaluator, the
// separation between MCP and HTTP rules, and what tools/list offers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "policy/golden.h"
#include "policy/http.h"
#include "policy/policy.h"

namespace jg::policy {
namespace {

using ::testing::HasSubstr;

constexpr char kRules[] = R"(
- id: agents
  match: { groups: [agents], resource: hub, mcp_methods: ["*"] }
  action: allow
- id: no-delete
  reason: destructive tools stay hidden
  match: { resource: hub, tools: ["delete_*"] }
  action: deny
- id: no-secret-echo
  reason: secrets are not echoed
  match: { resource: hub, tools: [echo], arguments: [{ pointer: /message, glob: "*secret*" }] }
  action: deny
- id: limited
  match: { groups: [limited], resource: hub, tools: [add], arguments: [{ pointer: /a, max: 10 }] }
  action: allow
)";

class McpPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Errors errors;
    auto node = config::Node::parse(kRules, "mcp.yaml");
    ASSERT_TRUE(node);
    auto p = Policy::compile(*node, errors);
    ASSERT_TRUE(p) << errors.joined();
    policy_ = *p;
  }
  // "allow@agents" for the golden-style text "MCP tools/call echo {...}" or "GET /x".
  std::string outcome(const std::string& text, std::vector<std::string> groups = {"agents"},
                      bool listing = false) {
    identity::Identity who;
    who.subject = "a";
    who.groups = std::move(groups);
    Binding b = policy_->bind(who, "hub", now_);
    auto c = text.starts_with("MCP ") ? parseMcpCase(text) : parseHttpCase(text, "");
    EXPECT_TRUE(c);
    HttpFacts f = c->facts();
    f.tool_listing = listing;
    Decision d = policy_->evaluateHttp(b, HttpRequest{.facts = f, .now = now_});
    return std::string(effectName(d.effect)) + "@" + std::string(d.rule_id);
  }

  std::shared_ptr<const Policy> policy_;
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1717581600)};
};

TEST_F(McpPolicyTest, AToolGlobDeniesMatchingToolsOnly) {
  EXPECT_EQ(outcome("MCP tools/call delete_file {}"), "deny@no-delete");
  EXPECT_EQ(outcome("MCP tools/call undelete {}"), "allow@agents");
}

TEST_F(McpPolicyTest, AToolConditionImpliesToolsCall) {
  EXPECT_EQ(outcome("MCP resources/read"), "allow@agents");
  EXPECT_EQ(outcome("MCP tools/list"), "allow@agents");
}

TEST_F(McpPolicyTest, ArgumentConditionsLookIntoTheToolArguments) {
  EXPECT_EQ(outcome(R"(MCP tools/call echo {"message":"my secret plan"})"), "deny@no-secret-echo");
  EXPECT_EQ(outcome(R"(MCP tools/call echo {"message":"hello"})"), "allow@agents");
  EXPECT_EQ(outcome(R"(MCP tools/call add {"a":3})", {"limited"}), "allow@limited");
  EXPECT_EQ(outcome(R"(MCP tools/call add {"a":30})", {"limited"}), "deny@default-deny");
}

TEST_F(McpPolicyTest, HttpRequestsNeverMatchMcpRules) {
  EXPECT_EQ(outcome("GET /tools/list"), "deny@default-deny");
  EXPECT_EQ(outcome("POST /tools/call/delete_file"), "deny@default-deny");
}

TEST_F(McpPolicyTest, ListingOffersToolsWhoseArgumentConditionsMayHoldAndHidesDeniedOnes) {
  EXPECT_EQ(outcome("MCP tools/call delete_file", {"agents"}, true), "deny@no-delete");
  // A deny on some arguments does not hide the tool; an allow on some arguments offers it.
  EXPECT_EQ(outcome("MCP tools/call echo", {"agents"}, true), "allow@agents");
  EXPECT_EQ(outcome("MCP tools/call add", {"limited"}, true), "allow@limited");
  EXPECT_EQ(outcome("MCP tools/call echo", {"limited"}, true), "deny@default-deny");
}

std::string compileError(std::string_view yaml) {
  config::Errors errors;
  auto node = config::Node::parse(yaml, "p.yaml");
  EXPECT_TRUE(node);
  auto p = Policy::compile(*node, errors);
  return p ? std::string() : errors.joined();
}

TEST(McpRuleCompile, HttpAndMcpConditionsDoNotMix) {
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match: { methods: [GET], tools: [x] }\n"),
              HasSubstr("not both"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match: { tools: [] }\n"),
              HasSubstr("expected at least one tool name glob"));
  EXPECT_THAT(compileError("- id: a\n  action: deny\n  match: { arguments: [{ pointer: x }] }\n"),
              HasSubstr("is not a JSON pointer"));
}

}  // namespace
}  // namespace jg::policy
