#include "audit/anchor.h"

#include <gtest/gtest.h>

#include "store/test_backends.h"

namespace jg::audit {
namespace {

Anchor anchorAt(const std::string& instance, uint64_t seq) {
  Anchor a;
  a.instance = instance;
  a.segment = 3;
  a.seq = seq;
  a.hash = sha256("record " + std::to_string(seq));
  a.upto_seq = seq - 1;
  a.upto_hash = sha256("record " + std::to_string(seq - 1));
  a.key = "0011223344556677";
  a.sig = "c2ln";
  a.ts_us = 1'700'000'000'000'000;
  return a;
}

std::unique_ptr<store::Store> migratedStore(
    store::testing::Backend backend = store::testing::Backend::kSqlite) {
  std::string skip;
  std::string error;
  auto st = store::testing::openFresh(backend, &skip, &error);
  EXPECT_TRUE(st || error.empty()) << error;  // unavailable PostgreSQL: null, the test skips
  if (st) {
    EXPECT_TRUE(st->migrate("audit_anchors", anchorMigrations()).isOk());
  }
  return st;
}

class AnchorsInStore : public ::testing::TestWithParam<store::testing::Backend> {};

TEST_P(AnchorsInStore, StoredAnchorRoundTripsEveryField) {
  auto store = migratedStore(GetParam());
  if (!store) {
    GTEST_SKIP();
  }
  Anchor a = anchorAt("gw1", 42);
  ASSERT_TRUE(saveAnchor(*store, a).isOk());
  auto all = loadAnchors(*store);
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->count("gw1"), 1u);
  const Anchor& b = all->at("gw1");
  EXPECT_EQ(b.segment, a.segment);
  EXPECT_EQ(b.seq, a.seq);
  EXPECT_EQ(b.hash, a.hash);
  EXPECT_EQ(b.upto_seq, a.upto_seq);
  EXPECT_EQ(b.upto_hash, a.upto_hash);
  EXPECT_EQ(b.key, a.key);
  EXPECT_EQ(b.sig, a.sig);
  EXPECT_EQ(b.ts_us, a.ts_us);
}

TEST_P(AnchorsInStore, AnOlderAnchorNeverReplacesANewerOne) {
  auto store = migratedStore(GetParam());
  if (!store) {
    GTEST_SKIP();
  }
  ASSERT_TRUE(saveAnchor(*store, anchorAt("gw1", 100)).isOk());
  ASSERT_TRUE(saveAnchor(*store, anchorAt("gw1", 50)).isOk());
  ASSERT_TRUE(saveAnchor(*store, anchorAt("gw2", 7)).isOk());
  auto all = loadAnchors(*store);
  ASSERT_TRUE(all.isOk());
  EXPECT_EQ(all->at("gw1").seq, 100u);
  EXPECT_EQ(all->at("gw2").seq, 7u);
  ASSERT_TRUE(saveAnchor(*store, anchorAt("gw1", 101)).isOk());
  EXPECT_EQ(loadAnchors(*store)->at("gw1").seq, 101u);
}

INSTANTIATE_TEST_SUITE_P(Backends, AnchorsInStore,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

TEST(Anchors, StoreAnchorsWritesTheNewestCheckpointOffTheCallersThread) {
  auto store = migratedStore();
  StoreAnchors anchors(store.get(), Witness::kNone);
  auto none = anchors.latest("gw1");
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->has_value());
  for (uint64_t seq = 10; seq <= 50; seq += 10) {
    anchors.onCheckpoint(anchorAt("gw1", seq));
  }
  ASSERT_TRUE(anchors.flush().isOk());
  auto latest = anchors.latest("gw1");
  ASSERT_TRUE(latest.isOk() && latest->has_value());
  EXPECT_EQ((*latest)->seq, 50u);
  EXPECT_EQ(anchors.stats().last_seq, 50u);
  EXPECT_EQ(anchors.stats().failures, 0u);
}

TEST(Anchors, FailedStoreWriteIsCountedAndReported) {
  auto st = store::open("sqlite::memory:");  // not migrated: the table is missing
  ASSERT_TRUE(st.isOk());
  StoreAnchors anchors(st->get(), Witness::kNone);
  anchors.onCheckpoint(anchorAt("gw1", 10));
  EXPECT_FALSE(anchors.flush().isOk());
  EXPECT_EQ(anchors.stats().failures, 1u);
}

TEST(Anchors, TokenNamesInstanceSeqAndHash) {
  Anchor a = anchorAt("gw-1", 1234);
  std::string token = anchorToken(a);
  EXPECT_EQ(token, "gw-1:1234:" + hashHex(a.hash));
  Anchor b;
  ASSERT_TRUE(parseAnchorToken(token, b));
  EXPECT_EQ(b.instance, "gw-1");
  EXPECT_EQ(b.seq, 1234u);
  EXPECT_EQ(b.hash, a.hash);
  EXPECT_TRUE(b.sig.empty());
}

TEST(Anchors, MalformedTokensAreRejected) {
  Anchor a;
  for (const char* bad :
       {"", "gw1", "gw1:12", ":12:00", "gw1:x:", "gw1:12:zz",
        "gw1:-1:0000000000000000000000000000000000000000000000000000000000000000"}) {
    EXPECT_FALSE(parseAnchorToken(bad, a)) << bad;
  }
}

}  // namespace
}  // namespace jg::audit
