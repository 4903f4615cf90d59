#include "access/api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "access/test_util.h"

namespace jg::access {
namespace {

namespace json = boost::json;
using testing::person;

constexpr char kPolicy[] = R"(
- { id: kb-read, match: { resource: kb, groups: [engineers] }, allow: [select], role: reader }
- { id: kb-session, match: { resource: kb, groups: [engineers] }, action: review,
    scope: session, approvers: { groups: [data-owners], count: 2 }, grant: 2h }
- { id: hr-read, match: { resource: hr }, allow: [select], role: reader }
)";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::openSqlite(dir_.file("state.db"));
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    BrokerOptions o;
    o.clock = &clock_;
    o.start_sweeper = false;
    broker_ = *Broker::create(*store_, o);
    auto node = config::Node::parse(kPolicy, "policy.yaml");
    config::Errors errors;
    auto p = policy::Policy::compile(*node, errors);
    ASSERT_TRUE(p) << errors.joined();
    policy_ = *p;
    api_ = std::make_unique<Api>(
        broker_, [this] { return policy_; }, clock_);
  }

  ApiReply call(const std::string& method, const std::string& path, const identity::Identity& who,
                const std::string& body = {}, std::map<std::string, std::string> query = {}) {
    auto r = api_->handle(ApiRequest{method, path, std::move(query), body}, who);
    EXPECT_TRUE(r) << path;
    return r ? *r : ApiReply{0, nullptr};
  }

  static std::string str(const json::value& v, std::string_view key) {
    return std::string(v.as_object().at(key).as_string());
  }

  testing::TempDir dir_;
  ManualClock clock_ = ManualClock::atUnix(1'700'000'000);
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<Broker> broker_;
  std::shared_ptr<const policy::Policy> policy_;
  std::unique_ptr<Api> api_;
  identity::Identity alice_ = person("alice", {"engineers"});
  identity::Identity olga_ = person("olga", {"data-owners"});
  identity::Identity pete_ = person("pete", {"data-owners"});
  identity::Identity eve_ = person("eve", {"engineers"});
};

TEST_F(ApiTest, AskAheadUsesTheSessionReviewRuleOfThePolicy) {
  auto r = call("POST", "/api/v1/reviews", alice_,
                R"({"resource":"kb","duration":"30m","reason":"incident 7"})");
  ASSERT_EQ(r.status, 201) << json::serialize(r.body);
  EXPECT_EQ(str(r.body, "rule"), "kb-session");
  EXPECT_EQ(str(r.body, "role"), "reader");
  EXPECT_EQ(str(r.body, "state"), "pending");
  EXPECT_EQ(r.body.at("grant_duration_seconds").as_int64(), 1800);
  EXPECT_EQ(r.body.at("approvers").at("count").as_int64(), 2);
  EXPECT_NE(str(r.body, "hint").find("jitgate review approve"), std::string::npos);
}

TEST_F(ApiTest, AnApproverListsOnePersonsReviewsAndOthersOnlyTheirOwn) {
  ASSERT_EQ(call("POST", "/api/v1/reviews", alice_, R"({"resource":"kb","reason":"a"})").status,
            201);
  ASSERT_EQ(call("POST", "/api/v1/reviews", eve_, R"({"resource":"kb","reason":"e"})").status, 201);
  auto alices = call("GET", "/api/v1/reviews", olga_, {}, {{"requester", alice_.subject}});
  ASSERT_EQ(alices.body.at("reviews").as_array().size(), 1u) << json::serialize(alices.body);
  EXPECT_EQ(alices.body.at("reviews").at(0).at("reason").as_string(), "a");
  EXPECT_EQ(call("GET", "/api/v1/reviews", olga_).body.at("reviews").as_array().size(), 2u);
  // Not an approver: the requester filter cannot widen the list beyond their own.
  auto eves = call("GET", "/api/v1/reviews", eve_, {}, {{"requester", alice_.subject}});
  ASSERT_EQ(eves.body.at("reviews").as_array().size(), 1u);
  EXPECT_EQ(eves.body.at("reviews").at(0).at("reason").as_string(), "e");
}

