#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/rule.h"
#include "sql/classifier.h"

namespace jg::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRules[] = R"(
- { id: pipeline-read, reason: RAG pipelines read the knowledge base,
    match: { groups: [rag], resource: kb }, allow: [select], role: reader, row_limit: 1000,
    mask: pii }
- { id: pii-review, match: { resource: kb, tables: [crm.customers] }, action: review,
    approvers: { groups: [data-owners], count: 2 }, grant: 30m, mode: fail_fast }
- { id: no-ssn, reason: SSNs never leave the database, match: { columns: [ssn] }, action: deny }
- { id: dba, match: { groups: [dba] }, allow: [all], role: admin, unlock: [do-block] }
- { id: blocked-user, match: { subjects: [mallory] }, action: deny }
)";

std::shared_ptr<const Policy> compile(std::string_view yaml, config::Errors& errors) {
  auto node = config::Node::parse(yaml, "policy.yaml");
  EXPECT_TRUE(node);
  auto p = Policy::compile(*node, errors);
  return p ? *p : nullptr;
}

identity::Identity person(std::string sub, std::vector<std::string> groups) {
  identity::Identity id;
  id.subject = std::move(sub);
  id.email = id.subject + "@corp.example";
  id.groups = std::move(groups);
  return id;
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Errors errors;
    policy_ = compile(kRules, errors);
    ASSERT_TRUE(policy_) << errors.joined();
  }
  Decision run(const identity::Identity& who, std::string_view sql,
               std::vector<std::string> granted = {}) {
    Binding b = policy_->bind(who, "kb", now_);
    if (b.session.effect != Effect::kAllow) {
      return b.session;
    }
    sql::SessionContext ctx;
    return policy_->evaluateBatch(b, classifier_.classify(sql), ctx, now_, granted);
  }

  std::shared_ptr<const Policy> policy_;
  sql::Classifier classifier_{128};
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1717574400)};
};

TEST_F(PolicyTest, AllowCarriesRuleAndModifiers) {
  Decision d = run(person("bot", {"rag"}), "SELECT abalance FROM pgbench_accounts WHERE aid = $1");
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.rule_id, "pipeline-read");
  EXPECT_EQ(d.role, "reader");
  EXPECT_EQ(d.row_limit, 1000);
  EXPECT_EQ(d.mask_profile, "pii");
}

TEST_F(PolicyTest, DenyMessageNamesRuleReasonAndWhatMatched) {
  Decision d = run(person("bot", {"rag"}), "DELETE FROM crm.customers");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_EQ(d.message(), "denied by rule default-deny: no rule allows this statement");
  EXPECT_THAT(d.detail, HasSubstr("delete"));
  EXPECT_THAT(d.detail, HasSubstr("crm.customers (write)"));
}

TEST_F(PolicyTest, ReviewCarriesEverythingTheApprovalFlowNeeds) {
  Decision d = run(person("bot", {"rag"}), "SELECT email FROM crm.customers");
  ASSERT_EQ(d.effect, Effect::kReview);
  EXPECT_EQ(d.rule_id, "pii-review");
  ASSERT_NE(d.review, nullptr);
  EXPECT_EQ(d.review->approver_groups, std::vector<std::string>{"data-owners"});
  EXPECT_EQ(d.review->approver_count, 2);
  EXPECT_EQ(d.review->grant, std::chrono::minutes(30));
  EXPECT_EQ(d.review->mode, ReviewSpec::Mode::kFailFast);
  EXPECT_EQ(d.review->scope, ReviewSpec::Scope::kStatement);
}

TEST_F(PolicyTest, ApprovedReviewFallsThroughToAllow) {
  Decision d = run(person("bot", {"rag"}), "SELECT email FROM crm.customers", {"pii-review"});
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.rule_id, "pipeline-read");
}

TEST_F(PolicyTest, DenyBeatsReviewBeatsAllow) {
  EXPECT_EQ(run(person("bot", {"rag"}), "SELECT ssn FROM crm.customers").rule_id, "no-ssn");
  EXPECT_EQ(run(person("bot", {"rag"}), "SELECT * FROM crm.customers").rule_id, "no-ssn");
}

