// Two replicas' coordinators on one store and the "expire-access" lease, on SQLite and on
// PostgreSQL (skipped where PostgreSQL cannot run).
#include "server/replica_coordinator.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/test_backends.h"

namespace jg::server {
namespace {

using namespace std::chrono_literals;
using store::testing::Backend;

class ExpiryLease : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = store::testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
  }
  std::unique_ptr<ReplicaCoordinator> start(std::string instance,
                                            std::chrono::milliseconds dead_after = 30s) {
    auto c = ReplicaCoordinator::start(
        *store_, std::move(instance),
        ReplicasConfig{.heartbeat = 5s, .dead_after = dead_after, .reap_every = 60s});
    EXPECT_TRUE(c) << c.status().message();
    return c ? std::move(*c) : nullptr;
  }

  std::unique_ptr<store::Store> store_;
};

TEST_P(ExpiryLease, OneReplicaAtATimeHasTheTurnAndItsRenewalsKeepIt) {
  auto a = start("gw-a");
  auto b = start("gw-b");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->expiryTurn(250ms));
  EXPECT_FALSE(b->expiryTurn(250ms));
  EXPECT_TRUE(a->expiryTurn(250ms));
  EXPECT_FALSE(b->expiryTurn(250ms));
}

TEST_P(ExpiryLease, AStoppedHolderReleasesTheLeaseAndAnotherTakesItAtOnce) {
  auto a = start("gw-a");
  auto b = start("gw-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->expiryTurn(250ms));
  ASSERT_FALSE(b->expiryTurn(250ms));
  a.reset();
  EXPECT_TRUE(b->expiryTurn(250ms));
}

TEST_P(ExpiryLease, AHolderThatStopsRenewingLosesTheTurnAfterTheTtl) {
  // ttl: twice the sweep interval (10 ms) plus dead_after (100 ms).
  auto a = start("gw-a", 100ms);
  auto b = start("gw-b", 100ms);
  ASSERT_TRUE(a && b);
  const auto taken = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->expiryTurn(10ms));
  const auto give_up = taken + 10s;
  bool b_turn = false;
  while (!b_turn && std::chrono::steady_clock::now() < give_up) {
    b_turn = b->expiryTurn(10ms);
    if (!b_turn) {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_TRUE(b_turn);
  EXPECT_GE(std::chrono::steady_clock::now() - taken, 100ms);
  EXPECT_FALSE(a->expiryTurn(10ms));
}

INSTANTIATE_TEST_SUITE_P(Backends, ExpiryLease,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

}  // namespace
}  // namespace jg::server
