#include "server/audit_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "audit/recorder.h"
#include "audit/test_util.h"

namespace jg::server {
namespace {

namespace json = boost::json;
using audit::testing::TempAuditDir;

identity::Identity person(std::string email, std::vector<std::string> groups) {
  identity::Identity id;
  id.subject = email;
  id.email = std::move(email);
  id.groups = std::move(groups);
  return id;
}

// A recorded session "s1": one statement with a bound parameter and a result whose e-mail
// masking replaced, both sealed with the raw payload key.
class AuditApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings_ = dir_.settings();
    settings_.durability = audit::Durability::kOff;
    settings_.auditor_groups = {"auditors"};
    settings_.reveal_groups = {"auditors-raw"};
    auto rec = audit::Recorder::open(settings_);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    audit::StatementEvent st;
    st.statement_id = 1;
    st.text = "select email from customers where id = $1";
    st.kind = "select";
    st.decision = "allow";
    st.setParams({std::optional<std::string>("7")});
    audit::ResultRowsEvent rows;
    rows.statement_id = 1;
    rows.rows = {{std::optional<std::string>("[REDACTED]")}};
    rows.setRawRows({{std::optional<std::string>("ada@example.com")}});
    for (audit::EventBody body : std::vector<audit::EventBody>{
             st, audit::ResultStartEvent{1, {audit::Column{"email", 25, "", 0}}}, rows,
             audit::SessionEndEvent{"client-closed", 1, 1}}) {
      ASSERT_TRUE((*rec)->append(audit::Event{"s1", {}, std::move(body)}).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
  }

  AdminRequest reveal(std::string session, identity::Identity who, std::string body) const {
    AdminRequest r;
    r.method = boost::beast::http::verb::post;
    r.path = std::string(kSessionsPrefix) + session + std::string(kRevealSuffix);
    r.body = std::move(body);
    r.caller = std::move(who);
    return r;
  }

  AdminResponse run(const AdminRequest& req) {
    return handleAuditReveal(req, nullptr, settings_, [this](audit::EventBody e) {
      if (auto* r = std::get_if<audit::ReplayEvent>(&e)) {
        recorded_.push_back(*r);
        return record_status_;
      }
      refusals_.push_back(std::get<audit::AccessEvent>(e));
      return Status::ok();
    });
  }

  TempAuditDir dir_;
  audit::Settings settings_;
  std::vector<audit::ReplayEvent> recorded_;  // reveals
  std::vector<audit::AccessEvent> refusals_;
  Status record_status_ = Status::ok();
};

const identity::Identity kRita = person("rita@corp.example", {"auditors", "auditors-raw"});

TEST_F(AuditApiTest, RevealRecordsTheReasonThenOpensParametersAndRawRows) {
  AdminResponse r = run(reveal("s1", kRita, R"({"reason": "  ticket SEC-7 "})"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].replayed_session, "s1");
  EXPECT_TRUE(recorded_[0].raw);
  EXPECT_EQ(recorded_[0].actor, "rita@corp.example");
  EXPECT_EQ(recorded_[0].reason, "ticket SEC-7");
  json::object body = json::parse(r.body).as_object();
  EXPECT_TRUE(body["raw"].as_bool());
  std::string all = json::serialize(body["records"]);
  EXPECT_NE(all.find("ada@example.com"), std::string::npos) << all;
  EXPECT_NE(all.find("\"params_raw\""), std::string::npos) << all;
  EXPECT_EQ(all.find("\"raw_rows\""), std::string::npos) << all;  // opened, never sealed bytes
}

TEST_F(AuditApiTest, TheMaskedViewHasNoRawValues) {
  AdminRequest req;
  req.method = boost::beast::http::verb::get;
  req.path = std::string(kSessionsPrefix) + "s1";
  req.caller = person("otto@corp.example", {"auditors"});
  AdminResponse r = handleAuditSession(req, nullptr, settings_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("ada@example.com"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("[REDACTED]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"raw\":false"), std::string::npos) << r.body;
}

TEST_F(AuditApiTest, AnAuditorOutsideTheRevealGroupsIsRefusedAndNothingIsRecorded) {
  AdminResponse r =
      run(reveal("s1", person("otto@corp.example", {"auditors"}), R"({"reason":"x"})"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("members of auditors-raw"), std::string::npos) << r.body;
  EXPECT_TRUE(recorded_.empty());
  ASSERT_EQ(refusals_.size(), 1u);
  EXPECT_EQ(refusals_[0].action, "reveal.refused");
  EXPECT_EQ(refusals_[0].actor, "otto@corp.example");
  EXPECT_NE(refusals_[0].comment.find("session s1: "), std::string::npos) << refusals_[0].comment;
  EXPECT_NE(refusals_[0].comment.find("may not reveal"), std::string::npos);
}

TEST_F(AuditApiTest, RevealIsClosedWhenNoRevealGroupsAreConfigured) {
  settings_.reveal_groups.clear();
  AdminResponse r = run(reveal("s1", kRita, R"({"reason":"x"})"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("audit.reveal_groups"), std::string::npos) << r.body;
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(AuditApiTest, ANonAuditorIsRefusedBeforeTheRevealGroupsAreLookedAt) {
  AdminResponse r = run(reveal("s1", person("hugo@corp.example", {"auditors-raw"}), "{}"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("not an auditor"), std::string::npos) << r.body;
  ASSERT_EQ(refusals_.size(), 1u);
  EXPECT_EQ(refusals_[0].actor, "hugo@corp.example");
}

TEST_F(AuditApiTest, RevealWithoutAReasonIsABadRequest) {
  const std::vector<std::string> bodies = {"",
                                           "{}",
                                           R"({"reason": "   "})",
                                           R"({"reason": 5})",
                                           "[1]",
                                           R"({"reason": ")" + std::string(501, 'x') + "\"}"};
  for (const std::string& body : bodies) {
    AdminResponse r = run(reveal("s1", kRita, body));
    EXPECT_EQ(r.status, 400) << body;
  }
  EXPECT_TRUE(recorded_.empty());
  EXPECT_EQ(refusals_.size(), bodies.size());
}

TEST_F(AuditApiTest, NothingIsShownWhenTheRevealCannotBeRecorded) {
  record_status_ = Status::error(Code::kUnavailable, "the audit log is not writable");
  AdminResponse r = run(reveal("s1", kRita, R"({"reason":"x"})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("ada@example.com"), std::string::npos) << r.body;
}

TEST_F(AuditApiTest, UnknownSessionsBadIdsAndOtherPathsAreTold) {
  EXPECT_EQ(run(reveal("s9", kRita, R"({"reason":"x"})")).status, 404);
  EXPECT_EQ(run(reveal("s%1", kRita, R"({"reason":"x"})")).status, 400);
  AdminRequest other = reveal("s1", kRita, R"({"reason":"x"})");
  other.path = std::string(kSessionsPrefix) + "s1/unmask";
  EXPECT_EQ(run(other).status, 404);
  EXPECT_TRUE(refusals_.empty());  // not refusals of a person: nothing to record
}

TEST_F(AuditApiTest, RevealIsUnavailableWhenRawPayloadsAreOff) {
  settings_.raw_payloads = false;
  AdminResponse r = run(reveal("s1", kRita, R"({"reason":"x"})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(recorded_.empty());
}

}  // namespace
}  // namespace jg::server