TEST_F(PolicyTest, SessionBindingPicksRoleOrDenies) {
  Binding ok = policy_->bind(person("bot", {"rag"}), "kb", now_);
  EXPECT_EQ(ok.session.effect, Effect::kAllow);
  EXPECT_EQ(ok.session.role, "reader");
  Binding other = policy_->bind(person("bot", {"rag"}), "hr", now_);
  EXPECT_EQ(other.session.effect, Effect::kDeny);  // review and deny rules admit no one
  Binding nobody = policy_->bind(person("eve", {"guests"}), "other", now_);
  Binding blocked = policy_->bind(person("mallory", {"rag"}), "kb", now_);
  EXPECT_EQ(blocked.session.effect, Effect::kDeny);
  EXPECT_EQ(blocked.session.rule_id, "blocked-user");
  (void)nobody;
}

TEST_F(PolicyTest, GuardrailsHoldUnlessUnlocked) {
  EXPECT_EQ(run(person("bot", {"rag"}), "SELECT pg_read_file('/etc/passwd')").rule_id,
            "builtin:server-files");
  EXPECT_EQ(run(person("root", {"dba"}), "SET ROLE postgres").rule_id, "builtin:role-change");
  Decision d = run(person("root", {"dba"}), "DO $$ BEGIN PERFORM 1; END $$");
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.rule_id, "dba");
}

TEST_F(PolicyTest, HousekeepingIsAllowedInAdmittedSessions) {
  for (auto sql : {"BEGIN", "SET statement_timeout = 0", "SHOW search_path", "COMMIT",
                   "DEALLOCATE ALL", "RESET ALL"}) {
    EXPECT_EQ(run(person("bot", {"rag"}), sql).rule_id, "builtin:session") << sql;
  }
}

TEST_F(PolicyTest, ParseErrorsAreDeniedWith42601) {
  Decision d = run(person("bot", {"rag"}), "SELEC * FROM t");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.sqlstate, "42601");
  EXPECT_THAT(d.message(), HasSubstr("syntax error"));
}

TEST_F(PolicyTest, BatchIsAsStrictAsItsStrictestStatement) {
  Decision d = run(person("bot", {"rag"}), "SELECT 1; DROP TABLE public.chunks; SELECT 2");
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.statement_index, 1);
}

TEST_F(PolicyTest, RefusedBatchLeavesTheSessionContextAsItWas) {
  Binding b = policy_->bind(person("bot", {"rag"}), "kb", now_);
  sql::SessionContext ctx;
  auto batch = classifier_.classify("PREPARE p4 AS SELECT 1; SET search_path = crm; DROP TABLE t");
  EXPECT_EQ(policy_->evaluateBatch(b, batch, ctx, now_).effect, Effect::kDeny);
  auto execute = classifier_.classify("EXECUTE p4");
  sql::Resolved r;
  ctx.resolve(execute->statements[0], r);
  EXPECT_FALSE(r.known);
  EXPECT_EQ(ctx.generation(), 0u);
}

TEST_F(PolicyTest, LaterStatementsOfABatchSeeTheEffectsOfEarlierOnes) {
  Binding b = policy_->bind(person("bot", {"rag"}), "kb", now_);
  sql::SessionContext ctx({"public"});
  auto batch = classifier_.classify("SET search_path = crm; SELECT name FROM customers");
  Decision d = policy_->evaluateBatch(b, batch, ctx, now_);
  EXPECT_EQ(d.rule_id, "pii-review");  // customers may now be crm.customers
}

TEST_F(PolicyTest, PrepareBeyondTheSessionLimitIsDeniedWithProgramLimitExceeded) {
  Binding b = policy_->bind(person("bot", {"rag"}), "kb", now_);
  sql::SessionContext ctx;
  ctx.setLimit(1);
  auto first = classifier_.classify("PREPARE a AS SELECT 1");
  ASSERT_TRUE(policy_->evaluateBatch(b, first, ctx, now_).allowed());
  ctx.applyAll(first);
  Decision d = policy_->evaluateBatch(b, classifier_.classify("PREPARE b AS SELECT 1"), ctx, now_);
  EXPECT_EQ(d.rule_id, "builtin:limits");
  EXPECT_EQ(d.sqlstate, "54000");
}

