// HTTP rules: compiling them, matching them against request facts, precedence and explanations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "policy/http.h"
#include "policy/http_rule.h"
#include "policy/policy.h"
#include "policy/rule.h"
#include "sql/classifier.h"

namespace jg::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace json = boost::json;

constexpr char kRules[] = R"(
- id: kb-search
  reason: pipelines search the knowledge base, at most 50 hits at a time
  match:
    groups: [rag]
    resource: kb-search
    methods: [post]
    paths: ["/collections/{collection}/points/search", "/collections/{collection}/points/query"]
    path_params: { collection: [docs, faq-*] }
    query: { consistency: [majority, all] }
    body:
      - { pointer: /limit, max: 50, min: 1 }
      - { pointer: /with_vector, equals: false, optional: true }
      - { pointer: /filter, absent: true }
      - { pointer: /collection_name, in: [docs, faq], optional: true }
      - { pointer: /name, glob: "public-*", optional: true }
      - { pointer: "/a~1b/~0c", equals: 1, optional: true }
  action: allow
  role: searcher
  response: { max_items: 50, items: $.result, max_bytes: 10MB }
- id: kb-read
  match: { groups: [rag], resource: kb-search, methods: [GET], paths: ["/collections/*", "/docs/**"] }
  action: allow
- id: no-delete
  reason: nobody deletes collections through the gateway
  match: { resource: kb-search, methods: [DELETE] }
  action: deny
- id: big-search-review
  reason: wide searches need a data owner
  match: { resource: kb-search, paths: ["/collections/{c}/points/search"], body: [{ pointer: /limit, min: 20 }] }
  action: review
  approvers: { groups: [owners] }
- id: debug-deny
  reason: debug output leaks internals
  match: { resource: kb-search, query: { debug: ["true", "1"] } }
  action: deny
- id: office-hours
  match:
    groups: [ops]
    resource: kb-search
    paths: ["/admin/**"]
    when: { days: [mon-fri], hours: "08:00-18:00", tz: UTC }
  action: allow
- id: ops-read-only
  match: { groups: [auditors], resource: kb-search }
  action: allow
  read_only: true
- id: sql-read
  match: { groups: [rag], resource: kb-search }
  allow: [select]
)";

std::shared_ptr<const Policy> compile(std::string_view yaml, config::Errors& errors) {
  auto node = config::Node::parse(yaml, "policy.yaml");
  EXPECT_TRUE(node);
  auto p = Policy::compile(*node, errors);
  return p ? *p : nullptr;
}

identity::Identity member(std::vector<std::string> groups) {
  identity::Identity id;
  id.subject = "bot";
  id.groups = std::move(groups);
  return id;
}

// One request's facts, owning what HttpFacts points at.
struct Req {
  std::string method = "POST";
  std::string path = "/collections/docs/points/search";
  std::vector<std::pair<std::string, std::string>> query{};
  std::optional<std::string> body = R"({"limit":10})";  // JSON text, or raw bytes

  std::optional<json::value> parsed{};
  HttpFacts facts() {
    HttpFacts f{.method = method, .path = path, .query = query};
    if (body) {
      f.body_present = !body->empty();
      boost::system::error_code ec;
      json::value v = json::parse(*body, ec);
      if (!ec) {
        parsed = std::move(v);
        f.body = &*parsed;
      }
    }
    return f;
  }
};

class HttpPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Errors errors;
    policy_ = compile(kRules, errors);
    ASSERT_TRUE(policy_) << errors.joined();
  }
  Decision run(Req r, std::vector<std::string> groups = {"rag"},
               std::vector<std::string> granted = {}) {
    Binding b = policy_->bind(member(std::move(groups)), "kb-search", now_);
    if (b.session.effect != Effect::kAllow) {
      return b.session;
    }
    HttpFacts f = r.facts();
    return policy_->evaluateHttp(b, HttpRequest{.facts = f, .now = now_, .granted = granted});
  }
  std::string outcome(Req r, std::vector<std::string> groups = {"rag"}) {
    Decision d = run(std::move(r), std::move(groups));
    return std::string(effectName(d.effect)) + "@" + std::string(d.rule_id);
  }

  std::shared_ptr<const Policy> policy_;
  // 2024-06-05, a Wednesday, 10:00 UTC.
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1717581600)};
};

TEST_F(HttpPolicyTest, AllowCarriesRoleAndResponseLimits) {
  Decision d = run(Req{});
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.rule_id, "kb-search");
  EXPECT_EQ(d.role, "searcher");
  EXPECT_EQ(d.max_items, 50);
  EXPECT_EQ(d.items_path, "$.result");
  EXPECT_EQ(d.max_response_bytes, 10 * 1024 * 1024);
}

