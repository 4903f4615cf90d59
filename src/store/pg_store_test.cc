// PostgreSQL-only behaviour: migrations racing between replicas, the bounded pool, reconnects.
// Skipped where a throwaway PostgreSQL server cannot run.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/test_backends.h"

namespace jg::store {
namespace {

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto url = testing::freshPostgresUrl(&why);
    if (!url) {
      GTEST_SKIP() << why;
    }
    url_ = *url;
  }
  std::unique_ptr<Store> openStore(const std::string& extra = "") {
    auto s = open(url_ + extra);
    EXPECT_TRUE(s.isOk()) << s.status().message();
    return s ? std::move(*s) : nullptr;
  }
  std::string url_;
};

int64_t scalar(Store& s, const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(s.query(sql, {}, [&](const Row& r) {
                 n = asInt(r[0]);
                 return false;
               }).isOk());
  return n;
}

TEST_F(PgStoreTest, ReplicasMigratingAtOnceApplyEachStepExactlyOnce) {
  // Each step inserts a row; a step applied twice would insert it twice (or fail on the
  // CREATE TABLE). pg_sleep widens the window in which an unguarded race would interleave.
  std::vector<Migration> m = {
      {1, "log", {"CREATE TABLE applied(step INTEGER NOT NULL)", "INSERT INTO applied VALUES (1)"}},
      {2, "slow", {"SELECT pg_sleep(0.2)", "INSERT INTO applied VALUES (2)"}},
      {3, "more", {"INSERT INTO applied VALUES (3)"}}};
  auto a = openStore();
  auto b = openStore();
  ASSERT_TRUE(a && b);
  std::atomic<int> ok{0};
  std::thread ta([&] { ok += a->migrate("race", m).isOk() ? 1 : 0; });
  std::thread tb([&] { ok += b->migrate("race", m).isOk() ? 1 : 0; });
  ta.join();
  tb.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(scalar(*a, "SELECT count(*) FROM applied"), 3);
  EXPECT_EQ(scalar(*a, "SELECT count(DISTINCT step) FROM applied"), 3);
  EXPECT_EQ(*b->schemaVersion("race"), 3);
}

TEST_F(PgStoreTest, ABusyPoolMakesTheNextCallerWaitThenFailInsteadOfQueueingForever) {
  auto s = openStore("&pool_size=1&pool_timeout_ms=200");
  ASSERT_TRUE(s);
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    EXPECT_TRUE(s->transaction([&](Tx&) {
                   holding = true;
                   while (!release) {
                     std::this_thread::sleep_for(std::chrono::milliseconds(5));
                   }
                   return Status::ok();
                 }).isOk());
  });
  while (!holding) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto t0 = std::chrono::steady_clock::now();
  Status st = s->query("SELECT 1", {}, [](const Row&) { return true; });
  auto waited = std::chrono::steady_clock::now() - t0;
  release = true;
  holder.join();
  EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.message();
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_EQ(scalar(*s, "SELECT 1"), 1);  // free again
}

TEST_F(PgStoreTest, ConnectionKilledByTheServerIsReplacedOnTheNextCall) {
  auto s = openStore("&pool_size=2&application_name=jg-kill-me");
  ASSERT_TRUE(s);
  ASSERT_EQ(scalar(*s, "SELECT 1"), 1);
  auto killer = openStore("&application_name=jg-killer");
  ASSERT_TRUE(killer);
  EXPECT_GE(scalar(*killer,
                   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                   "application_name = 'jg-kill-me'"),
            1);
  // The idle pooled connection is dead now; a read and a transaction still work.
  EXPECT_EQ(scalar(*s, "SELECT 2"), 2);
  EXPECT_TRUE(s->transaction([](Tx& tx) { return tx.exec("SELECT 3"); }).isOk());
}

TEST_F(PgStoreTest, AStatementErrorSwallowedByTheCallerStillRollsBack) {
  auto s = openStore();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->transaction([](Tx& tx) { return tx.exec("CREATE TABLE t(n BIGINT)"); }).isOk());
  Status st = s->transaction([](Tx& tx) {
    (void)tx.exec("INSERT INTO t VALUES (1)");
    (void)tx.exec("INSERT INTO no_such_table VALUES (1)");
    return Status::ok();
  });
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(scalar(*s, "SELECT count(*) FROM t"), 0);
}

TEST_F(PgStoreTest, WrongPasswordFailsToOpenWithoutEchoingIt) {
  auto bad = open(url_.substr(0, url_.find("&password_file=")) + "&password_file=/nonexistent/pw");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("/nonexistent/pw"), std::string::npos);
}

TEST_F(PgStoreTest, DialectIsPostgresql) {
  auto s = openStore();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->dialect(), "postgresql");
}

}  // namespace
}  // namespace jg::store
