// The extended protocol through the gateway: pipelines with a refused message, row limits over
// several Executes of one portal and over simple queries, the bounded state of a session
// (limits.max_prepared_statements, limits.max_portals, pending responses), and decisions taken
// again at Execute under a time-dependent policy.
#include <algorithm>
#include <chrono>

#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

TEST_F(SessionTest, ARefusedStatementInAPipelineLeavesTheOtherBatchesToRun) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(P("", "SELECT 1") + B("", "") + E("") + S() + P("", "DELETE FROM docs") +
                    B("", "") + E("") + S() + P("", "SELECT title FROM docs") + B("", "") + E("") +
                    S());
    auto first = co_await c.untilReady();
    auto second = co_await c.untilReady();
    auto third = co_await c.untilReady();
    EXPECT_EQ(kinds(first), "12DCZ");
    EXPECT_THAT(errorCodes(second), ElementsAre("42501"));
    EXPECT_EQ(kinds(third), "12DDDCZ");
  });
  EXPECT_FALSE(upstream().ran("DELETE FROM docs"));
}

TEST_F(SessionTest, ARefusedStatementMidBatchSkipsTheRestUpToSyncThenTheNextBatchRuns) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + P("", "DELETE FROM docs") +
                              B("", "") + E("") + P("", "SELECT title FROM docs") + B("", "") +
                              E("") + S());
    EXPECT_EQ(kinds(m), "12DCEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_FALSE(upstream().ran("SELECT title FROM docs"));  // skipped, as PostgreSQL does
    auto next = co_await c.batch(P("", "SELECT title FROM docs") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(next), "12DDDCZ");
  });
  EXPECT_FALSE(upstream().ran("DELETE FROM docs"));
}

TEST_F(SessionTest, AnUnknownPortalMidBatchSkipsTheRestUpToSync) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + E("nope") +
                              P("", "SELECT 2") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(m), "12DCEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("34000"));
    EXPECT_FALSE(upstream().ran("SELECT 2"));
    auto next = co_await c.batch(P("", "SELECT 2") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(next), "12DCZ");
  });
}

TEST_F(SessionTest, AnExecuteWithARowCountSuspendsThePortalAndTheNextOneFinishesIt) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m =
        co_await c.batch(P("", "SELECT title FROM docs") + B("p", "") + E("p", 2) + E("p") + S());
    EXPECT_EQ(kinds(m), "12DDsDCZ");
    EXPECT_EQ(rowAt(m, 5), Row{"c"});
  });
}

TEST_F(SessionTest, ARowLimitHoldsAcrossSeveralExecutesOfOnePortal) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT n FROM public.big") + B("p", "") + E("p", 1) +
                              E("p", 1) + E("p", 1) + S());
    EXPECT_EQ(kinds(m), "12DsDsEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("54000"));
    EXPECT_EQ(readyStatus(m), 'I');
    auto next = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(next), "12DCZ");
  });
}

TEST_F(SessionTest, ExecutesWithinTheRowLimitSuspendWithoutAnError) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT n FROM public.big") + B("p", "") + E("p", 1) +
                              E("p", 1) + S());
    EXPECT_EQ(kinds(m), "12DsDsZ");
    EXPECT_THAT(errorCodes(m), IsEmpty());
  });
}