TEST_F(PolicyTest, ExplainSaysWhyEachRuleDidOrDidNotMatch) {
  auto c = classifier_.classify("SELECT email FROM crm.customers");
  sql::SessionContext ctx;
  sql::Resolved r;
  ctx.resolve(c->statements[0], r);
  Explanation ex = policy_->explain(person("bot", {"rag"}), "kb", Request{r, now_});
  EXPECT_EQ(ex.decision.rule_id, "pii-review");
  std::string all;
  for (const auto& l : ex.lines) {
    all += l + "\n";
  }
  EXPECT_THAT(all, HasSubstr("[review] pii-review (policy.yaml:5): MATCHED"));
  EXPECT_THAT(all, HasSubstr("dba"));
  EXPECT_THAT(all, HasSubstr("share none of [dba]"));
}

TEST(PolicyCompile, ReportsEveryProblemWithItsLocation) {
  config::Errors errors;
  auto p = compile(R"(
- { id: a, allow: [selekt] }
- { id: a, action: review }
- { id: c, match: { tables: ["crm.\"x"], when: { tz: Nowhere/City } }, deny: [delete] }
- { id: builtin:x, allow: [select], unlock: [nothing] }
- { id: e, allow: [select], deny: [delete], frobnicate: 1 }
)",
                   errors);
  EXPECT_EQ(p, nullptr);
  std::string all = errors.joined();
  EXPECT_THAT(all, HasSubstr("unknown statement kind 'selekt'"));
  EXPECT_THAT(all, HasSubstr("duplicate rule id 'a'"));
  EXPECT_THAT(all, HasSubstr("approvers"));
  EXPECT_THAT(all, HasSubstr("not a table pattern"));
  EXPECT_THAT(all, HasSubstr("Nowhere/City"));
  EXPECT_THAT(all, HasSubstr("reserved"));
  EXPECT_THAT(all, HasSubstr("unknown guardrail 'nothing'"));
  EXPECT_THAT(all, HasSubstr("only one of"));
  EXPECT_THAT(all, HasSubstr("frobnicate"));
  EXPECT_THAT(all, HasSubstr("policy.yaml:2"));
}

TEST(PolicyCompile, TablePatternsFoldLikePostgres) {
  auto p = parseTablePattern("CRM.Customers");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->schema, "crm");
  EXPECT_EQ(p->name, "customers");
  auto q = parseTablePattern("\"CRM\".\"Cust.omers\"");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->schema, "CRM");
  EXPECT_EQ(q->name, "Cust.omers");
  auto any = parseTablePattern("chunks");
  EXPECT_EQ(any->schema, "*");
  EXPECT_FALSE(parseTablePattern("a.b.c"));
  EXPECT_FALSE(parseTablePattern("a..b"));
}

TEST(PolicyCompile, ParserSettingsGuardrailCannotBeUnlocked) {
  config::Errors errors;
  auto p = compile("- { id: enc, allow: [all], unlock: [parser-settings, sql-text] }", errors);
  EXPECT_EQ(p, nullptr);
  EXPECT_THAT(errors.joined(), HasSubstr("guardrail 'parser-settings' cannot be unlocked"));
  EXPECT_THAT(errors.joined(), Not(HasSubstr("'sql-text'")));
}

TEST_F(PolicyTest, ParserSettingsRefusalSaysWhatToDo) {
  Decision d = run(person("root", {"dba"}), "SET client_encoding = 'GBK'");
  EXPECT_EQ(d.rule_id, "builtin:parser-settings");
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_THAT(d.detail, HasSubstr("client_encoding set to 'GBK'"));
  EXPECT_THAT(d.detail, HasSubstr("keep client_encoding UTF8"));
  Decision scs = run(person("root", {"dba"}),
                     "SELECT set_config('standard_conforming_strings', "
                     "'off', false)");
  EXPECT_THAT(scs.detail, HasSubstr("standard_conforming_strings set to 'off': keep it on"));
}

