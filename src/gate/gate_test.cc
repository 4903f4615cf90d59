#include "gate/gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>

#include "sql/classifier.h"

namespace jg::gate {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRules[] = R"(
- { id: read, match: { groups: [rag], resource: kb, tables: [public.*, crm.*, hr.*, vault.*] }, allow: [select, set, transaction],
    role: reader, row_limit: 100, mask: pii }
- { id: owners-wait, match: { resource: kb, tables: [crm.customers] }, action: review,
    approvers: { groups: [owners] }, grant: 30m, mode: wait }
- { id: payroll-now, match: { resource: kb, tables: [hr.payroll] }, action: review,
    approvers: { groups: [owners] }, mode: fail_fast }
- { id: vault-session, match: { resource: kb, tables: [vault.*] }, action: review,
    approvers: { groups: [owners] }, scope: session }
- { id: office-hours, allow: [select],
    match: { resource: kb, tables: [ops.*],
             when: { days: [mon-fri], hours: "08:00-18:00", tz: UTC } } }
- { id: no-ssn, reason: SSNs never leave, match: { columns: [ssn] }, action: deny }
- { id: ledger-as-finance, match: { resource: kb, tables: [public.ledger] }, action: review,
    approvers: { groups: [owners] }, mode: fail_fast, role: finance }
)";

// An in-memory approval store: what settle() asked for and what it got.
class FakeApprovals : public Approvals {
 public:
  std::optional<std::string> consume(const ApprovalKey& key) override {
    ++consumed_calls;
    auto it = approved.find(key.fingerprint + "/" + key.params_hash);
    if (it == approved.end()) {
      return std::nullopt;
    }
    std::string id = it->second;
    approved.erase(it);  // one run
    return id;
  }
  Result<CreatedReview> create(const ReviewDraft& draft) override {
    if (fail_create) {
      return Status::error(Code::kUnavailable, "store unavailable");
    }
    drafts.push_back(std::string(draft.rule_id) + ":" + std::string(draft.text));
    return CreatedReview{"r-" + std::to_string(drafts.size()), "jitgate review approve"};
  }
  std::optional<GrantInfo> activeGrant(std::string_view) override { return grant; }

  std::map<std::string, std::string> approved;  // key → review id
  std::vector<std::string> drafts;
  std::optional<GrantInfo> grant;
  bool fail_create = false;
  int consumed_calls = 0;
};

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto node = config::Node::parse(kRules, "policy.yaml");
    ASSERT_TRUE(node);
    config::Errors errors;
    auto p = policy::Policy::compile(*node, errors);
    ASSERT_TRUE(p) << errors.joined();
    policy_ = *p;
    identity::Identity who;
    who.subject = "bot";
    who.groups = {"rag"};
    binding_ = policy_->bind(who, "kb", monday_noon_);
  }
  SqlRequest request(std::string_view sql, bool reusable = false) {
    return SqlRequest{classifier_.classify(sql), ctx_, sql, reusable};
  }
  Verdict decide(std::string_view sql, std::chrono::system_clock::time_point at,
                 std::vector<std::string> granted = {}) {
    Gate gate(*policy_);
    return gate.decide(Caller{binding_, granted}, request(sql), at);
  }
  Verdict settled(std::string_view sql, Approvals* approvals, bool reusable = false) {
    Gate gate(*policy_);
    SqlRequest r = request(sql, reusable);
    Caller caller{binding_, {}};
    return gate.settle(gate.decide(caller, r, monday_noon_), caller, r, approvals, monday_noon_);
  }

  std::shared_ptr<const policy::Policy> policy_;
  policy::Binding binding_;
  sql::Classifier classifier_{128};
  sql::SessionContext ctx_;
  // 2024-06-03 was a Monday.
  std::chrono::system_clock::time_point monday_noon_{std::chrono::seconds(1717416000)};
  std::chrono::system_clock::time_point monday_night_{std::chrono::seconds(1717452000)};
};

struct Row {
  const char* sql;
  Outcome outcome;
  Refusal refusal;
  const char* rule;
};

