// A client that goes away at any step: during startup, in the middle of a batch, while a result
// streams, while a statement is held for approval. The session ends on its own, closes the
// upstream, and its audit log records the end. Also: what the audit log holds for a refusal.
#include <algorithm>

#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

class DisconnectTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    h().recordAudit();
    ASSERT_TRUE(h().configError().empty()) << h().configError();
  }
  // The audit log ends with the session's end.
  void expectEndRecorded() {
    auto types = h().auditTypes();
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.back(), "session_end");
  }
};

TEST_F(DisconnectTest, AClientGoneDuringStartupEndsTheSessionBeforeAnyUpstream) {
  run([&](Client& c) -> asio::awaitable<void> {
    Client::Params none;
    auto m = co_await c.startup(none);
    EXPECT_EQ(kinds(m), "R");  // asked for a password; the client leaves instead
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_EQ(h().upstreamConnects(), 0);
  expectEndRecorded();
}

TEST_F(DisconnectTest, AClientGoneMidSessionEndsTheSession) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT 1"));
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_TRUE(upstream().closed());
  expectEndRecorded();
}

TEST_F(DisconnectTest, AClientGoneMidBatchEndsTheSessionAndClosesTheUpstream) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string half = E("");
    co_await c.send(P("", "SELECT 1") + B("", "") + half.substr(0, 3));  // no Sync, cut short
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_TRUE(upstream().closed());
  EXPECT_FALSE(upstream().terminated());
  expectEndRecorded();
}

TEST_F(DisconnectTest, AClientGoneWhileAResultStreamsEndsTheSessionAndClosesTheUpstream) {
  Canned endless = rows({"x"}, {{"1"}, {"2"}, {"3"}});
  endless.stall_after = 1;  // one row, then the server takes its time
  upstream().on("SELECT x FROM docs", endless);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT x FROM docs"));
    auto m = co_await c.until('D');
    EXPECT_EQ(kinds(m), "TD");
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_TRUE(upstream().closed());
  expectEndRecorded();
}

TEST_F(DisconnectTest, AClientGoneWhileAStatementIsHeldEndsTheSessionAtOnce) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT email FROM crm.customers"));
    co_await c.until('N');
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_TRUE(upstream().closed());
  EXPECT_FALSE(upstream().ran("SELECT email FROM crm.customers"));
  expectEndRecorded();
}

TEST_F(DisconnectTest, TheUpstreamGoneMidResultIsRecordedAsTheSessionsEnd) {
  Canned cut = rows({"x"}, {{"1"}, {"2"}});
  cut.close_after_rows = true;
  upstream().on("SELECT x FROM docs", cut);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT x FROM docs"));
    co_await c.untilClosed();
  });
  auto events = h().auditEvents();
  ASSERT_FALSE(events.empty());
  const auto* end = std::get_if<audit::SessionEndEvent>(&events.back().body);
  ASSERT_NE(end, nullptr);
  EXPECT_THAT(end->reason, HasSubstr("lost connection to the upstream server"));
}

TEST_F(DisconnectTest, AHeldStatementIsRecordedWithItsReviewAndRunsOnceApproved) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT email FROM crm.customers"));
    co_await c.until('N');
    h().decide(review(), true);
    co_await c.untilReady();
    co_await c.send(X());
  });
  auto events = h().auditEvents();
  std::vector<audit::StatementEvent> statements;
  for (const auto& e : events) {
    if (const auto* st = std::get_if<audit::StatementEvent>(&e.body)) {
      statements.push_back(*st);
    }
  }
  ASSERT_EQ(statements.size(), 1u);
  EXPECT_EQ(statements[0].decision, "review");
  EXPECT_EQ(statements[0].rule_id, "owners");
  EXPECT_THAT(statements[0].review_id, HasSubstr("r-"));
}

TEST_F(DisconnectTest, ARefusedStatementIsRecordedWithItsDecisionAndTheGatewaysError) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("DELETE FROM docs");
    co_await c.send(X());
  });
  auto events = h().auditEvents();
  auto statement = std::find_if(events.begin(), events.end(), [](const audit::Event& e) {
    return std::holds_alternative<audit::StatementEvent>(e.body);
  });
  ASSERT_NE(statement, events.end());
  const auto& st = std::get<audit::StatementEvent>(statement->body);
  EXPECT_EQ(st.text, "DELETE FROM docs");
  EXPECT_EQ(st.decision, "deny");
  EXPECT_EQ(st.rule_id, "default-deny");
  bool gateway_error = std::any_of(events.begin(), events.end(), [](const audit::Event& e) {
    const auto* err = std::get_if<audit::ErrorEvent>(&e.body);
    return err != nullptr && err->source == "gateway" && err->sqlstate == "42501";
  });
  EXPECT_TRUE(gateway_error);
  const auto* end = std::get_if<audit::SessionEndEvent>(&events.back().body);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->reason, "client-closed");
}

}  // namespace
}  // namespace jg::server::testing
