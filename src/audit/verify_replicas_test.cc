// Three replicas' logs, each in its own audit directory with its own signing key, anchored in
// one shared store (a MemoryAnchors): verification from one place reports every chain.
#include "audit/verify_replicas.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>

#include "audit/recorder.h"
#include "audit/segment.h"
#include "audit/test_util.h"

namespace jg::audit {
namespace {

constexpr std::array<const char*, 3> kNames = {"replica-a", "replica-b", "replica-c"};

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < kNames.size(); ++i) {
      auto s = dirs_[i].settings();
      s.instance = kNames[i];
      s.checkpoint_every = 5;
      RecorderOptions opt;
      opt.anchors = &anchors_;
      auto rec = Recorder::open(s, opt);
      ASSERT_TRUE(rec.isOk()) << rec.status().message();
      for (int n = 1; n <= 12; ++n) {
        StatementEvent st;
        st.statement_id = n;
        st.text = "SELECT " + std::to_string(n) + " -- on " + kNames[i];
        ASSERT_TRUE((*rec)->append(Event{"s1", {}, st}).isOk());
      }
      ASSERT_TRUE((*rec)->close().isOk());
      auto pub = PublicKey::loadPem(dirs_[i].path("keys/sign.pub.pem"));
      ASSERT_TRUE(pub.isOk());
      keys_.add(*pub);
    }
  }

  VerifyOptions anchored() const {
    VerifyOptions o;
    o.anchors = anchors_.all();
    o.anchors_given = true;
    return o;
  }

  std::string auditDir(size_t i) const { return dirs_[i].auditDir(); }
  std::string instanceDir(size_t i) const { return auditDir(i) + "/" + kNames[i]; }

  std::array<testing::TempAuditDir, 3> dirs_;
  testing::MemoryAnchors anchors_;
  KeyRing keys_;
};

TEST_F(Replicas, EveryReplicasChainIsReportedOnceWhenEveryDirectoryIsGiven) {
  ReplicasReport r = verifyReplicas({auditDir(0), auditDir(1), auditDir(2)}, keys_, anchored());
  ASSERT_EQ(r.chains.size(), 3u);
  for (size_t i = 0; i < kNames.size(); ++i) {
    EXPECT_EQ(r.chains[i].summary.instance, kNames[i]);
    EXPECT_EQ(r.chains[i].state, ChainState::kIntact) << r.chains[i].problem->describe();
    EXPECT_EQ(r.chains[i].dir, auditDir(i));
    EXPECT_GT(r.chains[i].summary.anchored_seq, 0u);
  }
  EXPECT_TRUE(r.ok());
}

TEST_F(Replicas, AnchoredReplicaWhoseDirectoryIsNotHereIsAbsentAndNotAPass) {
  ReplicasReport r = verifyReplicas({auditDir(0), auditDir(1)}, keys_, anchored());
  ASSERT_EQ(r.chains.size(), 3u);
  EXPECT_EQ(r.chains[0].state, ChainState::kIntact);
  EXPECT_EQ(r.chains[1].state, ChainState::kIntact);
  const ChainOutcome& c = r.chains[2];
  EXPECT_EQ(c.summary.instance, "replica-c");
  EXPECT_EQ(c.state, ChainState::kAbsent);
  ASSERT_TRUE(c.problem.has_value());
  EXPECT_NE(c.problem->what.find("is anchored"), std::string::npos) << c.problem->what;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.count(ChainState::kAbsent), 1u);
  EXPECT_EQ(r.firstNotIntact(), &c);
}

TEST_F(Replicas, BrokenChainOfOneReplicaDoesNotHideTheOthers) {
  auto segs = listSegments(instanceDir(0));
  ASSERT_FALSE(segs.empty());
  std::filesystem::resize_file(segs.back().path, std::filesystem::file_size(segs.back().path) - 9);
  ReplicasReport r = verifyReplicas({auditDir(0), auditDir(1), auditDir(2)}, keys_, anchored());
  ASSERT_EQ(r.chains.size(), 3u);
  EXPECT_EQ(r.chains[0].state, ChainState::kFailed);
  ASSERT_TRUE(r.chains[0].problem.has_value());
  EXPECT_EQ(r.chains[0].problem->instance, "replica-a");
  EXPECT_EQ(r.chains[1].state, ChainState::kIntact);
  EXPECT_EQ(r.chains[2].state, ChainState::kIntact);
  EXPECT_FALSE(r.ok());
}

TEST_F(Replicas, OnlyTheNamedInstanceIsCheckedAndOneNotHereIsAbsent) {
  VerifyOptions o = anchored();
  o.only = {"replica-b"};
  ReplicasReport r = verifyReplicas({auditDir(1)}, keys_, o);
  ASSERT_EQ(r.chains.size(), 1u);
  EXPECT_TRUE(r.ok());
  o.only = {"replica-b", "replica-z"};
  r = verifyReplicas({auditDir(1)}, keys_, o);
  ASSERT_EQ(r.chains.size(), 2u);
  EXPECT_EQ(r.chains[1].summary.instance, "replica-z");
  EXPECT_EQ(r.chains[1].state, ChainState::kAbsent);
  EXPECT_FALSE(r.ok());
}

TEST_F(Replicas, OneChainClaimedByTwoDirectoriesFails) {
  std::filesystem::copy(instanceDir(0), auditDir(1) + "/replica-a",
                        std::filesystem::copy_options::recursive);
  ReplicasReport r = verifyReplicas({auditDir(0), auditDir(1), auditDir(2)}, keys_, anchored());
  ASSERT_EQ(r.chains.size(), 3u);
  EXPECT_EQ(r.chains[0].state, ChainState::kFailed);
  EXPECT_NE(r.chains[0].problem->what.find("two directories"), std::string::npos);
  EXPECT_FALSE(r.ok());
}

TEST_F(Replicas, LogDeletedOnItsOwnHostIsNotAPass) {
  std::filesystem::remove_all(instanceDir(2));
  ReplicasReport r = verifyReplicas({auditDir(0), auditDir(1), auditDir(2)}, keys_, anchored());
  ASSERT_EQ(r.chains.size(), 3u);
  EXPECT_EQ(r.chains[2].state, ChainState::kAbsent);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace jg::audit
