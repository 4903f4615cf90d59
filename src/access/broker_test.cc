#include "access/broker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "access/test_util.h"
#include "core/metrics.h"
#include "store/test_backends.h"

namespace jg::access {
namespace {

using namespace std::chrono_literals;
using testing::EventLog;
using testing::person;
using testing::sessionRequest;
using testing::statementRequest;

class BrokerTest : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    url_ = "sqlite://" + dir_.file("state.db");
    if (GetParam() == store::testing::Backend::kPostgres) {
      std::string why;
      auto pg = store::testing::freshPostgresUrl(&why);
      if (!pg) {
        GTEST_SKIP() << why;
      }
      url_ = *pg;
    }
    auto s = store::open(url_);
    ASSERT_TRUE(s) << s.status().message();
    store_ = std::move(*s);
    broker_ = makeBroker(*store_);
  }

  // `follow`: hear other replicas through store events (PostgreSQL); off, the tests drive
  // every remote change through sweep() and see no event arrive unasked.
  std::shared_ptr<Broker> makeBroker(store::Store& store, bool follow = false) {
    BrokerOptions o;
    o.clock = &clock_;
    o.start_sweeper = false;
    o.follow_store_events = follow;
    o.audit = events_.sink();
    o.settings.pending_expiry = 30min;
    o.settings.statement_validity = 5min;
    auto b = Broker::create(store, o);
    EXPECT_TRUE(b) << b.status().message();
    return b ? *b : nullptr;
  }

  testing::TempDir dir_;
  std::string url_;  // the database of store_; a second Store on it plays another replica
  ManualClock clock_ = ManualClock::atUnix(1'700'000'000);
  std::unique_ptr<store::Store> store_;
  EventLog events_;
  std::shared_ptr<Broker> broker_;
  identity::Identity alice_ = person("alice", {"engineers"});
  identity::Identity olga_ = person("olga", {"data-owners"});
  identity::Identity pete_ = person("pete", {"data-owners"});
  identity::Identity eve_ = person("eve", {"engineers"});
};

TEST_P(BrokerTest, SameRequestReturnsThePendingReviewInsteadOfDuplicating) {
  auto a = broker_->createReview(sessionRequest(alice_));
  auto b = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id, b->id);
  EXPECT_TRUE(a->id.starts_with("r-"));
  auto other = sessionRequest(alice_);
  other.role = "writer";
  auto c = broker_->createReview(other);
  ASSERT_TRUE(c);
  EXPECT_NE(c->id, a->id);
  EXPECT_EQ(events_.names(), (std::vector<std::string>{"review.created", "review.created"}));
}

TEST_P(BrokerTest, AReviewKeepsTheClientItWasAskedFrom) {
  auto req = sessionRequest(alice_);
  req.client = ClientInfo{"10.0.0.5:40000", "psql"};
  auto r = broker_->createReview(req);
  ASSERT_TRUE(r) << r.status().message();
  auto stored = broker_->review(r->id);
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ((*stored)->client.address, "10.0.0.5:40000");
  EXPECT_EQ((*stored)->client.application, "psql");
}

TEST_P(BrokerTest, OneApprovalFromTheGroupApprovesAndCreatesAGrant) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "reader"));
  auto approved = broker_->approve(r->id, olga_, "ok for the incident");
  ASSERT_TRUE(approved) << approved.status().message();
  EXPECT_EQ(approved->state, ReviewState::kApproved);
  ASSERT_EQ(approved->decisions.size(), 1u);
  EXPECT_EQ(approved->decisions[0].approver.subject, "olga");
  EXPECT_EQ(approved->decisions[0].comment, "ok for the incident");
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, approved->grant_id);
  EXPECT_EQ(g->expires_at, clock_.now() + 1h);
  EXPECT_EQ(g->rule_id, "pii-review");
  EXPECT_TRUE(broker_->activeGrant(alice_, "kb", ""));
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "writer"));
  EXPECT_FALSE(broker_->activeGrant(eve_, "kb", "reader"));
  EXPECT_EQ(events_.names(),
            (std::vector<std::string>{"review.created", "review.approved", "grant.created"}));
}

