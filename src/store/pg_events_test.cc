// Events between replicas on the PostgreSQL store: publishing inside transactions, delivery to
// a feed of another Store on the same database, and catch-up after the feed's connection drops.
// The database tests are skipped where a throwaway PostgreSQL server cannot run.
#include "store/pg_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "config/node.h"
#include "core/metrics.h"
#include "store/pg_store.h"
#include "store/test_backends.h"

namespace jg::store {
namespace {

using namespace std::chrono_literals;

TEST(EventPayload, PayloadSplitsIntoSequenceKindAndRef) {
  auto e = parseEventPayload("42 review r-abc def");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->seq, 42);
  EXPECT_EQ(e->kind, "review");
  EXPECT_EQ(e->ref, "r-abc def");
}

TEST(EventPayload, PayloadWithoutANumberOrKindIsRefused) {
  EXPECT_FALSE(parseEventPayload(""));
  EXPECT_FALSE(parseEventPayload("review r-1"));
  EXPECT_FALSE(parseEventPayload("12x review r-1"));
  EXPECT_FALSE(parseEventPayload("0 review r-1"));
  EXPECT_FALSE(parseEventPayload("7  r-1"));
  EXPECT_FALSE(parseEventPayload("7 review"));
}

// Collects delivered events; waits on a condition, never a fixed sleep.
class Inbox {
 public:
  EventHandler handler() {
    return [this](const StoreEvent& e) {
      std::lock_guard lk(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  std::vector<StoreEvent> waitFor(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return events_.size() >= n; });
    return events_;
  }
  std::vector<StoreEvent> now() {
    std::lock_guard lk(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StoreEvent> events_;
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class PgEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto url = testing::freshPostgresUrl(&why);
    if (!url) {
      GTEST_SKIP() << why;
    }
    url_ = *url;
    auto a = open(url_ + "&application_name=jg-replica-a");
    auto b = open(url_ + "&application_name=jg-replica-b");
    ASSERT_TRUE(a.isOk()) << a.status().message();
    ASSERT_TRUE(b.isOk()) << b.status().message();
    a_ = std::move(*a);
    b_ = std::move(*b);
  }

  Status publish(Store& s, std::string_view kind, std::string_view ref) {
    return s.transaction([&](Tx& tx) { return tx.publish(kind, ref); });
  }

  // A feed of its own pool, with a reconnect delay long enough to publish while it is away.
  std::unique_ptr<EventFeed> slowReconnectingFeed(Inbox& inbox) {
    auto u = parsePgUrl(url_);
    EXPECT_TRUE(u.isOk());
    auto pw = config::readSecretFile(u->password_file);
    EXPECT_TRUE(pw.isOk());
    pool_ = std::make_unique<PgPool>(*u, *pw);
    return startPgFeed(*pool_, inbox.handler(), -1, {.min_backoff = 700ms, .max_backoff = 700ms});
  }

  std::string url_;
  std::unique_ptr<Store> a_;
  std::unique_ptr<Store> b_;
  std::unique_ptr<PgPool> pool_;
};

TEST_F(PgEventsTest, EventCommittedOnOneStoreReachesTheFeedOfAnother) {
  Inbox inbox;
  auto feed = b_->follow(inbox.handler());
  ASSERT_TRUE(feed.isOk() && *feed);
  ASSERT_TRUE(eventually([&] { return (*feed)->live(); }));
  ASSERT_TRUE(publish(*a_, "review", "r-1").isOk());
  auto got = inbox.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, "review");
  EXPECT_EQ(got[0].ref, "r-1");
  EXPECT_GT(got[0].seq, 0);
}

TEST_F(PgEventsTest, EventCommittedRightAfterFollowReturnsIsDelivered) {
  Inbox inbox;
  auto feed = b_->follow(inbox.handler());
  ASSERT_TRUE(feed.isOk() && *feed);
  ASSERT_TRUE(publish(*a_, "review", "r-at-once").isOk());  // before the feed's first LISTEN
  auto got = inbox.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref, "r-at-once");
}

TEST_F(PgEventsTest, EventsFromBeforeTheFeedStartedAreNotReplayed) {
  ASSERT_TRUE(publish(*a_, "review", "r-old").isOk());
  Inbox inbox;
  auto feed = b_->follow(inbox.handler());
  ASSERT_TRUE(feed.isOk() && *feed);
  ASSERT_TRUE(eventually([&] { return (*feed)->live(); }));
  ASSERT_TRUE(publish(*a_, "grant", "g-new").isOk());
  auto got = inbox.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref, "g-new");
}