TEST_F(HttpPolicyTest, PathTemplatesMatchLiteralsVariablesAndSegmentCounts) {
  EXPECT_EQ(outcome(Req{.path = "/collections/docs/points/query"}), "allow@kb-search");
  EXPECT_EQ(outcome(Req{.path = "/collections/docs/points/search/x"}), "deny@default-deny");
  EXPECT_EQ(outcome(Req{.path = "/collections/docs/points"}), "deny@default-deny");
  EXPECT_EQ(outcome(Req{.path = "/collections//points/search"}), "deny@default-deny");
  EXPECT_EQ(outcome(Req{.path = "/Collections/docs/points/search"}), "deny@default-deny");
}

TEST_F(HttpPolicyTest, AGlobSegmentMatchesWithinOneSegmentOnly) {
  EXPECT_EQ(outcome(Req{.method = "GET", .path = "/collections/docs", .body = {}}),
            "allow@kb-read");
  EXPECT_EQ(outcome(Req{.method = "GET", .path = "/collections/docs/points", .body = {}}),
            "deny@default-deny");
  EXPECT_EQ(outcome(Req{.method = "GET", .path = "/collections/", .body = {}}),
            "deny@default-deny");
}

TEST_F(HttpPolicyTest, DoubleStarMatchesZeroOrMoreTrailingSegments) {
  for (const char* p : {"/docs", "/docs/a", "/docs/a/b/c"}) {
    EXPECT_EQ(outcome(Req{.method = "GET", .path = p, .body = {}}), "allow@kb-read") << p;
  }
  EXPECT_EQ(outcome(Req{.method = "GET", .path = "/docsx/a", .body = {}}), "deny@default-deny");
}

TEST_F(HttpPolicyTest, PathParametersMustBeWithinTheirGlobs) {
  EXPECT_EQ(outcome(Req{.path = "/collections/faq-en/points/search"}), "allow@kb-search");
  Decision d = run(Req{.path = "/collections/secrets/points/search"});
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_EQ(d.detail,
            "path parameter collection is 'secrets', not in [docs, faq-*] of rule kb-search");
}

TEST_F(HttpPolicyTest, AnAllowRuleLetsAQueryParameterBeLeftOutButCoversEveryValueSent) {
  EXPECT_EQ(outcome(Req{.query = {{"consistency", "all"}}}), "allow@kb-search");
  EXPECT_EQ(outcome(Req{.query = {{"consistency", "all"}, {"consistency", "weak"}}}),
            "deny@default-deny");
  Decision d = run(Req{.query = {{"consistency", "weak"}}});
  EXPECT_EQ(d.detail,
            "query parameter consistency is 'weak', not in [majority, all] of rule kb-search");
}

TEST_F(HttpPolicyTest, ADenyRuleOnAQueryParameterMatchesOnlyWhenOneValueIsWithinIt) {
  EXPECT_EQ(outcome(Req{.query = {{"debug", "false"}}}), "allow@kb-search");
  EXPECT_EQ(outcome(Req{.query = {{"debug", "false"}, {"debug", "1"}}}), "deny@debug-deny");
}

TEST_F(HttpPolicyTest, NumericBoundsHoldAtTheirLimitsAndNotBeyond) {
  EXPECT_EQ(outcome(Req{.body = R"({"limit":1})"}), "allow@kb-search");
  Decision d = run(Req{.body = R"({"limit":500})"}, {"rag"}, {"big-search-review"});
  EXPECT_EQ(d.detail, "body /limit is 500, above the maximum 50 of rule kb-search");
  d = run(Req{.body = R"({"limit":0})"});
  EXPECT_EQ(d.detail, "body /limit is 0, below the minimum 1 of rule kb-search");
  d = run(Req{.body = R"({"limit":"10"})"});
  EXPECT_EQ(d.detail, "body /limit is \"10\", not a number of rule kb-search");
  EXPECT_EQ(outcome(Req{.body = R"({"limit":9.5})"}), "allow@kb-search");
}

TEST_F(HttpPolicyTest, EqualsComparesJsonValues) {
  EXPECT_EQ(outcome(Req{.body = R"({"limit":5,"with_vector":false})"}), "allow@kb-search");
  Decision d = run(Req{.body = R"({"limit":5,"with_vector":"false"})"});
  EXPECT_EQ(d.detail, "body /with_vector is \"false\", not false of rule kb-search");
  EXPECT_EQ(outcome(Req{.body = R"({"limit":5,"a/b":{"~c":1.0}})"}), "allow@kb-search");
  EXPECT_EQ(outcome(Req{.body = R"({"limit":5,"a/b":{"~c":2}})"}), "deny@default-deny");
}

