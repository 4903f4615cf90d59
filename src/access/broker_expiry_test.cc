// The broker's expiry turn (BrokerOptions::expiry_turn): a replica whose turn it is not expires
// no review and no grant in its sweeps, yet still times out its own waiters; an on-demand expiry
// (a watch on a grant past its window, an approval after the review's window) does not wait for
// the turn. On SQLite and on PostgreSQL (skipped where PostgreSQL cannot run).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "access/broker.h"
#include "access/test_util.h"
#include "store/test_backends.h"

namespace jg::access {
namespace {

using namespace std::chrono_literals;
using testing::EventLog;
using testing::person;
using testing::sessionRequest;

class BrokerExpiryTurn : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = store::testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
    BrokerOptions o;
    o.clock = &clock_;
    o.start_sweeper = false;
    o.follow_store_events = false;
    o.audit = events_.sink();
    o.settings.pending_expiry = 30min;
    o.expiry_turn = [this] {
      ++turn_asked_;
      return turn_.load();
    };
    auto b = Broker::create(*store_, o);
    ASSERT_TRUE(b) << b.status().message();
    broker_ = *b;
  }

  ReviewState stateOf(const std::string& review_id) {
    auto r = broker_->review(review_id);
    EXPECT_TRUE(r && *r);
    return r && *r ? (*r)->state : ReviewState::kPending;
  }
  GrantState stateOfGrant(const std::string& grant_id) {
    auto g = broker_->grant(grant_id);
    EXPECT_TRUE(g && *g);
    return g && *g ? (*g)->state : GrantState::kActive;
  }
  int count(const std::string& event) {
    auto names = events_.names();
    return static_cast<int>(std::count(names.begin(), names.end(), event));
  }
  Grant approvedGrant() {
    auto r = broker_->createReview(sessionRequest(alice_));
    EXPECT_TRUE(r && broker_->approve(r->id, olga_, ""));
    auto g = broker_->activeGrant(alice_, "kb", "reader");
    EXPECT_TRUE(g);
    return g ? *g : Grant{};
  }

  ManualClock clock_ = ManualClock::atUnix(1'700'000'000);
  std::unique_ptr<store::Store> store_;
  EventLog events_;
  std::atomic<bool> turn_{false};
  std::atomic<int> turn_asked_{0};
  std::shared_ptr<Broker> broker_;
  identity::Identity alice_ = person("alice", {"engineers"});
  identity::Identity olga_ = person("olga", {"data-owners"});
};

TEST_P(BrokerExpiryTurn, SweepOnAnotherReplicasTurnExpiresNoReviewButTimesOutWaiters) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  std::optional<ReviewState> got;
  std::string why;
  auto w = broker_->waitForDecision(r->id, 45min, [&](ReviewState s, std::string reason) {
    got = s;
    why = std::move(reason);
  });
  clock_.advance(31min);  // past the review's window
  broker_->sweep();
  EXPECT_EQ(turn_asked_, 1);
  EXPECT_EQ(stateOf(r->id), ReviewState::kPending);
  EXPECT_EQ(count("review.expired"), 0);
  EXPECT_FALSE(got);
  clock_.advance(15min);  // past the waiter's timeout
  broker_->sweep();
  EXPECT_EQ(got, ReviewState::kPending);
  EXPECT_NE(why.find("timed out"), std::string::npos) << why;
  EXPECT_EQ(stateOf(r->id), ReviewState::kPending);

  turn_ = true;
  broker_->sweep();
  EXPECT_EQ(stateOf(r->id), ReviewState::kExpired);
  EXPECT_EQ(count("review.expired"), 1);
}

TEST_P(BrokerExpiryTurn, GrantPastItsWindowEndsItsWatchersOnlyOnThisReplicasTurn) {
  Grant g = approvedGrant();
  ASSERT_FALSE(g.id.empty());
  std::vector<std::string> ended;
  auto sub = broker_->watchGrant(g.id, [&](std::string why) { ended.push_back(why); });
  clock_.advance(61min);
  broker_->sweep();
  EXPECT_TRUE(ended.empty());
  EXPECT_EQ(stateOfGrant(g.id), GrantState::kActive);
  EXPECT_EQ(count("grant.expired"), 0);

  turn_ = true;
  broker_->sweep();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_NE(ended[0].find("expired at"), std::string::npos) << ended[0];
  EXPECT_EQ(stateOfGrant(g.id), GrantState::kExpired);
  EXPECT_EQ(count("grant.expired"), 1);
  broker_->sweep();
  EXPECT_EQ(count("grant.expired"), 1);
}

TEST_P(BrokerExpiryTurn, WatchingAGrantPastItsWindowExpiresItWithoutTheTurn) {
  Grant g = approvedGrant();
  ASSERT_FALSE(g.id.empty());
  clock_.advance(61min);
  std::string why;
  auto sub = broker_->watchGrant(g.id, [&](std::string w) { why = std::move(w); });
  EXPECT_NE(why.find("expired at"), std::string::npos) << why;
  EXPECT_EQ(stateOfGrant(g.id), GrantState::kExpired);
  EXPECT_EQ(count("grant.expired"), 1);
  EXPECT_EQ(turn_asked_, 0);
}

TEST_P(BrokerExpiryTurn, ApprovingAfterTheWindowExpiresTheReviewWithoutTheTurn) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  clock_.advance(31min);
  auto res = broker_->approve(r->id, olga_, "");
  ASSERT_FALSE(res);
  EXPECT_TRUE(isConflict(res.status())) << res.status().message();
  EXPECT_EQ(stateOf(r->id), ReviewState::kExpired);
  EXPECT_EQ(count("review.expired"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, BrokerExpiryTurn,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

}  // namespace
}  // namespace jg::access