TEST_F(SessionTest, ARowLimitOverASimpleQueryWithholdsTheRestWith54000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT n FROM public.big");
    EXPECT_EQ(kinds(m), "TDDEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("54000"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("rule limited"));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
}

TEST_F(SessionTest, ARowLimitInATransactionBlockAbortsItAndLaterStatementsGet25P02) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("BEGIN");
    auto m = co_await c.query("SELECT n FROM public.big");
    EXPECT_THAT(errorCodes(m), ElementsAre("54000"));
    EXPECT_EQ(readyStatus(m), 'E');
    auto after = co_await c.query("SELECT 1");  // refused by the gateway itself
    EXPECT_THAT(errorCodes(after), ElementsAre("25P02"));
    EXPECT_EQ(readyStatus(after), 'E');
    EXPECT_EQ(readyStatus(co_await c.query("ROLLBACK")), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_EQ(std::count(upstream().sql().begin(), upstream().sql().end(), "SELECT 1"), 1);
}

// -- bounded state --------------------------------------------------------------------------

constexpr char kSmallLimits[] = "limits: { max_prepared_statements: 3, max_portals: 2 }\n";

TEST_F(SessionTest, APreparedStatementPastTheLimitIsRefusedWith54000AndNoneIsForgotten) {
  use(kPolicies, kSmallLimits);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m =
        co_await c.batch(P("s1", "SELECT 1") + P("s2", "SELECT 2") + P("s3", "SELECT 1") + S());
    EXPECT_EQ(kinds(m), "111Z");
    auto over = co_await c.batch(P("s4", "SELECT 2") + S());
    EXPECT_THAT(errorCodes(over), ElementsAre("54000"));
    EXPECT_THAT(first(over, 'E').message(), HasSubstr("too many prepared statements"));
    EXPECT_EQ(readyStatus(over), 'I');
    auto old = co_await c.batch(B("", "s1") + E("") + B("", "s2") + E("") + S());
    EXPECT_EQ(kinds(old), "2DC2DCZ");
    EXPECT_EQ(kinds(co_await c.batch(C('S', "s1") + S())), "3Z");
    EXPECT_EQ(kinds(co_await c.batch(P("s4", "SELECT 2") + S())), "1Z");
  });
}

TEST_F(SessionTest, TheUnnamedStatementDoesNotCountTowardsTheLimitOfNamedOnes) {
  use(kPolicies, kSmallLimits);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S())), "12DCZ");
    auto m =
        co_await c.batch(P("s1", "SELECT 1") + P("s2", "SELECT 2") + P("s3", "SELECT 1") + S());
    EXPECT_EQ(kinds(m), "111Z");
    EXPECT_EQ(kinds(co_await c.batch(B("", "s3") + E("") + S())), "2DCZ");
  });
}

TEST_F(SessionTest, AnOpenPortalPastTheLimitIsRefusedWith54000AndTheOthersStayKnown) {
  use(kPolicies, kSmallLimits);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("BEGIN");  // portals outlive a Sync only inside a transaction block
    auto m = co_await c.batch(P("s", "SELECT 1") + B("p1", "s") + B("p2", "s") + S());
    EXPECT_EQ(kinds(m), "122Z");
    auto over = co_await c.batch(B("p3", "s") + S());
    EXPECT_THAT(errorCodes(over), ElementsAre("54000"));
    EXPECT_THAT(first(over, 'E').message(), HasSubstr("too many open portals"));
    EXPECT_EQ(readyStatus(over), 'E');
    // p1 is still known: the upstream answers it (its transaction failed), not the gateway.
    auto old = co_await c.batch(E("p1") + S());
    EXPECT_THAT(errorCodes(old), ElementsAre("25P02"));
    EXPECT_EQ(readyStatus(co_await c.query("ROLLBACK")), 'I');
    auto fresh = co_await c.batch(B("p3", "s") + E("p3") + S());
    EXPECT_EQ(kinds(fresh), "2DCZ");
  });
}

TEST_F(SessionTest, AnSqlPreparePastTheLimitIsRefusedWith54000AndTheOthersStillRun) {
  use(kPolicies, kSmallLimits);
  for (const char* name : {"p1", "p2", "p3", "p4"}) {
    upstream().on(fmt::format("PREPARE {} AS SELECT 1", name), command("PREPARE"));
  }
  upstream().on("EXECUTE p1", rows({"x"}, {{"1"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    for (const char* name : {"p1", "p2", "p3"}) {
      auto m = co_await c.query(fmt::format("PREPARE {} AS SELECT 1", name));
      EXPECT_EQ(kinds(m), "CZ") << name;
    }
    auto over = co_await c.query("PREPARE p4 AS SELECT 1");
    EXPECT_THAT(errorCodes(over), ElementsAre("54000"));
    EXPECT_EQ(readyStatus(over), 'I');
    EXPECT_EQ(kinds(co_await c.query("EXECUTE p1")), "TDCZ");
  });
  EXPECT_FALSE(upstream().ran("PREPARE p4 AS SELECT 1"));
}

TEST_F(SessionTest, PendingResponsesPastTheCapEndTheSessionWith54000) {
  Canned stalled = rows({"x"}, {{"1"}});
  stalled.stall_after = 0;  // the upstream never answers: every request stays pending
  upstream().on("SELECT 3", stalled);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string syncs;
    for (int i = 0; i < 100'000; ++i) {
      syncs += S();
    }
    co_await c.send(Q("SELECT 3") + syncs);
    auto m = co_await c.untilClosed();
    EXPECT_TRUE(endedWith(m, "54000"));
    EXPECT_THAT(m.back().message(), HasSubstr("too many pipelined requests"));
  });
  EXPECT_TRUE(upstream().closed());
}

