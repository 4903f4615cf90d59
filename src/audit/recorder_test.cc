#include "audit/recorder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <thread>

#include "audit/test_util.h"
#include "audit/verify.h"

namespace jg::audit {
namespace {

Event stmt(const std::string& sid, uint64_t id, const std::string& text = "SELECT 1") {
  StatementEvent st;
  st.statement_id = id;
  st.text = text;
  st.kind = "select";
  st.decision = "allow";
  return Event{sid, {}, st};
}

KeyRing keys(const testing::TempAuditDir& dir) {
  KeyRing ring;
  auto pub = PublicKey::loadPem(dir.path("keys/sign.pub.pem"));
  EXPECT_TRUE(pub.isOk());
  ring.add(*pub);
  return ring;
}

// Fails every sync once `fail_syncs` is set; with `fail_writes`, every append writes half its
// bytes and fails (what a full disk does), and no new file can be created; with `fail_opens`,
// only the creation of files fails.
class FaultyEnv final : public Env {
 public:
  std::atomic<bool> fail_syncs{false};
  std::atomic<bool> fail_writes{false};
  std::atomic<bool> fail_opens{false};
  Result<std::unique_ptr<WritableFile>> openAppend(const std::string& path,
                                                   uint64_t preallocate) override {
    if (fail_writes || fail_opens) {
      return Status::error(Code::kUnavailable, "open: no space left on device");
    }
    auto f = Env::posix().openAppend(path, preallocate);
    if (!f) {
      return f.status();
    }
    return std::unique_ptr<WritableFile>(std::make_unique<File>(std::move(*f), this));
  }
  Status truncate(const std::string& p, uint64_t n) override { return Env::posix().truncate(p, n); }
  Status syncDir(const std::string& d) override { return Env::posix().syncDir(d); }

 private:
  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> f, FaultyEnv* env) : f_(std::move(f)), env_(env) {}
    Status append(std::string_view d) override {
      if (env_->fail_writes) {
        (void)f_->append(d.substr(0, d.size() / 2));
        return Status::error(Code::kUnavailable, "write: no space left on device");
      }
      return f_->append(d);
    }
    Status truncate(uint64_t size) override { return f_->truncate(size); }
    Status sync() override {
      if (env_->fail_syncs) {
        return Status::error(Code::kUnavailable, "fsync: input/output error");
      }
      return f_->sync();
    }
    Status close() override { return f_->close(); }

   private:
    std::unique_ptr<WritableFile> f_;
    FaultyEnv* env_;
  };
};

TEST(Recorder, AppendedRecordsVerify) {
  testing::TempAuditDir dir;
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk()) << rec.status().message();
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE((*rec)->append(stmt("s1", i)).isOk());
  }
  EXPECT_EQ((*rec)->stats().last_seq, 11u);  // segment_start + 10
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  ASSERT_TRUE(report.ok) << report.first_bad->describe();
  ASSERT_EQ(report.instances.size(), 1u);
  EXPECT_EQ(report.instances[0].records, 12u);  // + closing checkpoint
  EXPECT_EQ(report.instances[0].last_signed_seq, 11u);
}

TEST(Recorder, CheckpointsEveryNRecords) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.checkpoint_every = 5;
  auto rec = Recorder::open(s);
  ASSERT_TRUE(rec.isOk());
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE((*rec)->append(stmt("s1", i)).isOk());
  }
  EXPECT_EQ((*rec)->stats().checkpoints, 2u);
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  ASSERT_TRUE(report.ok);
  EXPECT_EQ(report.instances[0].checkpoints, 3u);
}

TEST(Recorder, CheckpointsAfterTheIntervalOnTheInjectedClock) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.checkpoint_interval = std::chrono::milliseconds(50);
  ManualClock clock = ManualClock::atUnix(1'700'000'000);
  RecorderOptions opt;
  opt.clock = &clock;
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  ASSERT_TRUE((*rec)->append(stmt("s1", 1)).isOk());
  clock.advance(std::chrono::seconds(1));
  for (int i = 0; i < 100 && (*rec)->stats().checkpoints == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*rec)->stats().checkpoints, 1u);
}