TEST_F(GateTest, EachRequestGetsTheVerdictOfItsRule) {
  const Row rows[] = {
      {"SELECT 1", Outcome::kAllow, Refusal::kNone, "read"},
      {"SELECT title FROM docs", Outcome::kAllow, Refusal::kNone, "read"},
      {"DELETE FROM docs", Outcome::kDeny, Refusal::kForbidden, "default-deny"},
      {"SELECT ssn FROM people", Outcome::kDeny, Refusal::kForbidden, "no-ssn"},
      {"SELEC 1", Outcome::kDeny, Refusal::kInvalidRequest, ""},
      {"SELECT email FROM crm.customers", Outcome::kReview, Refusal::kNeedsApproval, "owners-wait"},
      {"SELECT pay FROM hr.payroll", Outcome::kReview, Refusal::kNeedsApproval, "payroll-now"},
      {"SELECT k FROM vault.keys", Outcome::kReview, Refusal::kNeedsApproval, "vault-session"},
      {"SELECT 1; DELETE FROM docs", Outcome::kDeny, Refusal::kForbidden, "default-deny"},
      {"DO $$ BEGIN END $$", Outcome::kDeny, Refusal::kForbidden, "builtin:do-block"},
  };
  for (const Row& row : rows) {
    Verdict v = decide(row.sql, monday_noon_);
    EXPECT_EQ(v.outcome, row.outcome) << row.sql;
    EXPECT_EQ(v.refusal, row.refusal) << row.sql << ": " << refusalName(v.refusal);
    if (*row.rule != '\0') {
      EXPECT_EQ(v.ruleId(), row.rule) << row.sql;
    }
  }
}

TEST_F(GateTest, AllowCarriesRowLimitMaskProfileAndRole) {
  Verdict v = decide("SELECT title FROM docs", monday_noon_);
  ASSERT_TRUE(v.allowed());
  EXPECT_EQ(v.row_limit, 100);
  EXPECT_EQ(v.row_limit_by, "rule read");
  EXPECT_EQ(v.decision.mask_profile, "pii");
  EXPECT_EQ(v.decision.role, "reader");
}

TEST_F(GateTest, StatementReviewUnderAnotherRoleIsRefusedBeforeAReviewIsCreated) {
  FakeApprovals approvals;
  Verdict v = settled("SELECT amount FROM public.ledger", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kForbidden);
  EXPECT_THAT(v.message, HasSubstr("role \"finance\""));
  EXPECT_THAT(v.message, HasSubstr("role \"reader\" (rule read)"));
  EXPECT_THAT(v.detail, HasSubstr("no review was created"));
  EXPECT_TRUE(approvals.drafts.empty());
  // A review rule without a role of its own runs under the session's role: reviewed as usual.
  Verdict payroll = settled("SELECT pay FROM hr.payroll", &approvals);
  EXPECT_EQ(payroll.refusal, Refusal::kNeedsApproval);
  EXPECT_EQ(approvals.drafts.size(), 1u);
}

TEST_F(GateTest, DenyNamesRuleReasonAndWhatMatched) {
  Verdict v = decide("SELECT ssn FROM people", monday_noon_);
  EXPECT_EQ(v.message, "denied by rule no-ssn: SSNs never leave");
  EXPECT_THAT(v.detail, HasSubstr("public.people"));
}

TEST_F(GateTest, ATimeWindowDecidesByTheGivenTimeOnly) {
  EXPECT_TRUE(decide("SELECT name FROM ops.jobs", monday_noon_).allowed());
  Verdict night = decide("SELECT name FROM ops.jobs", monday_night_);
  EXPECT_EQ(night.outcome, Outcome::kDeny);
  EXPECT_EQ(night.refusal, Refusal::kForbidden);
}

TEST_F(GateTest, DecidingAgainAtExecutionRefusesAfterTheWindowCloses) {
  Gate gate(*policy_);
  std::vector<std::shared_ptr<const sql::Classification>> sqls = {
      classifier_.classify("SELECT name FROM ops.jobs")};
  Caller caller{binding_, {}};
  EXPECT_TRUE(gate.decideAgain(caller, sqls, ctx_, monday_noon_).allowed());
  Verdict v = gate.decideAgain(caller, sqls, ctx_, monday_night_);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_THAT(v.message, HasSubstr("decided again at execution"));
}

