// Leases and heartbeats, on SQLite and on PostgreSQL (skipped where PostgreSQL cannot run).
#include "store/leases.h"

#include <gtest/gtest.h>

#include "store/test_backends.h"

namespace jg::store {
namespace {

using std::chrono::seconds;
using testing::Backend;

constexpr UnixMicros kT0 = 1'700'000'000'000'000;
constexpr UnixMicros kSecond = 1'000'000;

class Leases : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
    ASSERT_TRUE(store_->migrate("store_leases", leaseMigrations()));
  }
  bool take(std::string_view task, std::string_view holder, UnixMicros now) {
    auto held = tryLease(*store_, task, holder, now, seconds(30));
    EXPECT_TRUE(held) << held.status().message();
    return held && *held;
  }

  std::unique_ptr<Store> store_;
};

TEST_P(Leases, OneHolderAtATimeUntilItsLeaseRunsOut) {
  EXPECT_TRUE(take("reaper", "gw-a", kT0));
  EXPECT_FALSE(take("reaper", "gw-b", kT0 + kSecond));
  EXPECT_TRUE(take("other-task", "gw-b", kT0 + kSecond));    // tasks are independent
  EXPECT_TRUE(take("reaper", "gw-a", kT0 + 20 * kSecond));   // renewed by its holder
  EXPECT_FALSE(take("reaper", "gw-b", kT0 + 45 * kSecond));  // runs to 20 s + 30 s
  EXPECT_TRUE(take("reaper", "gw-b", kT0 + 51 * kSecond));   // the holder stopped renewing
  EXPECT_FALSE(take("reaper", "gw-a", kT0 + 52 * kSecond));
}

TEST_P(Leases, AReleasedLeaseIsFreeAtOnceAndOnlyItsHolderReleasesIt) {
  ASSERT_TRUE(take("reaper", "gw-a", kT0));
  ASSERT_TRUE(releaseLease(*store_, "reaper", "gw-b"));  // not the holder: nothing changes
  EXPECT_FALSE(take("reaper", "gw-b", kT0 + kSecond));
  ASSERT_TRUE(releaseLease(*store_, "reaper", "gw-a"));
  EXPECT_TRUE(take("reaper", "gw-b", kT0 + kSecond));
}

TEST_P(Leases, LiveInstancesAreThoseWithARecentBeat) {
  ASSERT_TRUE(beat(*store_, "gw-a", kT0));
  ASSERT_TRUE(beat(*store_, "gw-b", kT0));
  ASSERT_TRUE(beat(*store_, "gw-a", kT0 + 40 * kSecond));
  auto live = liveInstances(*store_, kT0 + 45 * kSecond, seconds(30));
  ASSERT_TRUE(live);
  EXPECT_EQ(*live, (std::set<std::string>{"gw-a"}));
  auto known = knownInstances(*store_);
  ASSERT_TRUE(known);
  EXPECT_EQ(*known, (std::set<std::string>{"gw-a", "gw-b"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, Leases, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return testing::backendName(info.param); });

}  // namespace
}  // namespace jg::store