TEST(Recorder, RotatesSegmentsAndReopeningContinuesTheChain) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  for (int round = 0; round < 2; ++round) {
    auto rec = Recorder::open(s);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    for (int i = 1; i <= 200; ++i) {
      ASSERT_TRUE((*rec)->append(stmt("s" + std::to_string(round), i, randomId(40))).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
  }
  EXPECT_GT(listSegments(dir.instanceDir()).size(), 3u);
  auto report = verifyDir(dir.auditDir(), keys(dir));
  ASSERT_TRUE(report.ok) << report.first_bad->describe();
  EXPECT_EQ(report.instances[0].first_seq, 1u);
}

TEST(Recorder, SecondRecorderOnTheSameInstanceIsRefused) {
  testing::TempAuditDir dir;
  auto a = Recorder::open(dir.settings());
  ASSERT_TRUE(a.isOk());
  auto b = Recorder::open(dir.settings());
  EXPECT_FALSE(b.isOk());
}

TEST(Recorder, ConcurrentSessionsShareGroupCommits) {
  testing::TempAuditDir dir;
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= 50; ++i) {
        EXPECT_TRUE((*rec)->append(stmt("s" + std::to_string(t), i)).isOk());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  auto st = (*rec)->stats();
  EXPECT_EQ(st.records, 400u);
  EXPECT_LE(st.syncs, st.frames);
  ASSERT_TRUE((*rec)->close().isOk());
  EXPECT_TRUE(verifyDir(dir.auditDir(), keys(dir)).ok);
}

TEST(Recorder, AsyncCallbackRunsOnceDurable) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.durability = Durability::kBatched;
  s.batch_delay = std::chrono::milliseconds(20);
  auto rec = Recorder::open(s);
  ASSERT_TRUE(rec.isOk());
  std::promise<Status> done;
  (*rec)->appendAsync(stmt("s1", 1), [&](const Status& st) { done.set_value(st); });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(fut.get().isOk());
  EXPECT_GE((*rec)->stats().syncs, 2u);  // segment_start + the batch
}

TEST(Recorder, WhenDurableRunsOnceTheTicketIsDurable) {
  testing::TempAuditDir dir;
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk());
  auto first = (*rec)->submit(stmt("s1", 1));
  auto second = (*rec)->submit(stmt("s1", 2));
  ASSERT_TRUE(first.isOk() && second.isOk());
  std::promise<Status> done;
  (*rec)->whenDurable(*second, [&](const Status& st) { done.set_value(st); });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(fut.get().isOk());
  EXPECT_GE((*rec)->durableUpto(), *second);
  // Already durable: the callback runs at once, on the caller's thread.
  bool now = false;
  (*rec)->whenDurable(*first, [&](const Status& st) { now = st.isOk(); });
  EXPECT_TRUE(now);
}

TEST(Recorder, OffDurabilityGathersRecordsIntoFewFrames) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.durability = Durability::kOff;
  s.batch_delay = std::chrono::milliseconds(50);
  auto rec = Recorder::open(s);
  ASSERT_TRUE(rec.isOk());
  Recorder::Ticket last = 0;
  for (int i = 1; i <= 200; ++i) {
    auto t = (*rec)->submit(stmt("s1", i));
    ASSERT_TRUE(t.isOk());
    last = *t;
  }
  ASSERT_TRUE((*rec)->waitDurable(last).isOk());
  auto st = (*rec)->stats();
  EXPECT_EQ(st.syncs, 0u);
  EXPECT_LT(st.frames, 20u);
  ASSERT_TRUE((*rec)->close().isOk());
  EXPECT_TRUE(verifyDir(dir.auditDir(), keys(dir)).ok);
}

TEST(Recorder, RestartAfterACrashWithPreallocatedSpaceVerifies) {
  testing::TempAuditDir dir;
  {
    auto rec = Recorder::open(dir.settings());
    ASSERT_TRUE(rec.isOk());
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE((*rec)->append(stmt("s1", i)).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
  }
  // What a crash leaves: the newest segment still holds its preallocated zeros and a frame
  // that was being written when the process died.
  auto segs = listSegments(dir.instanceDir());
  uint64_t end = std::filesystem::file_size(segs.back().path);
  std::filesystem::resize_file(segs.back().path, kPreallocateBytes);
  {
    std::fstream f(segs.back().path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(end));
    f << std::string("\x00\x00\x01\x00garbage", 11);
  }
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk()) << rec.status().message();
  ASSERT_TRUE((*rec)->append(stmt("s2", 1)).isOk());
  // A live segment verifies too (its preallocated space reads as the end of the log).
  VerifyOptions running;
  running.live = true;
  auto live = verifyDir(dir.auditDir(), keys(dir), running);
  EXPECT_TRUE(live.ok) << live.first_bad->describe();
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  EXPECT_TRUE(report.ok) << report.first_bad->describe();
  EXPECT_EQ(std::filesystem::file_size(segs.back().path), end);
}