TEST_F(GateTest, DecidingAgainRefusesWhenAnyTextAPortalMayRunIsOutsideItsWindow) {
  Gate gate(*policy_);
  std::vector<std::shared_ptr<const sql::Classification>> sqls = {
      classifier_.classify("SELECT title FROM docs"),
      classifier_.classify("SELECT name FROM ops.jobs")};
  Caller caller{binding_, {}};
  EXPECT_TRUE(gate.decideAgain(caller, sqls, ctx_, monday_noon_).allowed());
  Verdict v = gate.decideAgain(caller, sqls, ctx_, monday_night_);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kForbidden);
  EXPECT_EQ(v.ruleId(), "default-deny");
}

TEST_F(GateTest, DecidingAgainAtTheEndOfTheWindowRefuses) {
  Gate gate(*policy_);
  std::vector<std::shared_ptr<const sql::Classification>> sqls = {
      classifier_.classify("SELECT name FROM ops.jobs")};
  Caller caller{binding_, {}};
  auto six_pm = monday_noon_ + std::chrono::hours(6);  // the window is 08:00-18:00, end exclusive
  EXPECT_TRUE(gate.decideAgain(caller, sqls, ctx_, six_pm - std::chrono::seconds(1)).allowed());
  EXPECT_EQ(gate.decideAgain(caller, sqls, ctx_, six_pm).outcome, Outcome::kDeny);
}

TEST_F(GateTest, DecidingAgainNeverHoldsForReview) {
  Gate gate(*policy_);
  std::vector<std::shared_ptr<const sql::Classification>> sqls = {
      classifier_.classify("SELECT email FROM crm.customers")};
  Verdict v = gate.decideAgain(Caller{binding_, {}}, sqls, ctx_, monday_noon_);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kNeedsApproval);
}

TEST_F(GateTest, DecideIsPureTheSameInputsGiveTheSameVerdict) {
  for (const char* sql : {"SELECT 1", "SELECT email FROM crm.customers", "DROP TABLE x"}) {
    Verdict a = decide(sql, monday_noon_);
    Verdict b = decide(sql, monday_noon_);
    EXPECT_EQ(a.outcome, b.outcome) << sql;
    EXPECT_EQ(a.message, b.message) << sql;
    EXPECT_EQ(a.key.fingerprint, b.key.fingerprint) << sql;
  }
}

TEST_F(GateTest, WaitModeReviewIsCreatedAndHeld) {
  FakeApprovals approvals;
  Verdict v = settled("SELECT email FROM crm.customers", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kReview);
  EXPECT_TRUE(v.hold);
  EXPECT_EQ(v.review_id, "r-1");
  EXPECT_THAT(v.message, HasSubstr("review r-1 created"));
  EXPECT_EQ(approvals.drafts,
            std::vector<std::string>{"owners-wait:SELECT email FROM crm.customers"});
}

TEST_F(GateTest, FailFastReviewIsCreatedAndRefusedNow) {
  FakeApprovals approvals;
  Verdict v = settled("SELECT pay FROM hr.payroll", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kNeedsApproval);
  EXPECT_FALSE(v.hold);
  EXPECT_EQ(v.review_id, "r-1");
  EXPECT_THAT(v.detail, HasSubstr("needs approval"));
}

TEST_F(GateTest, AnApprovalForExactlyThisStatementIsConsumedOnce) {
  FakeApprovals approvals;
  std::string sql = "SELECT pay FROM hr.payroll WHERE id = 7";
  ApprovalKey key = approvalKey(*classifier_.classify(sql), sql);
  approvals.approved[key.fingerprint + "/" + key.params_hash] = "r-9";
  Verdict first = settled(sql, &approvals);
  EXPECT_TRUE(first.allowed());
  EXPECT_EQ(first.approval, "r-9");
  EXPECT_EQ(first.decision.effect, policy::Effect::kAllow);
  Verdict second = settled(sql, &approvals);
  EXPECT_FALSE(second.allowed());
  EXPECT_EQ(second.review_id, "r-1");
}