TEST_P(BrokerTest, TwoApproverRuleNeedsTwoDistinctApprovers) {
  auto r = broker_->createReview(sessionRequest(alice_, 2));
  ASSERT_TRUE(r);
  auto first = broker_->approve(r->id, olga_, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state, ReviewState::kPending);
  EXPECT_EQ(first->approvals(), 1);
  auto again = broker_->approve(r->id, olga_, "");
  ASSERT_FALSE(again);
  EXPECT_TRUE(isConflict(again.status())) << again.status().message();
  // The same person through another client (same email) is not a second approver.
  auto olga_bot = person("olga-cli", {"data-owners"}, "olga@example.com");
  EXPECT_FALSE(broker_->approve(r->id, olga_bot, ""));
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "reader"));
  auto second = broker_->approve(r->id, pete_, "");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->state, ReviewState::kApproved);
  EXPECT_EQ(second->approvals(), 2);
  EXPECT_TRUE(broker_->activeGrant(alice_, "kb", "reader"));
}

TEST_P(BrokerTest, ApproverOutsideTheGroupsIsRefused) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  auto res = broker_->approve(r->id, eve_, "");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), Code::kPermissionDenied);
  EXPECT_NE(res.status().message().find("data-owners"), std::string::npos);
  auto shown = broker_->review(r->id);
  ASSERT_TRUE(shown && *shown);
  EXPECT_TRUE((*shown)->decisions.empty());
}

TEST_P(BrokerTest, RequesterCannotApproveTheirOwnReview) {
  auto owner = person("dora", {"data-owners"});
  auto r = broker_->createReview(sessionRequest(owner));
  ASSERT_TRUE(r);
  auto res = broker_->approve(r->id, owner, "");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), Code::kPermissionDenied);
  EXPECT_NE(res.status().message().find("own review"), std::string::npos);
  // Not with another subject carrying the same email either.
  auto alias = person("dora-2", {"data-owners"}, "DORA@example.com");
  EXPECT_EQ(broker_->approve(r->id, alias, "").status().code(), Code::kPermissionDenied);
  EXPECT_FALSE(broker_->activeGrant(owner, "kb", "reader"));
}

TEST_P(BrokerTest, UnknownReviewIsNotFound) {
  EXPECT_EQ(broker_->approve("r-nope", olga_, "").status().code(), Code::kNotFound);
  EXPECT_EQ(broker_->revokeGrant("g-nope", olga_, "").status().code(), Code::kNotFound);
}

TEST_P(BrokerTest, RejectionReachesTheWaiter) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  std::optional<ReviewState> got;
  std::string why;
  auto w = broker_->waitForDecision(r->id, 10min, [&](ReviewState s, std::string reason) {
    got = s;
    why = std::move(reason);
  });
  EXPECT_FALSE(got);
  auto rejected = broker_->reject(r->id, olga_, "not during the freeze");
  ASSERT_TRUE(rejected);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, ReviewState::kRejected);
  EXPECT_NE(why.find("olga@example.com"), std::string::npos);
  EXPECT_NE(why.find("not during the freeze"), std::string::npos);
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "reader"));
  EXPECT_TRUE(isConflict(broker_->approve(r->id, pete_, "").status()));
}

TEST_P(BrokerTest, ApprovalWakesTheWaiterOnce) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  int calls = 0;
  std::optional<ReviewState> got;
  auto w = broker_->waitForDecision(r->id, 10min, [&](ReviewState s, std::string) {
    ++calls;
    got = s;
  });
  ASSERT_TRUE(broker_->approve(r->id, olga_, ""));
  broker_->sweep();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, ReviewState::kApproved);
  EXPECT_FALSE(w->cancel());
}

TEST_P(BrokerTest, WaitingOnADecidedReviewAnswersAtOnce) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  std::optional<ReviewState> got;
  broker_->waitForDecision(r->id, 1min, [&](ReviewState s, std::string) { got = s; });
  EXPECT_EQ(got, ReviewState::kApproved);
}

TEST_P(BrokerTest, CancelledWaiterIsNeverCalled) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  bool called = false;
  auto w = broker_->waitForDecision(r->id, 1min, [&](ReviewState, std::string) { called = true; });
  EXPECT_TRUE(w->cancel());
  ASSERT_TRUE(broker_->approve(r->id, olga_, ""));
  clock_.advance(2min);
  broker_->sweep();
  EXPECT_FALSE(called);
}

TEST_P(BrokerTest, WaiterTimesOutWithPendingState) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  std::optional<ReviewState> got;
  std::string why;
  auto w = broker_->waitForDecision(r->id, 90s, [&](ReviewState s, std::string reason) {
    got = s;
    why = std::move(reason);
  });
  clock_.advance(60s);
  broker_->sweep();
  EXPECT_FALSE(got);
  clock_.advance(31s);
  broker_->sweep();
  EXPECT_EQ(got, ReviewState::kPending);
  EXPECT_NE(why.find("timed out"), std::string::npos);
  // The review itself is still pending and can be approved later.
  EXPECT_TRUE(broker_->approve(r->id, olga_, ""));
}