TEST(Recorder, DiskFailureFailsWaitersAtOnceButKeepsTheRecords) {
  testing::TempAuditDir dir;
  FaultyEnv env;
  RecorderOptions opt;
  opt.env = &env;
  auto s = dir.settings();
  s.retry_interval = std::chrono::hours(1);  // no retry during this test
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  ASSERT_TRUE((*rec)->append(stmt("s1", 1)).isOk());
  EXPECT_TRUE((*rec)->writable());
  env.fail_syncs = true;
  Status st = (*rec)->append(stmt("s1", 2));
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.sqlstate(), "58030");
  EXPECT_NE(st.message().find("audit log unavailable"), std::string::npos);
  EXPECT_FALSE((*rec)->health().isOk());
  EXPECT_FALSE((*rec)->writable());
  std::promise<Status> cb;
  (*rec)->appendAsync(stmt("s1", 3), [&](const Status& s) { cb.set_value(s); });
  EXPECT_FALSE(cb.get_future().get().isOk());
  EXPECT_FALSE((*rec)->append(stmt("s1", 4)).isOk());
  bool failed = false;
  (*rec)->whenDurable(1000, [&](const Status& s) { failed = !s.isOk(); });
  EXPECT_TRUE(failed);
  EXPECT_EQ((*rec)->stats().queued, 2u);  // 3 and 4 wait; 2 is in the failed frame
  EXPECT_EQ((*rec)->stats().write_failures, 1u);
}