TEST_F(PgEventsTest, RolledBackTransactionPublishesNothingAndCommitIsNeverPreceded) {
  Inbox inbox;
  auto feed = b_->follow(inbox.handler());
  ASSERT_TRUE(feed.isOk() && *feed);
  ASSERT_TRUE(eventually([&] { return (*feed)->live(); }));
  Status st = a_->transaction([&](Tx& tx) -> Status {
    EXPECT_TRUE(tx.publish("review", "r-rolled-back").isOk());
    return Status::error(Code::kInternal, "changed my mind");
  });
  EXPECT_FALSE(st.isOk());
  // Published, then held open: nothing may arrive before the commit.
  st = a_->transaction([&](Tx& tx) -> Status {
    EXPECT_TRUE(tx.publish("review", "r-late").isOk());
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(inbox.now().empty());
    return Status::ok();
  });
  ASSERT_TRUE(st.isOk());
  auto got = inbox.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref, "r-late");
}

TEST_F(PgEventsTest, EventsFromConcurrentWritersArriveOnceInIncreasingOrder) {
  Inbox inbox;
  auto feed = b_->follow(inbox.handler());
  ASSERT_TRUE(feed.isOk() && *feed);
  ASSERT_TRUE(eventually([&] { return (*feed)->live(); }));
  constexpr int kPerWriter = 20;
  auto write = [&](Store& s, const std::string& prefix) {
    for (int i = 0; i < kPerWriter; ++i) {
      EXPECT_TRUE(publish(s, "grant", prefix + std::to_string(i)).isOk());
    }
  };
  std::thread ta([&] { write(*a_, "a"); });
  std::thread tb([&] { write(*b_, "b"); });  // the follower's own events come back too
  ta.join();
  tb.join();
  auto got = inbox.waitFor(2 * kPerWriter);
  ASSERT_EQ(got.size(), 2u * kPerWriter);
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_GT(got[i].seq, got[i - 1].seq);
  }
}

TEST_F(PgEventsTest, EventsCommittedWhileTheListenerWasCutOffAreCaughtUpExactlyOnce) {
  Inbox inbox;
  auto feed = slowReconnectingFeed(inbox);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(eventually([&] { return feed->live(); }));
  ASSERT_TRUE(publish(*a_, "review", "r-before").isOk());
  ASSERT_EQ(inbox.waitFor(1).size(), 1u);
  const uint64_t reconnects = metrics::storeListenReconnects().value({});

  int64_t killed = -1;
  ASSERT_TRUE(
      a_->query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'jitgate-listen' AND datname = current_database()",
                {},
                [&](const Row& r) {
                  killed = asInt(r[0]);
                  return false;
                })
          .isOk());
  ASSERT_EQ(killed, 1);
  ASSERT_TRUE(eventually([&] { return !feed->live(); }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(publish(*a_, "review", "r-away-" + std::to_string(i)).isOk());
  }
  EXPECT_FALSE(feed->live());  // published while it was away: only catch-up can deliver them
  auto got = inbox.waitFor(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].ref, "r-away-0");
  EXPECT_EQ(got[3].ref, "r-away-2");
  EXPECT_TRUE(eventually([&] { return feed->live(); }));
  ASSERT_TRUE(publish(*a_, "review", "r-after").isOk());
  got = inbox.waitFor(5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4].ref, "r-after");
  EXPECT_GT(metrics::storeListenReconnects().value({}), reconnects);
}

TEST_F(PgEventsTest, FeedAwayLongerThanTheEventsAreKeptIsToldToResync) {
  Inbox inbox;
  auto feed = slowReconnectingFeed(inbox);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(eventually([&] { return feed->live(); }));
  ASSERT_TRUE(a_->transaction([](Tx& tx) {
                  return tx.exec(
                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'jitgate-listen' "
                      "AND datname = current_database()");
                }).isOk());
  ASSERT_TRUE(eventually([&] { return !feed->live(); }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(publish(*a_, "grant", "g-" + std::to_string(i)).isOk());
  }
  // Pruned while the feed was away (the newest row always stays).
  ASSERT_TRUE(a_->transaction([](Tx& tx) {
                  return tx.exec(
                      "DELETE FROM store_events WHERE id < (SELECT MAX(id) FROM store_events)");
                }).isOk());
  auto got = inbox.waitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, kResyncEvent);
  EXPECT_EQ(got[1].ref, "g-2");
}

TEST_F(PgEventsTest, FeedDestroyedFromItsOwnHandlerStopsCleanly) {
  std::unique_ptr<EventFeed> feed;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  auto started = b_->follow([&](const StoreEvent&) {
    std::lock_guard lk(mu);
    feed.reset();
    done = true;
    cv.notify_all();
  });
  ASSERT_TRUE(started.isOk() && *started);
  {
    std::lock_guard lk(mu);
    feed = std::move(*started);
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return feed && feed->live();
  }));
  ASSERT_TRUE(publish(*a_, "review", "r-1").isOk());
  std::unique_lock lk(mu);
  EXPECT_TRUE(cv.wait_for(lk, 5s, [&] { return done; }));
}

}  // namespace
}  // namespace jg::store