TEST_F(ApiTest, AskAheadRefusals) {
  EXPECT_EQ(call("POST", "/api/v1/reviews", alice_, "not json").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/reviews", alice_, R"({"resource":"kb"})").status, 400);
  EXPECT_EQ(
      call("POST", "/api/v1/reviews", alice_, R"({"resource":"kb","reason":"x","duration":"soon"})")
          .status,
      400);
  // Nothing to approve on hr, and no access at all to vault.
  EXPECT_EQ(call("POST", "/api/v1/reviews", alice_, R"({"resource":"hr","reason":"x"})").status,
            409);
  EXPECT_EQ(call("POST", "/api/v1/reviews", alice_, R"({"resource":"vault","reason":"x"})").status,
            403);
}

TEST_F(ApiTest, TwoApproversThenGrantThenRevoke) {
  auto created =
      call("POST", "/api/v1/reviews", alice_, R"({"resource":"kb","reason":"incident 7"})");
  const std::string id = str(created.body, "id");
  auto self = call("POST", "/api/v1/reviews/" + id + "/approve", alice_);
  EXPECT_EQ(self.status, 403);
  EXPECT_EQ(str(self.body, "error"), "forbidden");
  EXPECT_EQ(call("POST", "/api/v1/reviews/" + id + "/approve", eve_).status, 403);
  auto first = call("POST", "/api/v1/reviews/" + id + "/approve", olga_, R"({"comment":"ok"})");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(str(first.body, "state"), "pending");
  EXPECT_EQ(call("POST", "/api/v1/reviews/" + id + "/approve", olga_).status, 409);
  auto second = call("POST", "/api/v1/reviews/" + id + "/approve", pete_);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(str(second.body, "state"), "approved");
  const std::string grant = str(second.body, "grant_id");
  EXPECT_EQ(call("POST", "/api/v1/reviews/" + id + "/reject", pete_).status, 409);

  auto grants = call("GET", "/api/v1/grants", olga_, {}, {{"state", "active"}});
  ASSERT_EQ(grants.body.at("grants").as_array().size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/grants/" + grant, alice_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/grants/" + grant, eve_).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/grants/" + grant + "/revoke", eve_).status, 403);
  auto revoked = call("POST", "/api/v1/grants/" + grant + "/revoke", olga_, R"({"reason":"done"})");
  ASSERT_EQ(revoked.status, 200);
  EXPECT_EQ(str(revoked.body, "state"), "revoked");
  EXPECT_EQ(call("POST", "/api/v1/grants/" + grant + "/revoke", olga_).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/grants/g-none/revoke", olga_).status, 404);
}

TEST_F(ApiTest, NonApproversSeeOnlyTheirOwnReviews) {
  call("POST", "/api/v1/reviews", alice_, R"({"resource":"kb","reason":"a"})");
  call("POST", "/api/v1/reviews", eve_, R"({"resource":"kb","reason":"e"})");
  EXPECT_EQ(call("GET", "/api/v1/reviews", olga_).body.at("reviews").as_array().size(), 2u);
  auto mine = call("GET", "/api/v1/reviews", alice_);
  ASSERT_EQ(mine.body.at("reviews").as_array().size(), 1u);
  const std::string eve_review =
      str(call("GET", "/api/v1/reviews", eve_).body.at("reviews").as_array()[0], "id");
  EXPECT_EQ(call("GET", "/api/v1/reviews/" + eve_review, alice_).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/reviews/" + eve_review, eve_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/reviews/" + eve_review, olga_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/reviews/r-missing", olga_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/reviews", olga_, {}, {{"state", "bogus"}}).status, 400);
}

TEST_F(ApiTest, UnknownPathsAndMethods) {
  EXPECT_FALSE(api_->handle(ApiRequest{"GET", "/api/v1/other", {}, {}}, alice_));
  EXPECT_EQ(call("DELETE", "/api/v1/reviews", alice_).status, 405);
  EXPECT_EQ(call("POST", "/api/v1/reviews/r-1/explode", olga_).status, 404);
}

TEST_F(ApiTest, ApproversComeFromThePolicy) {
  EXPECT_TRUE(api_->isApprover(olga_));
  EXPECT_FALSE(api_->isApprover(alice_));
}

}  // namespace
}  // namespace jg::access