// -- decisions taken again at Execute -------------------------------------------------------

constexpr char kOfficeHours[] = R"(policies:
  - { id: docs, match: { groups: [eng], tables: [public.docs] }, allow: [select] }
  - { id: office-hours, allow: [select],
      match: { groups: [eng], tables: [ops.*],
               when: { days: [mon-fri], hours: "08:00-18:00", tz: UTC } } }
)";
// 2024-06-03 was a Monday.
const std::chrono::system_clock::time_point kMondayNoon{std::chrono::seconds(1717416000)};
const std::chrono::system_clock::time_point kMondayNight{std::chrono::seconds(1717452000)};

TEST_F(SessionTest, AQueryOutsideItsTimeWindowIsRefusedWith42501) {
  use(kOfficeHours);
  upstream().on("SELECT name FROM ops.jobs", rows({"name"}, {{"nightly"}}));
  h().testClock().set(kMondayNoon);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.query("SELECT name FROM ops.jobs")), "TDCZ");
    h().testClock().set(kMondayNight);
    auto m = co_await c.query("SELECT name FROM ops.jobs");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_EQ(readyStatus(m), 'I');
  });
}

TEST_F(SessionTest, AStatementPreparedInItsWindowIsRefusedAtExecuteAfterTheWindowCloses) {
  use(kOfficeHours);
  upstream().on("SELECT name FROM ops.jobs", rows({"name"}, {{"nightly"}}));
  h().testClock().set(kMondayNoon);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s1", "SELECT name FROM ops.jobs") + B("", "s1") + E("") + S());
    EXPECT_EQ(kinds(m), "12DCZ");
    h().testClock().set(kMondayNight);
    auto late = co_await c.batch(B("", "s1") + E("") + S());
    EXPECT_EQ(kinds(late), "2EZ");
    EXPECT_THAT(errorCodes(late), ElementsAre("42501"));
    EXPECT_THAT(first(late, 'E').message(), HasSubstr("decided again at execution"));
    EXPECT_EQ(readyStatus(late), 'I');
  });
}

// A client cannot make the gateway forget what it decided by filling its memory with names:
// statement s1, prepared inside its window, is still decided again at Execute after 10,001
// other names came and went.
TEST_F(SessionTest, TenThousandAndOneOtherNamesDoNotLetAStatementRunOutsideItsWindow) {
  use(kOfficeHours);
  upstream().on("SELECT name FROM ops.jobs", rows({"name"}, {{"nightly"}}));
  h().testClock().set(kMondayNoon);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.batch(P("s1", "SELECT name FROM ops.jobs") + S())), "1Z");
    for (int done = 0; done < 10'001;) {
      std::string round;
      for (int i = 0; i < 1000 && done < 10'001; ++i, ++done) {
        std::string name = fmt::format("n{}", done);
        round += P(name, "SELECT 1") + C('S', name);
      }
      auto m = co_await c.batch(round + S());
      EXPECT_THAT(errorCodes(m), IsEmpty());
    }
    h().testClock().set(kMondayNight);
    auto late = co_await c.batch(B("p", "s1") + E("p") + S());
    EXPECT_THAT(errorCodes(late), ElementsAre("42501"));
    EXPECT_THAT(first(late, 'E').message(), HasSubstr("decided again at execution"));
    EXPECT_EQ(readyStatus(late), 'I');
  });
}

}  // namespace
}  // namespace jg::server::testing
