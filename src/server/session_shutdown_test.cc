// Shutdown of a session (Session::drain, as SIGTERM does it): an idle session ends at once, a
// session with requests in flight gets every answer first; both with FATAL 57P01.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/testing/session_harness.h"

namespace jg::server::testing {
namespace {

using ::testing::ElementsAre;

constexpr char kShutdown[] = "terminating connection due to administrator command";

class SessionShutdownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.configError().empty()) << h_.configError();
    Canned one;
    one.columns = {"x"};
    one.rows = {{"1"}};
    h_.upstream.on("SELECT 1", one);
    Canned begin;
    begin.tag = "BEGIN";
    begin.txn_after = 'T';
    h_.upstream.on("BEGIN", begin);
  }

  SessionHarness h_;
};

TEST_F(SessionShutdownTest, AnIdleSessionEndsAtOnceWith57P01) {
  h_.run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
    h_.drain();
    auto m = co_await c.untilClosed();
    EXPECT_EQ(kinds(m), "E");
    EXPECT_THAT(errorCodes(m), ElementsAre("57P01"));
    EXPECT_EQ(m[0].message(), kShutdown);
  });
  EXPECT_TRUE(h_.sessionEnded());
}

TEST_F(SessionShutdownTest, ASessionIdleInATransactionEndsAtOnce) {
  h_.run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.query("BEGIN")), "CZ");
    h_.drain();
    EXPECT_THAT(errorCodes(co_await c.untilClosed()), ElementsAre("57P01"));
  });
}

TEST_F(SessionShutdownTest, RequestsInFlightAreAnsweredBeforeTheSessionEnds) {
  h_.run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT 1") + Q("SELECT 1"));  // pipelined: both go upstream first
    h_.drain();
    auto m = co_await c.untilClosed();
    EXPECT_EQ(kinds(m), "TDCZTDCZE");
    EXPECT_THAT(errorCodes(m), ElementsAre("57P01"));
  });
  EXPECT_EQ(h_.upstream.sql().size(), 2u);
}

TEST_F(SessionShutdownTest, ASessionDrainedDuringStartupEndsAfterItsFirstReadyForQuery) {
  h_.run([&](Client& c) -> asio::awaitable<void> {
    h_.drain();  // while it waits for the startup packet
    auto m = co_await c.connect();
    EXPECT_EQ(m.back().type, 'Z');
    EXPECT_THAT(errorCodes(co_await c.untilClosed()), ElementsAre("57P01"));
  });
}

}  // namespace
}  // namespace jg::server::testing