TEST_F(GateTest, AnApprovalDoesNotCoverOtherLiterals) {
  FakeApprovals approvals;
  std::string approved_sql = "SELECT pay FROM hr.payroll WHERE id = 7";
  ApprovalKey key = approvalKey(*classifier_.classify(approved_sql), approved_sql);
  approvals.approved[key.fingerprint + "/" + key.params_hash] = "r-9";
  Verdict v = settled("SELECT pay FROM hr.payroll WHERE id = 8", &approvals);
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(approvals.approved.size(), 1u);
}

TEST_F(GateTest, ANamedPreparedStatementCannotWaitForAOneTimeApproval) {
  FakeApprovals approvals;
  Verdict v = settled("SELECT email FROM crm.customers", &approvals, /*reusable=*/true);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_THAT(v.message, HasSubstr("cannot be prepared as a named statement"));
  EXPECT_EQ(approvals.consumed_calls, 0);
  EXPECT_TRUE(approvals.drafts.empty());
}

TEST_F(GateTest, WithoutAStoreAReviewIsRefused) {
  Verdict v = settled("SELECT email FROM crm.customers", nullptr);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_THAT(v.message, HasSubstr("no store for reviews"));
}

TEST_F(GateTest, AReviewThatCannotBeCreatedIsRefused) {
  FakeApprovals approvals;
  approvals.fail_create = true;
  Verdict v = settled("SELECT email FROM crm.customers", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_THAT(v.message, HasSubstr("cannot create a review: the gateway's state store is "
                                   "unavailable"));
  EXPECT_THAT(v.message, Not(HasSubstr("store unavailable")));  // the cause stays in the log
}

TEST_F(GateTest, ASessionGrantFoundLaterAllowsAndIsHandedBack) {
  FakeApprovals approvals;
  approvals.grant = GrantInfo{"g-1", "vault-session", monday_night_};
  Verdict v = settled("SELECT k FROM vault.keys", &approvals);
  EXPECT_TRUE(v.allowed());
  ASSERT_TRUE(v.grant);
  EXPECT_EQ(v.grant->id, "g-1");
  EXPECT_TRUE(approvals.drafts.empty());  // session scope: no statement review
}

TEST_F(GateTest, SessionScopeWithoutAGrantIsRefusedWithoutCreatingAReview) {
  FakeApprovals approvals;
  Verdict v = settled("SELECT k FROM vault.keys", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kNeedsApproval);
  EXPECT_TRUE(approvals.drafts.empty());
}

TEST_F(GateTest, AGrantForAnotherRuleDoesNotCoverThisOne) {
  FakeApprovals approvals;
  approvals.grant = GrantInfo{"g-1", "payroll-now", monday_night_};
  Verdict v = settled("SELECT k FROM vault.keys", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
}

TEST_F(GateTest, GrantedRuleIdsUnlockTheirReview) {
  Verdict v = decide("SELECT email FROM crm.customers", monday_noon_, {"owners-wait"});
  EXPECT_TRUE(v.allowed());
}

TEST_F(GateTest, SettlingAnAllowOrDenyTouchesNoStore) {
  FakeApprovals approvals;
  EXPECT_TRUE(settled("SELECT 1", &approvals).allowed());
  EXPECT_FALSE(settled("DELETE FROM docs", &approvals).allowed());
  EXPECT_EQ(approvals.consumed_calls, 0);
  EXPECT_TRUE(approvals.drafts.empty());
}

TEST_F(GateTest, RefusalNamesAreStable) {
  EXPECT_EQ(refusalName(Refusal::kUnrecorded), "unrecorded");
  EXPECT_EQ(refusalName(Refusal::kUnknownName), "unknown-name");
  Verdict v = Verdict::refuse(Refusal::kLimit, "builtin:limits", "too many", "limits.x");
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.ruleId(), "builtin:limits");
  EXPECT_EQ(v.decision.effect, policy::Effect::kDeny);
}

constexpr char kHttpRules[] = R"(
- { id: search, reason: pipelines search, action: allow, role: searcher,
    match: { groups: [rag], resource: kb-http, methods: [POST],
             paths: ["/collections/{c}/points/search"], body: [{ pointer: /limit, max: 100 }] },
    response: { max_items: 50, items: $.result, max_bytes: 1MB } }
- { id: wide-review, reason: wide searches need an owner, action: review, mode: wait,
    match: { resource: kb-http, paths: ["/collections/{c}/points/search"],
             body: [{ pointer: /limit, min: 51 }] },
    approvers: { groups: [owners] } }
- { id: admin, match: { groups: [rag], resource: kb-http, paths: ["/admin/**"] }, action: allow }
- { id: admin-session, match: { resource: kb-http, paths: ["/admin/**"] }, action: review,
    approvers: { groups: [owners] }, scope: session }
- { id: no-delete, reason: nothing is deleted, match: { resource: kb-http, methods: [DELETE] },
    action: deny }
)";

class HttpGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto node = config::Node::parse(kHttpRules, "policy.yaml");
    ASSERT_TRUE(node);
    config::Errors errors;
    auto p = policy::Policy::compile(*node, errors);
    ASSERT_TRUE(p) << errors.joined();
    policy_ = *p;
    identity::Identity who;
    who.subject = "bot";
    who.groups = {"rag"};
    binding_ = policy_->bind(who, "kb-http", now_);
  }
  // Decides and settles one request; `body` is JSON text, `digest` stands for its SHA-256.
  Verdict run(std::string method, std::string path, std::string body, std::string digest,
              Approvals* approvals, bool settle = true) {
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(body, ec);
    policy::HttpFacts facts{.method = method,
                            .path = path,
                            .body = body.empty() || ec ? nullptr : &parsed,
                            .body_present = !body.empty()};
    std::string text = method + " " + path + "\n" + body;
    HttpRequest request{.facts = facts, .text = text, .body_digest = digest};
    Gate gate(*policy_);
    Caller caller{binding_, {}};
    Verdict v = gate.decide(caller, request, now_);
    return settle ? gate.settle(std::move(v), caller, request, approvals, now_) : v;
  }
  static std::string keyOf(std::string method, std::string path, std::string digest) {
    policy::HttpFacts facts{.method = method, .path = path};
    ApprovalKey key = approvalKey(facts, digest);
    return key.fingerprint + "/" + key.params_hash;
  }

  std::shared_ptr<const policy::Policy> policy_;
  policy::Binding binding_;
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1717416000)};
};

TEST_F(HttpGateTest, AnAllowedRequestCarriesTheRulesResponseLimits) {
  FakeApprovals approvals;
  Verdict v = run("POST", "/collections/docs/points/search", R"({"limit":10})", "d1", &approvals);
  ASSERT_TRUE(v.allowed()) << v.message << v.detail;
  EXPECT_EQ(v.ruleId(), "search");
  EXPECT_EQ(v.max_items, 50);
  EXPECT_EQ(v.items_path, "$.result");
  EXPECT_EQ(v.max_response_bytes, 1024 * 1024);
  EXPECT_EQ(v.decision.role, "searcher");
  EXPECT_EQ(approvals.consumed_calls, 0);
}

TEST_F(HttpGateTest, ADeniedRequestIsForbiddenAndNamesRuleAndRequest) {
  Verdict v = run("DELETE", "/collections/docs", "", "", nullptr);
  EXPECT_EQ(v.outcome, Outcome::kDeny);
  EXPECT_EQ(v.refusal, Refusal::kForbidden);
  EXPECT_EQ(v.message, "denied by rule no-delete: nothing is deleted");
  EXPECT_EQ(v.detail, "DELETE /collections/docs");
  Verdict over = run("POST", "/collections/docs/points/search", R"({"limit":500})", "d", nullptr);
  EXPECT_EQ(over.ruleId(), "default-deny");
  EXPECT_EQ(over.detail, "body /limit is 500, above the maximum 100 of rule search");
}