TEST_F(HttpPolicyTest, AbsentTrueForbidsAField) {
  Decision d = run(Req{.body = R"({"limit":5,"filter":null})"});
  EXPECT_EQ(d.detail, "body /filter is present, and the rule requires it absent of rule kb-search");
}

TEST_F(HttpPolicyTest, InAndGlobConstrainValues) {
  EXPECT_EQ(outcome(Req{.body = R"({"limit":5,"collection_name":"faq","name":"public-x"})"}),
            "allow@kb-search");
  Decision d = run(Req{.body = R"({"limit":5,"collection_name":"hr"})"});
  EXPECT_EQ(d.detail,
            R"(body /collection_name is "hr", not one of ["docs","faq"] of rule kb-search)");
  d = run(Req{.body = R"({"limit":5,"name":"private-x"})"});
  EXPECT_EQ(d.detail, R"(body /name is "private-x", not matching public-* of rule kb-search)");
  d = run(Req{.body = R"({"limit":5,"name":7})"});
  EXPECT_THAT(d.detail, HasSubstr("not a string matching public-*"));
}

TEST_F(HttpPolicyTest, AnAbsentPointerFailsUnlessTheConditionIsOptional) {
  Decision d = run(Req{.body = R"({"top":5})"});
  EXPECT_EQ(d.detail, "body /limit is absent of rule kb-search");
  d = run(Req{.body = {}});
  EXPECT_EQ(d.detail, "body /limit is absent (no body) of rule kb-search");
}

TEST_F(HttpPolicyTest, ABodyThatIsNotJsonSatisfiesNoAllowConditionButMatchesDenyAndReview) {
  Decision d = run(Req{.body = "limit=5"});
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_EQ(d.detail, "the body is not JSON, and the rule has body conditions of rule kb-search");
  // big-search-review's body condition cannot be read: the gateway assumes it holds.
  Req r{.body = "limit=5"};
  HttpFacts f = r.facts();
  Explanation ex =
      policy_->explainHttp(member({"rag"}), "kb-search", HttpRequest{.facts = f, .now = now_});
  std::string all;
  for (const auto& l : ex.lines) {
    all += l + "\n";
  }
  EXPECT_THAT(all, HasSubstr("big-search-review (policy.yaml:28): MATCHED"));
}

TEST_F(HttpPolicyTest, DenyBeatsReviewBeatsAllow) {
  EXPECT_EQ(outcome(Req{.body = R"({"limit":30})"}), "review@big-search-review");
  EXPECT_EQ(outcome(Req{.query = {{"debug", "true"}}, .body = R"({"limit":30})"}),
            "deny@debug-deny");
  EXPECT_EQ(outcome(Req{.method = "DELETE", .path = "/collections/docs", .body = {}}),
            "deny@no-delete");
}

TEST_F(HttpPolicyTest, AReviewCarriesTheAllowRulesLimitsAndAnApprovalLiftsIt) {
  Decision d = run(Req{.body = R"({"limit":30})"});
  ASSERT_EQ(d.effect, Effect::kReview);
  ASSERT_NE(d.review, nullptr);
  EXPECT_EQ(d.max_items, 50);
  EXPECT_EQ(d.role, "searcher");
  d = run(Req{.body = R"({"limit":30})"}, {"rag"}, {"big-search-review"});
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.rule_id, "kb-search");
}

TEST_F(HttpPolicyTest, AReviewWithNothingToAllowAfterwardsIsADeny) {
  Decision d = run(Req{.body = R"({"limit":60})"});
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.rule_id, "default-deny");
}

TEST_F(HttpPolicyTest, ADefaultDenyWithSeveralMissesNamesTheRequest) {
  Decision d = run(Req{.method = "PUT", .path = "/other", .body = {}});
  EXPECT_EQ(d.message(), "denied by rule default-deny: no rule allows this request");
  EXPECT_EQ(d.detail, "PUT /other");
}

TEST_F(HttpPolicyTest, TimeWindowsApplyToHttpRules) {
  Req r{.method = "GET", .path = "/admin/x", .body = {}};
  EXPECT_EQ(outcome(r, {"ops"}), "allow@office-hours");
  Binding b = policy_->bind(member({"ops"}), "kb-search", now_);
  HttpFacts f = r.facts();
  auto night = now_ + std::chrono::hours(10);
  Decision d = policy_->evaluateHttp(b, HttpRequest{.facts = f, .now = night});
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_THAT(d.detail, HasSubstr("outside the time window"));
}