TEST_F(PolicyTest, RuleKindsCoverTheParametersOfAnExecute) {
  Binding b = policy_->bind(person("bot", {"rag"}), "kb", now_);
  sql::SessionContext ctx;
  auto prepare = classifier_.classify("PREPARE p(bigint) AS SELECT $1");
  ASSERT_TRUE(policy_->evaluateBatch(b, prepare, ctx, now_).allowed());
  ctx.apply(prepare->statements[0], prepare);
  Decision d =
      policy_->evaluateBatch(b, classifier_.classify("EXECUTE p(nextval('s'))"), ctx, now_);
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_THAT(d.detail, HasSubstr("select, sequence"));
  EXPECT_TRUE(policy_->evaluateBatch(b, classifier_.classify("EXECUTE p(1)"), ctx, now_).allowed());
}

constexpr char kCatalogRules[] = R"(
- { id: app-read, match: { groups: [app], resource: kb, tables: [public.*] }, allow: [select] }
- { id: ide-read, match: { groups: [ide], resource: kb, tables: [public.*], when: { days: [sat] } },
    allow: [select], catalog: true }
)";

Decision runCatalog(const identity::Identity& who, std::string_view sql) {
  config::Errors errors;
  auto policy = compile(kCatalogRules, errors);
  EXPECT_TRUE(policy) << errors.joined();
  sql::Classifier classifier(16);
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1717574400));  // a Wed
  Binding b = policy->bind(who, "kb", now);
  sql::SessionContext ctx;
  return policy->evaluateBatch(b, classifier.classify(sql), ctx, now);
}

TEST(CatalogPreset, DenialOfACatalogOnlyReadSaysHowToAllowIt) {
  Decision d = runCatalog(person("app", {"app"}), "SELECT nspname FROM pg_catalog.pg_namespace");
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_THAT(d.detail, HasSubstr("tables pg_catalog.pg_namespace"));
  EXPECT_THAT(d.detail, HasSubstr("add `catalog: true` to an allow rule"));
}

TEST(CatalogPreset, DenialThatTouchesUserTablesGivesNoCatalogHint) {
  Decision d = runCatalog(person("app", {"app"}), "SELECT * FROM secret.s, pg_catalog.pg_class c");
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_THAT(d.detail, Not(HasSubstr("catalog: true")));
  Decision w = runCatalog(person("app", {"app"}), "DELETE FROM pg_catalog.pg_description");
  EXPECT_THAT(w.detail, Not(HasSubstr("catalog: true")));
}

TEST(CatalogPreset, NoHintWhenARuleOfTheSessionAlreadyHasThePreset) {
  // ide-read has the preset but its time window is closed: the hint would mislead.
  Decision d = runCatalog(person("dev", {"ide"}), "SELECT 1 FROM pg_catalog.pg_class");
  EXPECT_EQ(d.rule_id, "default-deny");
  EXPECT_THAT(d.detail, Not(HasSubstr("catalog: true")));
}

TEST(CatalogPreset, OnlyAllowRulesOfSqlTakeThePreset) {
  config::Errors errors;
  EXPECT_FALSE(compile("- { id: d, match: { tables: [x] }, action: deny, catalog: true }", errors));
  EXPECT_THAT(errors.joined(), HasSubstr("catalog: true applies only to allow rules"));
  config::Errors http;
  EXPECT_FALSE(
      compile("- { id: h, match: { methods: [GET] }, action: allow, catalog: true }", http));
  EXPECT_THAT(http.joined(), HasSubstr("an HTTP rule cannot read the catalog"));
  config::Errors scalar;
  EXPECT_FALSE(compile("- { id: s, allow: [select], catalog: sure }", scalar));
}

}  // namespace
}  // namespace jg::policy