TEST_F(HttpGateTest, AReviewIsCreatedWithTheRequestTextAndHeld) {
  FakeApprovals approvals;
  Verdict v = run("POST", "/collections/docs/points/search", R"({"limit":60})", "d1", &approvals);
  EXPECT_EQ(v.outcome, Outcome::kReview);
  EXPECT_TRUE(v.hold);
  EXPECT_THAT(v.detail, HasSubstr("this request needs approval"));
  EXPECT_EQ(v.key.fingerprint, "http:POST /collections/docs/points/search");
  EXPECT_EQ(
      approvals.drafts,
      std::vector<std::string>{"wide-review:POST /collections/docs/points/search\n{\"limit\":60}"});
}

TEST_F(HttpGateTest, AOneTimeApprovalIsConsumedOnlyByTheSameBody) {
  FakeApprovals approvals;
  approvals.approved[keyOf("POST", "/collections/docs/points/search", "digest-60")] = "r-7";
  Verdict other =
      run("POST", "/collections/docs/points/search", R"({"limit":61})", "digest-61", &approvals);
  EXPECT_FALSE(other.allowed());
  EXPECT_EQ(approvals.approved.size(), 1u);
  Verdict same =
      run("POST", "/collections/docs/points/search", R"({"limit":60})", "digest-60", &approvals);
  ASSERT_TRUE(same.allowed()) << same.message;
  EXPECT_EQ(same.approval, "r-7");
  EXPECT_EQ(same.max_items, 50);  // the allow rule still limits an approved request
  EXPECT_TRUE(approvals.approved.empty());
  Verdict again =
      run("POST", "/collections/docs/points/search", R"({"limit":60})", "digest-60", &approvals);
  EXPECT_FALSE(again.allowed());
}

TEST_F(HttpGateTest, TheApprovalKeyCoversMethodPathQueryAndBody) {
  std::vector<std::pair<std::string, std::string>> q1 = {{"a", "1"}}, q2 = {{"a", "2"}};
  std::vector<std::pair<std::string, std::string>> split = {{"a", "1b"}, {"", ""}};
  auto key = [](std::string_view m, std::string_view p,
                const std::vector<std::pair<std::string, std::string>>& q, std::string_view d) {
    policy::HttpFacts f{.method = m, .path = p, .query = q};
    return approvalKey(f, d).params_hash;
  };
  std::string base = key("POST", "/x", q1, "d");
  EXPECT_EQ(base, key("post", "/x", q1, "d"));
  EXPECT_NE(base, key("PUT", "/x", q1, "d"));
  EXPECT_NE(base, key("POST", "/y", q1, "d"));
  EXPECT_NE(base, key("POST", "/x", q2, "d"));
  EXPECT_NE(base, key("POST", "/x", {}, "d"));
  EXPECT_NE(base, key("POST", "/x", q1, "e"));
  EXPECT_NE(key("POST", "/x", q1, "b"), key("POST", "/x", split, ""));
  EXPECT_EQ(base.size(), 64u);
}

TEST_F(HttpGateTest, ASessionGrantAllowsTheRequestsItsRuleReviews) {
  FakeApprovals approvals;
  Verdict held = run("GET", "/admin/stats", "", "", &approvals);
  EXPECT_EQ(held.outcome, Outcome::kDeny);
  EXPECT_EQ(held.refusal, Refusal::kNeedsApproval);
  EXPECT_TRUE(approvals.drafts.empty());
  approvals.grant = GrantInfo{"g-1", "admin-session", now_ + std::chrono::hours(1)};
  Verdict v = run("GET", "/admin/stats", "", "", &approvals);
  ASSERT_TRUE(v.allowed()) << v.message;
  EXPECT_EQ(v.ruleId(), "admin");
  ASSERT_TRUE(v.grant);
  EXPECT_EQ(v.grant->id, "g-1");
}

}  // namespace
}  // namespace jg::gate