TEST_F(HttpPolicyTest, AReadOnlyRuleAllowsOnlySafeMethods) {
  EXPECT_EQ(outcome(Req{.method = "GET", .path = "/x", .body = {}}, {"auditors"}),
            "allow@ops-read-only");
  EXPECT_EQ(outcome(Req{.method = "HEAD", .path = "/x", .body = {}}, {"auditors"}),
            "allow@ops-read-only");
  Decision d = run(Req{.method = "PATCH", .path = "/x"}, {"auditors"});
  EXPECT_EQ(d.detail,
            "the rule is read-only and PATCH is not GET, HEAD or OPTIONS of rule ops-read-only");
}

TEST_F(HttpPolicyTest, AStatementRuleNeverMatchesHttp) {
  // sql-read (allow: [select]) applies to the caller but is SQL only.
  Decision d = run(Req{.method = "GET", .path = "/x", .body = {}});
  EXPECT_EQ(d.rule_id, "default-deny");
}

TEST_F(HttpPolicyTest, AnHttpRuleNeverMatchesSqlAndARuleWithNeitherMatchesBoth) {
  config::Errors errors;
  auto p = compile(R"(
- { id: h, match: { resource: kb, methods: [GET] }, action: allow }
- { id: h-deny, match: { resource: kb, paths: ["/**"] }, action: deny }
- { id: both, match: { groups: [ops], resource: kb }, action: allow }
)",
                   errors);
  ASSERT_TRUE(p) << errors.joined();
  sql::Classifier classifier(8);
  sql::SessionContext ctx;
  Binding rag = p->bind(member({"rag"}), "kb", now_);
  EXPECT_EQ(rag.session.effect, Effect::kAllow);  // an HTTP deny rule does not deny the session
  Decision d = p->evaluateBatch(rag, classifier.classify("SELECT 1"), ctx, now_);
  EXPECT_EQ(d.rule_id, "default-deny");
  Binding ops = p->bind(member({"ops"}), "kb", now_);
  EXPECT_EQ(p->evaluateBatch(ops, classifier.classify("SELECT 1"), ctx, now_).rule_id, "both");
  Req r{.method = "GET", .path = "/x", .body = {}};
  HttpFacts f = r.facts();
  EXPECT_EQ(p->evaluateHttp(ops, HttpRequest{.facts = f, .now = now_}).rule_id, "h-deny");
}

TEST_F(HttpPolicyTest, AValueWithANulNeverMatchesAnAllowGlob) {
  Req r{.path = std::string("/collections/faq-\0x/points/search", 33)};
  EXPECT_EQ(outcome(r), "deny@default-deny");
}

TEST_F(HttpPolicyTest, ExplainGivesOneLinePerRule) {
  Req r{.body = R"({"limit":500})"};
  HttpFacts f = r.facts();
  Explanation ex =
      policy_->explainHttp(member({"rag"}), "kb-search", HttpRequest{.facts = f, .now = now_});
  EXPECT_EQ(ex.lines.size(), policy_->ruleCount() + 1);
  EXPECT_EQ(ex.lines[0], "session: allow by kb-search (role searcher)");
  EXPECT_THAT(ex.lines[1], HasSubstr("builtin:copy-program (built-in): not applicable: SQL only"));
  std::string all;
  for (const auto& l : ex.lines) {
    all += l + "\n";
  }
  EXPECT_THAT(all, HasSubstr("[allow] kb-search (policy.yaml:2): not matched: body /limit is 500, "
                             "above the maximum 50\n"));
  EXPECT_THAT(all, HasSubstr("[review] big-search-review (policy.yaml:28): MATCHED\n"));
  EXPECT_THAT(all, HasSubstr("[deny] no-delete (policy.yaml:24): not matched: method POST is not "
                             "in [DELETE]\n"));
  EXPECT_THAT(all, HasSubstr("sql-read (policy.yaml:48): not matched: the rule has statement "
                             "conditions (SQL only)"));
  EXPECT_EQ(ex.decision.rule_id, "default-deny");
}

std::string compileError(std::string_view yaml) {
  config::Errors errors;
  auto node = config::Node::parse(yaml, "p.yaml");
  EXPECT_TRUE(node);
  EXPECT_FALSE(Policy::compile(*node, errors));
  return errors.joined();
}