// Waits until the recorder is writable again (its probe succeeded), up to 5 s.
bool waitWritable(Recorder& rec) {
  for (int i = 0; i < 500 && !rec.writable(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return rec.writable();
}

// Statement ids in the log, in order.
std::vector<uint64_t> statementIds(const std::string& instance_dir) {
  std::vector<uint64_t> out;
  for (const auto& f : listSegments(instance_dir)) {
    auto r = SegmentReader::open(f.path);
    Frame frame;
    while (r && r->next(frame) == SegmentReader::Outcome::kFrame) {
      for (const auto& e : frame.entries) {
        auto v = boost::json::parse(e.record).as_object();
        if (v["type"] == "statement") {
          out.push_back(v["stmt"].to_number<uint64_t>());
        }
      }
    }
  }
  return out;
}

TEST(Recorder, RecordsOfAFailedWriteAreWrittenOnceTheDiskRecovers) {
  for (auto mode : {Durability::kStrict, Durability::kBatched, Durability::kOff}) {
    SCOPED_TRACE(std::string(durabilityName(mode)));
    testing::TempAuditDir dir;
    FaultyEnv env;
    RecorderOptions opt;
    opt.env = &env;
    auto s = dir.settings();
    s.durability = mode;
    s.batch_delay = std::chrono::milliseconds(1);
    s.retry_interval = std::chrono::milliseconds(20);
    auto rec = Recorder::open(s, opt);
    ASSERT_TRUE(rec.isOk());
    ASSERT_TRUE((*rec)->append(stmt("s1", 1)).isOk());
    env.fail_writes = true;  // a full disk: half of each frame reaches the file
    EXPECT_FALSE((*rec)->append(stmt("s1", 2)).isOk());
    EXPECT_FALSE((*rec)->writable());
    for (uint64_t i = 3; i <= 5; ++i) {
      EXPECT_TRUE((*rec)->submit(stmt("s1", i)).isOk());  // queued while failed
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a few failed probes
    EXPECT_FALSE((*rec)->writable());
    env.fail_writes = false;
    ASSERT_TRUE(waitWritable(**rec));
    ASSERT_TRUE((*rec)->append(stmt("s1", 6)).isOk());
    EXPECT_EQ((*rec)->stats().recoveries, 1u);
    ASSERT_TRUE((*rec)->close().isOk());
    auto report = verifyDir(dir.auditDir(), keys(dir));
    ASSERT_TRUE(report.ok) << report.first_bad->describe();
    EXPECT_EQ(statementIds(dir.instanceDir()), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(Recorder, RotationThatCannotCreateItsSegmentIsRetried) {
  testing::TempAuditDir dir;
  FaultyEnv env;
  RecorderOptions opt;
  opt.env = &env;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  s.retry_interval = std::chrono::milliseconds(20);
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  uint64_t id = 0;
  uint64_t first_segment = (*rec)->stats().segment;
  env.fail_opens = true;  // the segment fills up, and the next one cannot be created
  while ((*rec)->writable() && id < 1000) {
    (void)(*rec)->append(stmt("s1", ++id, randomId(60)));
  }
  EXPECT_FALSE((*rec)->writable());
  EXPECT_EQ((*rec)->stats().segment, first_segment);
  env.fail_opens = false;
  ASSERT_TRUE(waitWritable(**rec));
  EXPECT_GT((*rec)->stats().segment, first_segment);
  ASSERT_TRUE((*rec)->append(stmt("s1", ++id)).isOk());
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  ASSERT_TRUE(report.ok) << report.first_bad->describe();
  auto ids = statementIds(dir.instanceDir());
  ASSERT_EQ(ids.size(), id);
  EXPECT_EQ(ids.back(), id);
}

TEST(Recorder, FullQueueRefusesInsteadOfBlockingWhileFailed) {
  testing::TempAuditDir dir;
  FaultyEnv env;
  RecorderOptions opt;
  opt.env = &env;
  auto s = dir.settings();
  s.queue_limit = 16;
  s.retry_interval = std::chrono::hours(1);
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  env.fail_syncs = true;
  EXPECT_FALSE((*rec)->append(stmt("s1", 1)).isOk());
  size_t accepted = 0;
  size_t refused = 0;
  for (int i = 0; i < 20; ++i) {
    (*rec)->submit(stmt("s1", 2 + i)).isOk() ? ++accepted : ++refused;
  }
  EXPECT_EQ(accepted, 16u);
  EXPECT_EQ(refused, 4u);
}

TEST(Recorder, QueueIsBoundedInBytesAsWellAsInRecords) {
  testing::TempAuditDir dir;
  FaultyEnv env;
  RecorderOptions opt;
  opt.env = &env;
  auto s = dir.settings();
  s.queue_limit_bytes = 1u << 20;
  s.retry_interval = std::chrono::hours(1);
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  env.fail_syncs = true;
  EXPECT_FALSE((*rec)->append(stmt("s1", 1)).isOk());
  const std::string big(300'000, 'x');  // each record is a little over 300 KB
  size_t accepted = 0;
  for (int i = 0; i < 10; ++i) {
    accepted += (*rec)->submit(stmt("s1", 2 + i, big)).isOk() ? 1 : 0;
  }
  // Taken while fewer than 1 MiB wait: 0, 300 KB, 600 KB and 900 KB queued; refused from then.
  EXPECT_EQ(accepted, 4u);
  EXPECT_EQ((*rec)->stats().queued, 4u);
}

TEST(Recorder, ClosingWhileFailedReportsWhatWasNotWritten) {
  testing::TempAuditDir dir;
  FaultyEnv env;
  RecorderOptions opt;
  opt.env = &env;
  auto s = dir.settings();
  s.retry_interval = std::chrono::hours(1);
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  ASSERT_TRUE((*rec)->append(stmt("s1", 1)).isOk());
  env.fail_syncs = true;
  EXPECT_FALSE((*rec)->append(stmt("s1", 2)).isOk());
  EXPECT_TRUE((*rec)->submit(stmt("s1", 3)).isOk());
  Status closed = (*rec)->close();
  EXPECT_FALSE(closed.isOk());
  EXPECT_EQ(closed.sqlstate(), "58030");
}

TEST(Recorder, DurableCheckpointsAreAnchoredAndTheCloseIsTheNewest) {
  testing::TempAuditDir dir;
  testing::MemoryAnchors anchors;
  RecorderOptions opt;
  opt.anchors = &anchors;
  auto s = dir.settings();
  s.checkpoint_every = 5;
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE((*rec)->append(stmt("s1", i)).isOk());
  }
  auto mid = anchors.all();
  ASSERT_EQ(mid.count("gw1"), 1u);
  EXPECT_EQ(mid["gw1"].seq, 12u);  // ss 1, stmts 2..5, cp 6, stmts 7..11, cp 12
  ASSERT_TRUE((*rec)->close().isOk());
  Anchor last = anchors.all()["gw1"];
  EXPECT_EQ(last.seq, (*rec)->stats().last_seq);
  EXPECT_EQ(last.upto_seq, last.seq - 1);
  VerifyOptions vo;
  vo.anchors = anchors.all();
  vo.anchors_given = true;
  auto report = verifyDir(dir.auditDir(), keys(dir), vo);
  ASSERT_TRUE(report.ok) << report.first_bad->describe();
  EXPECT_EQ(report.instances[0].anchored_seq, last.seq);
}

TEST(Recorder, RestartRefusesALogThatLostItsAnchoredCheckpoint) {
  testing::TempAuditDir dir;
  testing::MemoryAnchors anchors;
  RecorderOptions opt;
  opt.anchors = &anchors;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  for (int round = 0; round < 2; ++round) {
    auto rec = Recorder::open(s, opt);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    for (int i = 1; i <= 60; ++i) {
      ASSERT_TRUE((*rec)->append(stmt("s1", i, randomId(40))).isOk());
    }
  }
  auto segs = listSegments(dir.instanceDir());
  ASSERT_GT(segs.size(), 2u);
  std::filesystem::remove(segs.back().path);
  auto rec = Recorder::open(s, opt);
  ASSERT_FALSE(rec.isOk());
  EXPECT_NE(rec.status().message().find("does not hold the checkpoint anchored"), std::string::npos)
      << rec.status().message();
}

TEST(Recorder, RecoversFromATornTailAndVerifies) {
  testing::TempAuditDir dir;
  {
    auto rec = Recorder::open(dir.settings());
    ASSERT_TRUE(rec.isOk());
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE((*rec)->append(stmt("s1", i)).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
  }
  // Simulate a crash mid-write: a half frame after the last complete one, no closing record.
  auto segs = listSegments(dir.instanceDir());
  {
    std::ofstream out(segs.back().path, std::ios::app | std::ios::binary);
    out << std::string("\x00\x00\x01\x00garbage", 11);
  }
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk()) << rec.status().message();
  ASSERT_TRUE((*rec)->append(stmt("s2", 1)).isOk());
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  EXPECT_TRUE(report.ok) << report.first_bad->describe();
}

TEST(Recorder, RetentionRemovesOldSegmentsAndVerifyStartsFromTheAnchor) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  s.retention = std::chrono::hours(24);
  auto rec = Recorder::open(s);
  ASSERT_TRUE(rec.isOk());
  for (int i = 1; i <= 300; ++i) {
    ASSERT_TRUE((*rec)->append(stmt("s1", i, randomId(40))).isOk());
  }
  auto segs = listSegments(dir.instanceDir());
  ASSERT_GT(segs.size(), 3u);
  auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(48);
  for (size_t i = 0; i < 2; ++i) {
    std::filesystem::last_write_time(segs[i].path, old);
  }
  auto removed = (*rec)->applyRetention();
  ASSERT_TRUE(removed.isOk());
  EXPECT_EQ(*removed, (std::vector<uint64_t>{segs[0].number, segs[1].number}));
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = verifyDir(dir.auditDir(), keys(dir));
  ASSERT_TRUE(report.ok) << report.first_bad->describe();
  EXPECT_GT(report.instances[0].first_seq, 1u);
  EXPECT_EQ(report.instances[0].first_segment, segs[2].number);
  EXPECT_EQ(report.instances[0].removed_upto, segs[1].number);  // a signed record says so
}

TEST(Recorder, RetentionRemovesOnlyTheOldestSegments) {
  testing::TempAuditDir dir;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  s.retention = std::chrono::hours(24);
  auto rec = Recorder::open(s);
  ASSERT_TRUE(rec.isOk());
  for (int i = 1; i <= 300; ++i) {
    ASSERT_TRUE((*rec)->append(stmt("s1", i, randomId(40))).isOk());
  }
  auto segs = listSegments(dir.instanceDir());
  ASSERT_GT(segs.size(), 3u);
  // Segment 2 looks expired but segment 1 does not: removing 2 would break the chain.
  std::filesystem::last_write_time(
      segs[1].path, std::filesystem::file_time_type::clock::now() - std::chrono::hours(48));
  auto removed = (*rec)->applyRetention();
  ASSERT_TRUE(removed.isOk());
  EXPECT_TRUE(removed->empty());
  ASSERT_TRUE((*rec)->close().isOk());
  EXPECT_TRUE(verifyDir(dir.auditDir(), keys(dir)).ok);
}

}  // namespace
}  // namespace jg::audit
