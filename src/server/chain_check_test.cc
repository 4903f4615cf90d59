#include "server/chain_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/recorder.h"
#include "audit/test_util.h"

namespace jg::server {
namespace {

using audit::testing::TempAuditDir;
using namespace std::chrono_literals;

class ChainCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    audit::Settings s = dir_.settings();
    s.durability = audit::Durability::kOff;
    auto rec = audit::Recorder::open(s);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    for (int i = 1; i <= 20; ++i) {
      audit::StatementEvent st;
      st.statement_id = static_cast<uint64_t>(i);
      st.text = "select " + std::to_string(i);
      ASSERT_TRUE((*rec)->append(audit::Event{"s1", {}, st}).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
  }

  ChainCheck::TargetSource target() const {
    return [this] {
      return std::optional<ChainCheck::Target>(
          ChainCheck::Target{dir_.auditDir(), "gw1", dir_.path("keys/sign.pem")});
    };
  }

  // The state once it is neither pending nor running (or after 10 s).
  static boost::json::object settled(const ChainCheck& check) {
    for (int i = 0; i < 1000; ++i) {
      boost::json::object s = check.status();
      if (s["state"] != "pending" && s["state"] != "running") {
        return s;
      }
      std::this_thread::sleep_for(10ms);
    }
    return check.status();
  }

  void flipAByteInTheMiddleOfTheSegment() const {
    std::filesystem::path seg;
    for (const auto& e : std::filesystem::directory_iterator(dir_.instanceDir())) {
      if (e.path().extension() == ".seg") {
        seg = e.path();
      }
    }
    ASSERT_FALSE(seg.empty());
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    auto middle = static_cast<std::streamoff>(std::filesystem::file_size(seg) / 2);
    f.seekg(middle);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(middle);
    f.write(&c, 1);
  }

  TempAuditDir dir_;
};

TEST_F(ChainCheckTest, AnIntactChainIsReportedOkWithItsRecordsAtStart) {
  ChainCheck check(target(), nullptr, 0ms);
  boost::json::object s = settled(check);
  EXPECT_EQ(s["state"], "ok") << boost::json::serialize(s);
  EXPECT_GE(s["instances"].as_array().at(0).as_object()["records"].to_number<int64_t>(), 20);
  EXPECT_FALSE(s["anchors_checked"].as_bool());
  EXPECT_TRUE(s.contains("finished_at"));
}

TEST_F(ChainCheckTest, ATamperedSegmentFailsTheNextRequestedCheck) {
  ChainCheck check(target(), nullptr, 0ms);
  ASSERT_EQ(settled(check)["state"], "ok");
  flipAByteInTheMiddleOfTheSegment();
  EXPECT_TRUE(check.request());
  boost::json::object s = settled(check);
  EXPECT_EQ(s["state"], "failed") << boost::json::serialize(s);
  EXPECT_TRUE(s.contains("first_bad")) << boost::json::serialize(s);
}

TEST_F(ChainCheckTest, AMissingKeyIsAFailureThatSaysWhy) {
  ChainCheck check(
      [this] {
        return std::optional<ChainCheck::Target>(
            ChainCheck::Target{dir_.auditDir(), "gw1", dir_.path("keys/none.pem")});
      },
      nullptr, 0ms);
  boost::json::object s = settled(check);
  EXPECT_EQ(s["state"], "failed");
  EXPECT_NE(boost::json::serialize(s).find("verification key"), std::string::npos);
}

TEST_F(ChainCheckTest, ARequestWhileOneIsAskedForIsNotQueuedTwice) {
  ChainCheck check(target(), nullptr, 0ms);
  (void)settled(check);
  EXPECT_TRUE(check.request());
  EXPECT_FALSE(check.request());  // the first is still asked for or running
  EXPECT_EQ(settled(check)["state"], "ok");
}

}  // namespace
}  // namespace jg::server
