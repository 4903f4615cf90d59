// A PostgreSQL session, byte by byte, without sockets: the real Session between a scripted
// client and a scripted upstream (testing/session_harness.h). This file: startup and the plain
// path of a statement. Siblings: session_refusal_test.cc, session_extended_test.cc,
// session_approval_test.cc, session_result_test.cc, session_disconnect_test.cc.
#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

TEST_F(SessionTest, StartupEndsInReadyForQueryWithTheUpstreamsParameters) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect();
    EXPECT_EQ(kinds(m), "RSSSKZ");
    EXPECT_EQ(readyStatus(m), 'I');
  });
  EXPECT_TRUE(h().sessionEnded());
}

TEST_F(SessionTest, AWrongPasswordIsRefusedWith28P01) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect("kb", "wrong");
    EXPECT_THAT(errorCodes(m), ElementsAre("28P01"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, AReplicationConnectionIsRefusedAtStartupWith0A000) {
  run([&](Client& c) -> asio::awaitable<void> {
    Client::Params params = {{"replication", "database"}};
    auto m = co_await c.startup(params);
    EXPECT_TRUE(endedWith(m, "0A000"));
    EXPECT_THAT(m.back().message(), HasSubstr("replication"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, AnOptionsStartupParameterIsRefusedWith0A000) {
  run([&](Client& c) -> asio::awaitable<void> {
    Client::Params params = {{"options", "-c role=admin"}};
    auto m = co_await c.startup(params);
    EXPECT_TRUE(endedWith(m, "0A000"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, AnUnknownResourceIsRefusedWith3D000) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect("nope");
    EXPECT_TRUE(endedWith(m, "3D000"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, ACallerDeniedByPolicyIsRefusedAtConnectWith42501) {
  use(R"(policies:
  - { id: no-eng, reason: eng has no access here, match: { groups: [eng] }, action: deny }
  - { id: read, match: {}, allow: [select] }
)");
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect();
    EXPECT_TRUE(endedWith(m, "42501"));
    EXPECT_THAT(m.back().message(), HasSubstr("no-eng"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, AnAllowedQueryReachesTheUpstreamAndItsRowsTheClient) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT title FROM docs");
    EXPECT_EQ(kinds(m), "TDDDCZ");
    EXPECT_EQ(m[1].row(), Row{"a"});
  });
  EXPECT_TRUE(upstream().ran("SELECT title FROM docs"));
}

TEST_F(SessionTest, TheSummaryCountsTheStatementsTheGateDecided) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(h().statementsDecided(), 0u);
    auto first = co_await c.query("SELECT title FROM docs");
    auto second = co_await c.query("SELECT 1");
    EXPECT_EQ(h().statementsDecided(), 2u);
  });
}

TEST_F(SessionTest, ATransactionBlockReportsItsStatusInReadyForQuery) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(readyStatus(co_await c.query("BEGIN")), 'T');
    EXPECT_EQ(readyStatus(co_await c.query("SELECT 1")), 'T');
    EXPECT_EQ(readyStatus(co_await c.query("COMMIT")), 'I');
  });
}

TEST_F(SessionTest, ATerminateEndsTheSessionAndReachesTheUpstream) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(X());
    auto rest = co_await c.untilClosed();
    EXPECT_THAT(rest, IsEmpty());
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_TRUE(upstream().terminated());
}

TEST_F(SessionTest, ATerminationFromOutsideEndsTheSessionWithItsFatal) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    h().terminate("57P01", "the grant g-1 was revoked");
    auto m = co_await c.untilClosed();
    EXPECT_TRUE(endedWith(m, "57P01"));
    EXPECT_THAT(m.back().message(), HasSubstr("revoked"));
  });
  EXPECT_TRUE(upstream().closed());
}

}  // namespace
}  // namespace jg::server::testing
