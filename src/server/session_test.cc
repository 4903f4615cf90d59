// A PostgreSQL session, byte by byte, without sockets: the real Session between a scripted
// client and a scripted upstream (testing/session_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/testing/session_harness.h"

namespace jg::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Script = std::function<asio::awaitable<void>(Client&)>;

Canned rows(std::vector<std::string> columns, std::vector<Row> values) {
  Canned c;
  c.columns = std::move(columns);
  c.rows = std::move(values);
  return c;
}

Canned command(std::string tag, char txn_after = 0) {
  Canned c;
  c.tag = std::move(tag);
  c.txn_after = txn_after;
  return c;
}

constexpr char kPolicies[] = R"(policies:
  - { id: limited, match: { groups: [eng], tables: [public.big] }, allow: [select], row_limit: 2 }
  - { id: read, match: { groups: [eng] }, allow: [select, transaction, set, show] }
  - { id: owners, match: { tables: [crm.customers] }, action: review, mode: wait,
      approvers: { groups: [owners] } }
  - { id: owners-now, match: { tables: [hr.payroll] }, action: review, mode: fail_fast,
      approvers: { groups: [owners] } }
)";

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.configError().empty()) << h_.configError();
    h_.upstream.on("SELECT 1", rows({"x"}, {{"1"}}));
    h_.upstream.on("SELECT title FROM docs", rows({"title"}, {{"a"}, {"b"}, {"c"}}));
    h_.upstream.on("SELECT n FROM public.big", rows({"n"}, {{"1"}, {"2"}, {"3"}, {"4"}}));
    h_.upstream.on("SELECT email FROM crm.customers", rows({"email"}, {{"x@y.z"}}));
    h_.upstream.on("BEGIN", command("BEGIN", 'T'));
    h_.upstream.on("COMMIT", command("COMMIT", 'I'));
    h_.upstream.on("DELETE FROM docs", command("DELETE 3"));
  }
  void run(const Script& s) { h_.run(s); }

  SessionHarness h_{kPolicies};
};

TEST_F(SessionTest, StartupEndsInReadyForQueryWithTheUpstreamsParameters) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect();
    EXPECT_EQ(kinds(m), "RSSSKZ");
  });
  EXPECT_TRUE(h_.sessionEnded());
}

TEST_F(SessionTest, AWrongPasswordIsRefusedWith28P01) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect("kb", "wrong");
    EXPECT_THAT(errorCodes(m), ElementsAre("28P01"));
  });
}

TEST_F(SessionTest, AnAllowedQueryReachesTheUpstreamAndItsRowsTheClient) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT title FROM docs");
    EXPECT_EQ(kinds(m), "TDDDCZ");
    EXPECT_EQ(m[1].row(), Row{"a"});
  });
  EXPECT_TRUE(h_.upstream.ran("SELECT title FROM docs"));
}

TEST_F(SessionTest, ADeniedQueryNeverReachesTheUpstream) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("DELETE FROM docs");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(m[0].message(), HasSubstr("default-deny"));
  });
  EXPECT_FALSE(h_.upstream.ran("DELETE FROM docs"));
  EXPECT_TRUE(h_.upstream.ran("JITGATE REFUSED"));
}

TEST_F(SessionTest, ARefusedStatementInAPipelineLeavesTheOthersToRun) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S() +
                              P("", "DELETE FROM docs") + B("", "") + E("") + S() +
                              P("", "SELECT title FROM docs") + B("", "") + E("") + S());
    m.push_back(Message{});  // separator: the first Sync's answer is read
    auto second = co_await c.untilReady();
    auto third = co_await c.untilReady();
    EXPECT_EQ(kinds(m).substr(0, 5), "12DCZ");
    EXPECT_THAT(errorCodes(second), ElementsAre("42501"));
    EXPECT_EQ(kinds(third), "12DDDCZ");
  });
  EXPECT_FALSE(h_.upstream.ran("DELETE FROM docs"));
}

TEST_F(SessionTest, ARowLimitHoldsAcrossSeveralExecutesOfOnePortal) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT n FROM public.big") + B("p", "") + E("p", 1) +
                              E("p", 1) + E("p", 1) + S());
    EXPECT_EQ(kinds(m), "12DsDsEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("54000"));
  });
}

TEST_F(SessionTest, AnExecuteOfAnUnknownPortalIsRefusedWith34000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(E("nope") + S());
    EXPECT_THAT(errorCodes(m), ElementsAre("34000"));
  });
}

TEST_F(SessionTest, AHeldStatementRunsOnceApproved) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT email FROM crm.customers"));
    auto notice = co_await c.until('N');
    EXPECT_THAT(notice.back().message(), HasSubstr("waiting for approval"));
    auto pending = h_.pendingReviews();
    EXPECT_EQ(pending.size(), 1u);
    if (!pending.empty()) {
      h_.decide(pending[0], true);
    }
    auto m = co_await c.untilReady();
    EXPECT_EQ(kinds(m), "TDCZ");
  });
  EXPECT_TRUE(h_.upstream.ran("SELECT email FROM crm.customers"));
}

TEST_F(SessionTest, AHeldStatementRejectedIsRefusedAndNeverRuns) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT email FROM crm.customers"));
    co_await c.until('N');
    auto pending = h_.pendingReviews();
    if (!pending.empty()) {
      h_.decide(pending[0], false);
    }
    auto m = co_await c.untilReady();
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(m[0].message(), HasSubstr("rejected"));
  });
  EXPECT_FALSE(h_.upstream.ran("SELECT email FROM crm.customers"));
}

TEST_F(SessionTest, AFailFastReviewIsRefusedAtOnceWithItsId) {
  h_.upstream.on("SELECT pay FROM hr.payroll", rows({"pay"}, {{"1"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT pay FROM hr.payroll");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(m[0].message(), HasSubstr("review r-"));
  });
  EXPECT_FALSE(h_.upstream.ran("SELECT pay FROM hr.payroll"));
}

TEST_F(SessionTest, AnUpstreamErrorMidResultReachesTheClient) {
  Canned c = rows({"x"}, {{"1"}, {"2"}, {"3"}});
  c.error_after = 2;
  c.error_sqlstate = "22012";
  c.error_message = "division by zero";
  h_.upstream.on("SELECT x FROM docs", c);
  run([&](Client& cl) -> asio::awaitable<void> {
    co_await cl.connect();
    auto m = co_await cl.query("SELECT x FROM docs");
    EXPECT_EQ(kinds(m), "TDDEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("22012"));
  });
}

TEST_F(SessionTest, ClientDisconnectMidSessionEndsTheSession) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT 1"));
    c.close();
  });
  EXPECT_TRUE(h_.sessionEnded());
}

}  // namespace
}  // namespace jg::server::testing
