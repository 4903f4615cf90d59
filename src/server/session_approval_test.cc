// Just-in-time access in a session: statements held for approval (approved, rejected, timed out,
// cancelled), approvals given ahead of a fail_fast review, and session-scope reviews at connect.
// Reviews are decided through the broker over the harness's in-memory state store; wait
// timeouts come from the broker's sweeper at the harness's clock, so no test waits in real time.
#include <chrono>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

constexpr char kHeld[] = "SELECT email FROM crm.customers";

// Sends the held statement and reads up to the gateway's notice; returns the review's id.
asio::awaitable<std::string> sendHeld(Client& c, SessionHarness& h) {
  co_await c.send(Q(kHeld));
  auto notice = co_await c.until('N');
  EXPECT_THAT(notice.back().message(), HasSubstr("waiting for approval"));
  auto pending = h.pendingReviews();
  EXPECT_EQ(pending.size(), 1u);
  if (pending.empty()) {
    co_return std::string();
  }
  co_return pending[0];
}

TEST_F(SessionTest, AHeldStatementRunsOnceApproved) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string id = co_await sendHeld(c, h());
    h().decide(id, true);
    auto m = co_await c.untilReady();
    EXPECT_EQ(kinds(m), "TDCZ");
    EXPECT_EQ(readyStatus(m), 'I');
  });
  EXPECT_TRUE(upstream().ran(kHeld));
}

TEST_F(SessionTest, AHeldStatementRejectedIsRefusedWith42501AndNeverRuns) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string id = co_await sendHeld(c, h());
    h().decide(id, false);
    auto m = co_await c.untilReady();
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("rejected"));
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_FALSE(upstream().ran(kHeld));
}

TEST_F(SessionTest, AHeldStatementThatTimesOutIsRefusedWith42501) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await sendHeld(c, h());
    h().testClock().advance(std::chrono::seconds(3));  // past access.wait_timeout (2s)
    h().sweep();
    auto m = co_await c.untilReady();
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("timed out"));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_FALSE(upstream().ran(kHeld));
}

TEST_F(SessionTest, ACancelRequestWhileHeldCancelsTheStatementWith57014) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto startup = co_await c.connect();
    pg::BackendKeyData key{};
    EXPECT_TRUE(pg::decodeBackendKeyData(first(startup, 'K').payload, key));
    co_await sendHeld(c, h());
    EXPECT_TRUE(h().cancelRequest(key));
    auto m = co_await c.untilReady();
    EXPECT_THAT(errorCodes(m), ElementsAre("57014"));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_FALSE(upstream().ran(kHeld));
}

// The client cancels as soon as its review exists, before the session has begun to hold the
// statement (the review is asked for off the session's thread): the cancel is not lost.
TEST_F(SessionTest, ACancelRequestBeforeTheHoldBeginsCancelsTheStatementWith57014) {
  pg::BackendKeyData key{};
  h().onAccessEvent([&](const access::AccessEvent& e) {
    if (e.type == access::AccessEvent::Type::kReviewCreated) {
      EXPECT_TRUE(h().cancelRequest(key));
    }
  });
  run([&](Client& c) -> asio::awaitable<void> {
    auto startup = co_await c.connect();
    EXPECT_TRUE(pg::decodeBackendKeyData(first(startup, 'K').payload, key));
    co_await c.send(Q(kHeld));
    auto m = co_await c.untilReady();
    EXPECT_THAT(errorCodes(m), ElementsAre("57014"));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_FALSE(upstream().ran(kHeld));
}

TEST_F(SessionTest, ACancelRequestWithAWrongKeyReachesNoSession) {
  run([&](Client& c) -> asio::awaitable<void> {
    auto startup = co_await c.connect();
    pg::BackendKeyData key{};
    EXPECT_TRUE(pg::decodeBackendKeyData(first(startup, 'K').payload, key));
    EXPECT_NE(key.process_id, 4242);  // the client never sees the upstream's key
    key.secret_key ^= 1;
    EXPECT_FALSE(h().cancelRequest(key));
  });
}

TEST_F(SessionTest, ATerminationWhileAStatementIsHeldEndsTheSessionWithItsFatal) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await sendHeld(c, h());
    h().terminate("57P01", "the grant g-1 was revoked");
    auto m = co_await c.untilClosed();
    EXPECT_TRUE(endedWith(m, "57P01"));
  });
  EXPECT_TRUE(upstream().closed());
  EXPECT_FALSE(upstream().ran(kHeld));
}

TEST_F(SessionTest, StatementsSentBeforeAHeldOneRunFirst) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT 1") + Q(kHeld));
    // The notice is not part of an answer: it may come before the first one's rows.
    std::vector<Message> before;
    bool noticed = false;
    while (!noticed || readyStatus(before) == 0) {
      std::optional<Message> m = co_await c.next();
      if (!m) {
        break;
      }
      noticed = noticed || m->type == 'N';
      if (m->type != 'N') {
        before.push_back(std::move(*m));
      }
    }
    EXPECT_EQ(kinds(before), "TDCZ");
    h().decide(review(), true);
    EXPECT_EQ(kinds(co_await c.untilReady()), "TDCZ");
  });
}

TEST_F(SessionTest, StatementsSentWhileHeldRunAfterItInOrder) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string id = co_await sendHeld(c, h());
    co_await c.send(Q("SELECT 2"));
    h().decide(id, true);
    auto held = co_await c.untilReady();
    EXPECT_EQ(rowAt(held, 1), Row{"x@y.z"});
    auto after = co_await c.untilReady();
    EXPECT_EQ(rowAt(after, 1), Row{"2"});
  });
}