TEST_P(BrokerTest, PendingReviewExpiresAndTheWaiterIsTold) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->expires_at, clock_.now() + 30min);
  std::optional<ReviewState> got;
  auto w = broker_->waitForDecision(r->id, 2h, [&](ReviewState s, std::string) { got = s; });
  clock_.advance(30min);
  broker_->sweep();
  EXPECT_EQ(got, ReviewState::kExpired);
  auto shown = broker_->review(r->id);
  ASSERT_TRUE(shown && *shown);
  EXPECT_EQ((*shown)->state, ReviewState::kExpired);
  EXPECT_TRUE(isConflict(broker_->approve(r->id, olga_, "").status()));
  // A new request after expiry creates a new review.
  auto again = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, r->id);
  EXPECT_EQ(events_.names().back(), "review.created");
}

TEST_P(BrokerTest, ApprovingAfterExpiryBeforeTheSweepIsRefusedAndExpires) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  clock_.advance(31min);
  auto res = broker_->approve(r->id, olga_, "");
  ASSERT_FALSE(res);
  EXPECT_TRUE(isConflict(res.status()));
  EXPECT_NE(res.status().message().find("expired"), std::string::npos);
  EXPECT_EQ((*broker_->review(r->id))->state, ReviewState::kExpired);
  EXPECT_EQ(events_.names().back(), "review.expired");
}

TEST_P(BrokerTest, GrantWindowIsTheRulesCappedByTheRequestAndMaxGrant) {
  auto req = sessionRequest(alice_);
  req.duration = 15min;
  auto r = broker_->createReview(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->grant_duration, 15min);
  req.role = "writer";
  req.duration = 5h;
  auto r2 = broker_->createReview(req);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->grant_duration, 1h);  // the rule's grant
}

TEST_P(BrokerTest, GrantExpiryEndsWatchingSessions) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  std::vector<std::string> ended;
  auto s1 = broker_->watchGrant(g->id, [&](std::string why) { ended.push_back(why); });
  auto s2 = broker_->watchGrant(g->id, [&](std::string why) { ended.push_back(why); });
  clock_.advance(59min);
  broker_->sweep();
  EXPECT_TRUE(ended.empty());
  clock_.advance(1min);
  broker_->sweep();
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_NE(ended[0].find("expired at"), std::string::npos);
  EXPECT_NE(ended[0].find(g->id), std::string::npos);
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "reader"));
  EXPECT_EQ(events_.names().back(), "grant.expired");
}

TEST_P(BrokerTest, RevocationEndsWatchersImmediately) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  std::string why;
  auto sub = broker_->watchGrant(g->id, [&](std::string w) { why = std::move(w); });
  auto refused = broker_->revokeGrant(g->id, eve_, "curious");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(why.empty());
  auto revoked = broker_->revokeGrant(g->id, pete_, "leaving the incident");
  ASSERT_TRUE(revoked) << revoked.status().message();
  EXPECT_EQ(revoked->state, GrantState::kRevoked);
  EXPECT_NE(why.find("revoked by pete@example.com"), std::string::npos);
  EXPECT_NE(why.find("leaving the incident"), std::string::npos);
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", "reader"));
  EXPECT_EQ((*broker_->review(r->id))->state, ReviewState::kRevoked);
  EXPECT_TRUE(isConflict(broker_->revokeGrant(g->id, pete_, "").status()));
  EXPECT_EQ(events_.names().back(), "grant.revoked");
}

TEST_P(BrokerTest, GranteeMayGiveUpTheirGrant) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  EXPECT_TRUE(broker_->revokeGrant(g->id, alice_, "done"));
}

TEST_P(BrokerTest, WatchingAnEndedGrantFiresAtOnceAndResetStopsAWatch) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  bool quiet_called = false;
  auto quiet = broker_->watchGrant(g->id, [&](std::string) { quiet_called = true; });
  quiet.reset();
  ASSERT_TRUE(broker_->revokeGrant(g->id, olga_, ""));
  EXPECT_FALSE(quiet_called);
  std::string why;
  auto late = broker_->watchGrant(g->id, [&](std::string w) { why = std::move(w); });
  EXPECT_NE(why.find("revoked"), std::string::npos);
  std::string missing;
  auto none = broker_->watchGrant("g-missing", [&](std::string w) { missing = std::move(w); });
  EXPECT_FALSE(missing.empty());
}