TEST(HttpRuleCompile, ErrorsNameFileLineAndKey) {
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    paths: [\"x/y\"]\n"),
              HasSubstr("p.yaml:4: [0].match.paths: path template 'x/y' does not start with /"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    paths: [\"/**/x\"]\n"),
              HasSubstr("p.yaml:4: [0].match.paths: path template '**' may only be the last"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    body:\n"
                           "      - { pointer: limit, max: 5 }\n"),
              HasSubstr("p.yaml:5: [0].match.body[0].pointer: 'limit' is not a JSON pointer"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    body:\n"
                           "      - { pointer: /a, max: x }\n"),
              HasSubstr("p.yaml:5: [0].match.body[0].max: expected a number"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    body:\n"
                           "      - { pointer: /a~2 , max: 1 }\n"),
              HasSubstr("is not a JSON pointer"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    body:\n"
                           "      - { pointer: /a, absent: true, max: 1 }\n"),
              HasSubstr("absent: true takes no other operator"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    body: [{ pointer: /a }]\n"),
              HasSubstr("p.yaml:4: [0].match.body[0]: a body condition needs"));
}

TEST(HttpRuleCompile, PathParamsMustNameAVariableOfEveryTemplate) {
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match:\n    paths: [\"/c/{x}\", \"/d\"]\n"
                           "    path_params: { x: [a] }\n"),
              HasSubstr("p.yaml:5: [0].match.path_params.x: path template /d has no {x} segment"));
}

TEST(HttpRuleCompile, StatementAndHttpConditionsDoNotMix) {
  EXPECT_THAT(compileError("- id: a\n  allow: [select]\n  match: { methods: [GET] }\n"),
              HasSubstr("p.yaml:1: [0]: a rule has statement conditions"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match: { methods: [GET] }\n"
                           "  row_limit: 5\n"),
              HasSubstr("p.yaml:4: [0].row_limit: row_limit applies to SQL"));
  EXPECT_THAT(compileError("- id: a\n  action: deny\n  response: { max_items: 5 }\n"),
              HasSubstr("p.yaml:3: [0].response: response limits apply only to allow rules"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  response: { max_bytes: 10XB }\n"),
              HasSubstr("p.yaml:3: [0].response.max_bytes: expected a size"));
  EXPECT_THAT(compileError("- id: a\n  action: allow\n  match: { methods: [\"GE T\"] }\n"),
              HasSubstr("'GE T' is not an HTTP method"));
}

TEST(HttpRuleCompile, PathTemplatesSplitIntoSegmentKinds) {
  std::string error;
  auto t = parsePathTemplate("/a/{b}/c*/**", error);
  ASSERT_TRUE(t) << error;
  using K = PathTemplate::Segment::Kind;
  std::vector<K> kinds;
  for (const auto& s : t->segments) {
    kinds.push_back(s.kind);
  }
  EXPECT_THAT(kinds, ElementsAre(K::kLiteral, K::kVariable, K::kGlob, K::kRest));
  EXPECT_TRUE(parsePathTemplate("/", error)->segments.empty());
  EXPECT_FALSE(parsePathTemplate("/a/{b}/{b}", error));
  EXPECT_FALSE(parsePathTemplate("/a/x{b}", error));
}

TEST(HttpRuleCompile, JsonPointersDecodeTildeEscapesInOrder) {
  EXPECT_THAT(*parseJsonPointer("/a~1b/~0c/~01"), ElementsAre("a/b", "~c", "~1"));
  EXPECT_THAT(*parseJsonPointer("/"), ElementsAre(""));
  EXPECT_TRUE(parseJsonPointer("")->empty());
  EXPECT_FALSE(parseJsonPointer("a"));
  EXPECT_FALSE(parseJsonPointer("/a~"));
}

TEST(HttpRuleCompile, ByteSizesUsePowersOf1024) {
  EXPECT_EQ(parseByteSize("10MB"), 10 * 1024 * 1024);
  EXPECT_EQ(parseByteSize("512KiB"), 512 * 1024);
  EXPECT_EQ(parseByteSize("4096"), 4096);
  EXPECT_EQ(parseByteSize("1 GB"), int64_t{1} << 30);
  EXPECT_FALSE(parseByteSize("MB"));
  EXPECT_FALSE(parseByteSize("5TB"));
}

TEST(HttpRuleCompile, PlainYamlScalarsAreTypedAndQuotedOnesAreStrings) {
  auto node = YAML::Load("[1, 2.5, true, null, 'true', abc, \"7\"]");
  EXPECT_EQ(json::serialize(yamlToJson(node)), R"([1,2.5E0,true,null,"true","abc","7"])");
}

}  // namespace
}  // namespace jg::policy