TEST_F(SessionTest, StatementsBatchedAfterAHeldOneWaitForItsDecision) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q(kHeld) + Q("SELECT 2"));
    co_await c.until('N');
    EXPECT_FALSE(upstream().ran("SELECT 2"));
    h().decide(review(), false);
    auto refused = co_await c.untilReady();
    EXPECT_THAT(errorCodes(refused), ElementsAre("42501"));
    auto after = co_await c.untilReady();
    EXPECT_EQ(rowAt(after, 1), Row{"2"});
  });
}

TEST_F(SessionTest, ManyKilobytesSentWhileHeldAreKeptAndRunInOrder) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string id = co_await sendHeld(c, h());
    std::string many;
    for (int i = 0; i < 1000; ++i) {
      many += Q(i % 2 == 0 ? "SELECT 1" : "SELECT 2");  // 14 KB: past what a hold reads ahead
    }
    co_await c.send(many);
    h().decide(id, true);
    auto held = co_await c.untilReady();
    EXPECT_EQ(rowAt(held, 1), Row{"x@y.z"});
    for (int i = 0; i < 1000; ++i) {
      Row expected{std::string(i % 2 == 0 ? "1" : "2")};
      auto m = co_await c.untilReady();
      if (rowAt(m, 1) != expected) {
        ADD_FAILURE() << "answer " << i << " is " << kinds(m);
        break;
      }
    }
  });
}

TEST_F(SessionTest, AHeldParseInTheExtendedProtocolRunsOnceApproved) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(P("", kHeld) + B("", "") + E("") + S());
    co_await c.until('N');
    h().decide(review(), true);
    EXPECT_EQ(kinds(co_await c.untilReady()), "12DCZ");
  });
  EXPECT_TRUE(upstream().ran(kHeld));
}

TEST_F(SessionTest, AnApprovalGivenAheadOfAFailFastReviewRunsExactlyOnce) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto refused = co_await c.query("SELECT pay FROM hr.payroll");
    EXPECT_THAT(errorCodes(refused), ElementsAre("42501"));
    h().decide(review(), true);
    EXPECT_EQ(kinds(co_await c.query("SELECT pay FROM hr.payroll")), "TDCZ");
    auto again = co_await c.query("SELECT pay FROM hr.payroll");
    EXPECT_THAT(errorCodes(again), ElementsAre("42501"));
  });
}

// -- session scope --------------------------------------------------------------------------

std::string sessionReview(std::string_view mode) {
  return fmt::format(R"(policies:
  - {{ id: kb-session, match: {{ groups: [eng] }}, action: review, scope: session, mode: {},
      grant: 1h, approvers: {{ groups: [owners] }} }}
  - {{ id: read, match: {{ groups: [eng] }}, allow: [select] }}
)",
                     mode);
}

// Startup and password, then what the gateway sends up to its notice (or the end).
asio::awaitable<std::vector<Message>> connectUntilNotice(Client& c) {
  Client::Params none;
  co_await c.startup(none);
  std::string password;
  pg::encodePasswordMessage(password, "secret");
  co_await c.send(password);
  co_return co_await c.until('N');
}

TEST_F(SessionTest, ASessionScopeReviewHoldsTheConnectionUntilApproved) {
  use(sessionReview("wait"));
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await connectUntilNotice(c);
    EXPECT_EQ(m.back().type, 'N');
    EXPECT_EQ(h().upstreamConnects(), 0);
    h().decide(review(), true);
    auto rest = co_await c.untilReady();
    EXPECT_EQ(readyStatus(rest), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
  EXPECT_EQ(h().upstreamConnects(), 1);
}

TEST_F(SessionTest, AQuerySentWhileTheConnectionIsHeldRunsOnceItIsAdmitted) {
  use(sessionReview("wait"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await connectUntilNotice(c);
    co_await c.send(Q("SELECT 1"));  // pipelined ahead of ReadyForQuery
    h().decide(review(), true);
    auto admitted = co_await c.untilReady();
    EXPECT_EQ(readyStatus(admitted), 'I');
    EXPECT_EQ(kinds(co_await c.untilReady()), "TDCZ");
  });
  EXPECT_TRUE(upstream().ran("SELECT 1"));
}

TEST_F(SessionTest, AClientGoneWhileItsConnectionIsHeldEndsTheSession) {
  use(sessionReview("wait"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await connectUntilNotice(c);
    c.close();
  });
  EXPECT_TRUE(h().sessionEnded());
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, ASessionScopeReviewRejectedRefusesTheConnectionWith42501) {
  use(sessionReview("wait"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await connectUntilNotice(c);
    h().decide(review(), false);
    auto m = co_await c.untilClosed();
    EXPECT_TRUE(endedWith(m, "42501"));
    EXPECT_THAT(m.back().message(), HasSubstr("rejected"));
  });
  EXPECT_EQ(h().upstreamConnects(), 0);
}

TEST_F(SessionTest, ASessionScopeFailFastReviewRefusesTheConnectionWithItsId) {
  use(sessionReview("fail_fast"));
  run([&](Client& c) -> asio::awaitable<void> {
    auto m = co_await c.connect();
    EXPECT_TRUE(endedWith(m, "42501"));
    EXPECT_THAT(m.back().message(), HasSubstr("review r-"));
  });
  EXPECT_EQ(h().pendingReviews().size(), 1u);
  EXPECT_EQ(h().upstreamConnects(), 0);
}

}  // namespace
}  // namespace jg::server::testing