TEST_P(BrokerTest, StatementApprovalRunsExactlyThatStatementOnce) {
  auto r = broker_->createReview(statementRequest(alice_, "fp-1", "params-a"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "kb", "fp-1", "params-a"));
  auto approved = broker_->approve(r->id, olga_, "");
  ASSERT_TRUE(approved);
  EXPECT_EQ(approved->valid_until, clock_.now() + 5min);
  EXPECT_TRUE(approved->grant_id.empty());
  EXPECT_FALSE(broker_->activeGrant(alice_, "kb", ""));
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "kb", "fp-2", "params-a"));
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "kb", "fp-1", "params-b"));
  EXPECT_FALSE(broker_->consumeStatementApproval(eve_, "kb", "fp-1", "params-a"));
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "other", "fp-1", "params-a"));
  auto used = broker_->consumeStatementApproval(alice_, "kb", "fp-1", "params-a");
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, r->id);
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "kb", "fp-1", "params-a"));
  EXPECT_EQ(events_.names().back(), "statement_approval.used");
}

TEST_P(BrokerTest, StatementApprovalLapsesAfterItsValidity) {
  auto r = broker_->createReview(statementRequest(alice_, "fp-1"));
  ASSERT_TRUE(r && broker_->approve(r->id, olga_, ""));
  clock_.advance(5min);
  EXPECT_FALSE(broker_->consumeStatementApproval(alice_, "kb", "fp-1", "p0"));
}

TEST_P(BrokerTest, RacingApproversRecordExactlyOneDecision) {
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto res = broker_->approve(r->id, person("owner" + std::to_string(i), {"data-owners"}), "");
      (res ? ok : conflicts)++;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  auto shown = broker_->review(r->id);
  ASSERT_TRUE(shown && *shown);
  EXPECT_EQ((*shown)->decisions.size(), 1u);
  auto grants = broker_->listGrants({});
  ASSERT_TRUE(grants);
  EXPECT_EQ(grants->size(), 1u);
}

TEST_P(BrokerTest, RacingBrokersOnOneDatabaseDoNotDoubleDecide) {
  auto other_store = store::open(url_);
  ASSERT_TRUE(other_store);
  auto other = makeBroker(**other_store);
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  Result<Review> a = Status::error(Code::kInternal, "unset");
  Result<Review> b = Status::error(Code::kInternal, "unset");
  std::thread t1([&] { a = broker_->approve(r->id, olga_, ""); });
  std::thread t2([&] { b = other->approve(r->id, pete_, ""); });
  t1.join();
  t2.join();
  EXPECT_NE(a.isOk(), b.isOk());
  EXPECT_EQ((*broker_->review(r->id))->decisions.size(), 1u);
}

TEST_P(BrokerTest, DecisionsOnAnotherReplicaReachLocalWaitersAndWatchers) {
  auto other_store = store::open(url_);
  ASSERT_TRUE(other_store);
  auto other = makeBroker(**other_store);
  auto r = broker_->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  std::optional<ReviewState> got;
  auto w = broker_->waitForDecision(r->id, 1h, [&](ReviewState s, std::string) { got = s; });
  ASSERT_TRUE(other->approve(r->id, olga_, ""));
  EXPECT_FALSE(got);
  broker_->sweep();
  EXPECT_EQ(got, ReviewState::kApproved);
  auto g = broker_->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  std::string why;
  auto sub = broker_->watchGrant(g->id, [&](std::string w) { why = std::move(w); });
  ASSERT_TRUE(other->revokeGrant(g->id, olga_, "elsewhere"));
  broker_->sweep();
  EXPECT_NE(why.find("revoked"), std::string::npos);
}

// Signals from callbacks run on other threads; waits on a condition, never a fixed sleep.
class Signal {
 public:
  void set(std::string v) {
    std::lock_guard lk(mu_);
    values_.push_back(std::move(v));
    cv_.notify_all();
  }
  // The values set so far, once there are at least `n` (or the timeout passed).
  std::vector<std::string> waitFor(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return values_.size() >= n; });
    return values_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> values_;
};

TEST_P(BrokerTest, DecisionOnAnotherReplicaWakesTheWaiterWithoutASweep) {
  if (GetParam() != store::testing::Backend::kPostgres) {
    GTEST_SKIP() << "only PostgreSQL has other replicas to hear from";
  }
  auto local = makeBroker(*store_, true);
  auto other_store = store::open(url_);
  ASSERT_TRUE(other_store);
  auto other = makeBroker(**other_store);
  auto r = local->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  Signal decided;
  auto w = local->waitForDecision(r->id, 1h, [&](ReviewState s, std::string why) {
    decided.set(std::string(stateName(s)) + ": " + why);
  });
  ASSERT_TRUE(other->approve(r->id, olga_, ""));
  auto got = decided.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("approved: ", 0), 0u) << got[0];

  auto g = local->activeGrant(alice_, "kb", "reader");
  ASSERT_TRUE(g);
  Signal ended;
  auto sub = local->watchGrant(g->id, [&](std::string why) { ended.set(std::move(why)); });
  ASSERT_TRUE(other->revokeGrant(g->id, olga_, "done elsewhere"));
  auto why = ended.waitFor(1);
  ASSERT_EQ(why.size(), 1u);
  EXPECT_NE(why[0].find("revoked by olga@example.com"), std::string::npos) << why[0];
  EXPECT_NE(why[0].find("done elsewhere"), std::string::npos) << why[0];
}

TEST_P(BrokerTest, LocalDecisionComingBackAsAStoreEventAppliesOnce) {
  if (GetParam() != store::testing::Backend::kPostgres) {
    GTEST_SKIP() << "only PostgreSQL delivers store events";
  }
  auto local = makeBroker(*store_, true);
  auto r = local->createReview(sessionRequest(alice_));
  ASSERT_TRUE(r);
  Signal decided;
  auto w = local->waitForDecision(
      r->id, 1h, [&](ReviewState s, std::string) { decided.set(std::string(stateName(s))); });
  auto g = local->activeGrant(alice_, "kb", "reader");
  EXPECT_FALSE(g);
  const uint64_t before = metrics::storeEventsReceived().value({"review"});
  ASSERT_TRUE(local->approve(r->id, olga_, ""));
  ASSERT_EQ(decided.waitFor(1).size(), 1u);
  // Wait for the echo of our own decision, then check it changed nothing.
  for (int i = 0; i < 500 && metrics::storeEventsReceived().value({"review"}) == before; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(metrics::storeEventsReceived().value({"review"}), before);
  EXPECT_EQ(decided.waitFor(2, 100ms).size(), 1u);
  auto names = events_.names();
  EXPECT_EQ(std::count(names.begin(), names.end(), "review.approved"), 1) << names.size();
}

TEST_P(BrokerTest, ListsFilterByStateAndRequester) {
  auto r1 = broker_->createReview(sessionRequest(alice_));
  auto r2 = broker_->createReview(sessionRequest(eve_));
  ASSERT_TRUE(r1 && r2 && broker_->approve(r2->id, olga_, ""));
  ReviewFilter pending;
  pending.state = ReviewState::kPending;
  auto list = broker_->listReviews(pending);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, r1->id);
  ReviewFilter mine;
  mine.requester_subject = "eve";
  ASSERT_EQ(broker_->listReviews(mine)->size(), 1u);
  GrantFilter active;
  active.state = GrantState::kActive;
  ASSERT_EQ(broker_->listGrants(active)->size(), 1u);
}

TEST_P(BrokerTest, ReviewWithoutApproversIsRefused) {
  auto req = sessionRequest(alice_);
  req.spec.approver_groups.clear();
  EXPECT_EQ(broker_->createReview(req).status().code(), Code::kInvalidArgument);
}

TEST_P(BrokerTest, ApprovalHintNamesTheCommandAndTheUrl) {
  EXPECT_EQ(broker_->approvalHint("r-1"), "approve with `jitgate review approve r-1`");
}

TEST(BrokerSweeper, EndsAGrantAtItsWindowWithTheRealClock) {
  testing::TempDir dir;
  auto s = store::openSqlite(dir.file("state.db"));
  ASSERT_TRUE(s);
  BrokerOptions o;
  o.settings.sweep_interval = 5s;  // the watched deadline, not the poll, must wake it
  auto b = Broker::create(**s, o);
  ASSERT_TRUE(b);
  auto req = sessionRequest(person("alice"));
  req.spec.grant = 1s;
  auto r = (*b)->createReview(req);
  ASSERT_TRUE(r && (*b)->approve(r->id, person("olga", {"data-owners"}), ""));
  auto g = (*b)->activeGrant(person("alice"), "kb", "reader");
  ASSERT_TRUE(g);
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;
  auto sub = (*b)->watchGrant(g->id, [&](std::string) {
    std::lock_guard lk(mu);
    ended = true;
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  EXPECT_TRUE(cv.wait_for(lk, 3s, [&] { return ended; }));
  EXPECT_GE(std::chrono::system_clock::now(), g->expires_at);
}

// Every BrokerTest runs on SQLite and on PostgreSQL (skipped where PostgreSQL cannot run).
INSTANTIATE_TEST_SUITE_P(Backends, BrokerTest,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

}  // namespace
}  // namespace jg::access
