// Tampering tests: real segment files in a temp dir, altered the ways an attacker or a bad
// disk would, and the verifier must name the first bad record.
#include "audit/verify.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "audit/recorder.h"
#include "audit/segment.h"
#include "audit/test_util.h"

namespace jg::audit {
namespace {

std::vector<Entry> readAll(const std::string& path) {
  std::vector<Entry> out;
  auto r = SegmentReader::open(path);
  EXPECT_TRUE(r.isOk());
  Frame f;
  while (r->next(f) == SegmentReader::Outcome::kFrame) {
    out.insert(out.end(), f.entries.begin(), f.entries.end());
  }
  return out;
}

void writeAll(const std::string& path, const std::vector<Entry>& entries) {
  std::string data = segmentHeader();
  for (const auto& e : entries) {
    data += *buildFrame({e}, 3);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// What an attacker who cannot sign does after editing: recompute every later hash.
void rehashFrom(std::vector<Entry>& entries, size_t from) {
  Hash prev = entries[from - 1].hash;
  for (size_t i = from; i < entries.size(); ++i) {
    entries[i].hash = prev = chainHash(prev, entries[i].seq, entries[i].record);
  }
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = dir_.settings();
    s.checkpoint_every = 10;
    s.segment_max_bytes = 8192;
    RecorderOptions opt;
    opt.anchors = &anchors_;
    auto rec = Recorder::open(s, opt);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    for (int i = 1; i <= 120; ++i) {
      StatementEvent st;
      st.statement_id = i;
      st.text = "SELECT * FROM docs WHERE id = " + std::to_string(i) + " -- " + randomId(30);
      ASSERT_TRUE((*rec)->append(Event{"s1", {}, st}).isOk());
    }
    ASSERT_TRUE((*rec)->close().isOk());
    segs_ = listSegments(dir_.instanceDir());
    ASSERT_GE(segs_.size(), 3u);
    auto pub = PublicKey::loadPem(dir_.path("keys/sign.pub.pem"));
    ASSERT_TRUE(pub.isOk());
    keys_.add(*pub);
    ASSERT_TRUE(verifyDir(dir_.auditDir(), keys_).ok);
  }

  Problem expectBad(const VerifyOptions& options = {}) {
    VerifyReport r = verifyDir(dir_.auditDir(), keys_, options);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.first_bad.has_value());
    return r.first_bad.value_or(Problem{});
  }

  // What `verify --config` checks against: the anchors the recorder stored.
  VerifyOptions anchored() const {
    VerifyOptions o;
    o.anchors = anchors_.all();
    o.anchors_given = true;
    return o;
  }

  // Segment 2's entries, which start mid-chain.
  const std::string& middle() const { return segs_[1].path; }

  testing::TempAuditDir dir_;
  testing::MemoryAnchors anchors_;
  std::vector<SegmentFile> segs_;
  KeyRing keys_;
};

TEST_F(Tamper, UntouchedLogVerifiesAgainstItsAnchor) {
  VerifyReport r = verifyDir(dir_.auditDir(), keys_, anchored());
  ASSERT_TRUE(r.ok) << r.first_bad->describe();
  EXPECT_EQ(r.instances[0].anchored_seq, r.instances[0].last_seq);  // the closing checkpoint
  EXPECT_EQ(r.instances[0].unsigned_tail, 0u);
}

TEST_F(Tamper, FlippedByteOnDiskNamesTheFirstRecordOfItsFrame) {
  auto r = SegmentReader::open(middle());
  ASSERT_TRUE(r.isOk());
  Frame f;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  }
  std::string data;
  {
    std::ifstream in(middle(), std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  data[f.offset + kFrameHeaderSize + 3] ^= 0x20;
  std::ofstream(middle(), std::ios::binary | std::ios::trunc) << data;
  Problem p = expectBad();
  EXPECT_EQ(p.segment, segs_[1].number);
  EXPECT_EQ(p.seq, f.entries[0].seq);
  EXPECT_EQ(p.offset, f.offset);
  EXPECT_NE(p.what.find("checksum"), std::string::npos) << p.what;
}

TEST_F(Tamper, EditedRecordIsNamedByTheChainHash) {
  auto entries = readAll(middle());
  size_t k = 4;
  while (entries[k].record.find("SELECT") == std::string::npos) {
    ++k;
  }
  auto pos = entries[k].record.find("SELECT");
  entries[k].record.replace(pos, 6, "DELETE");
  writeAll(middle(), entries);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, entries[k].seq);
  EXPECT_NE(p.what.find("hash mismatch"), std::string::npos) << p.what;
}

TEST_F(Tamper, DeletedRecordIsNamed) {
  auto entries = readAll(middle());
  uint64_t missing = entries[5].seq;
  entries.erase(entries.begin() + 5);
  writeAll(middle(), entries);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, missing);
  EXPECT_NE(p.what.find("missing"), std::string::npos) << p.what;
}

TEST_F(Tamper, ReorderedRecordsAreNamed) {
  auto entries = readAll(middle());
  std::swap(entries[3], entries[4]);
  writeAll(middle(), entries);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, entries[4].seq);  // the record that should have come first
  EXPECT_NE(p.what.find("expected record seq"), std::string::npos) << p.what;
}

TEST_F(Tamper, RenumberedAndRehashedDeletionFailsAtTheNextSignature) {
  auto entries = readAll(middle());
  entries.erase(entries.begin() + 2);
  for (size_t i = 2; i < entries.size(); ++i) {
    entries[i].seq -= 1;
  }
  rehashFrom(entries, 2);
  writeAll(middle(), entries);
  Problem p = expectBad();
  EXPECT_EQ(p.segment, segs_[1].number);
  EXPECT_NE(p.what.find("checkpoint"), std::string::npos) << p.what;
}

TEST_F(Tamper, TruncatedSegmentNamesTheFirstLostRecord) {
  auto entries = readAll(segs_.back().path);
  uint64_t size = std::filesystem::file_size(segs_.back().path);
  std::filesystem::resize_file(segs_.back().path, size - 3);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, entries.back().seq);
  EXPECT_NE(p.what.find("truncated"), std::string::npos) << p.what;
}

TEST_F(Tamper, SegmentCutAtAFrameBoundaryIsDetected) {
  auto entries = readAll(middle());
  uint64_t lost = entries[entries.size() - 2].seq;
  entries.resize(entries.size() - 2);
  writeAll(middle(), entries);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, lost);
}

TEST_F(Tamper, ReplacedCheckpointSignatureIsNamed) {
  auto entries = readAll(middle());
  size_t k = 0;
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].record.find("\"type\":\"checkpoint\"") != std::string::npos) {
      k = i;
      break;
    }
  }
  ASSERT_GT(k, 0u);
  auto obj = boost::json::parse(entries[k].record).as_object();
  std::string fake = base64Encode(std::string(64, 'x'));
  obj["sig"] = fake;
  entries[k].record = boost::json::serialize(obj);
  auto plain = entries;
  writeAll(middle(), plain);
  Problem p = expectBad();
  EXPECT_EQ(p.seq, entries[k].seq);  // the hash no longer matches

  rehashFrom(entries, k);
  writeAll(middle(), entries);
  p = expectBad();
  EXPECT_EQ(p.seq, entries[k].seq);
  EXPECT_NE(p.what.find("signature invalid"), std::string::npos) << p.what;
}

TEST_F(Tamper, MissingMiddleSegmentIsNamed) {
  auto entries = readAll(middle());
  std::filesystem::remove(middle());
  Problem p = expectBad();
  EXPECT_NE(p.what.find("missing"), std::string::npos) << p.what;
  EXPECT_EQ(p.seq, entries.front().seq);
}

TEST_F(Tamper, SignaturesFromAnotherKeyAreRejected) {
  testing::TempAuditDir other;
  KeyRing wrong;
  wrong.add(*PublicKey::loadPem(other.path("keys/sign.pub.pem")));
  VerifyReport r = verifyDir(dir_.auditDir(), wrong);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad->seq, 1u);
  EXPECT_NE(r.first_bad->what.find("unknown key"), std::string::npos);
}

TEST_F(Tamper, DeletedOldestSegmentsAreNamedWithoutARetentionRecord) {
  std::filesystem::remove(segs_[0].path);
  std::filesystem::remove(segs_[1].path);
  Problem p = expectBad(anchored());
  EXPECT_EQ(p.segment, segs_[2].number);
  EXPECT_NE(p.what.find("oldest segments (1..2) are missing"), std::string::npos) << p.what;
  // The directory alone shows it too: the head needs no anchor.
  EXPECT_NE(expectBad().what.find("head of the log was deleted"), std::string::npos);
}

TEST_F(Tamper, DeletedNewestSegmentsFailAgainstTheAnchor) {
  auto last = readAll(segs_.back().path);
  std::filesystem::remove(segs_.back().path);
  std::filesystem::remove(segs_[segs_.size() - 2].path);
  Problem p = expectBad(anchored());
  EXPECT_NE(p.what.find("before the checkpoint anchored at seq " + std::to_string(last.back().seq)),
            std::string::npos)
      << p.what;
}

TEST_F(Tamper, TailCutAtAFrameBoundaryFailsAgainstTheAnchor) {
  // Every remaining frame is whole and the new last record is a (count) checkpoint, so the
  // files alone look like a log that ends there.
  auto entries = readAll(segs_.back().path);
  size_t k = entries.size() - 2;
  while (entries[k].record.find("\"type\":\"checkpoint\"") == std::string::npos) {
    --k;
  }
  uint64_t lost = entries[k + 1].seq;
  entries.resize(k + 1);
  writeAll(segs_.back().path, entries);
  VerifyOptions alone;
  alone.anchors_given = false;
  EXPECT_TRUE(verifyDir(dir_.auditDir(), keys_, alone).ok);
  Problem p = expectBad(anchored());
  EXPECT_EQ(p.seq, lost);
  EXPECT_NE(p.what.find("the log ends at seq " + std::to_string(lost - 1)), std::string::npos)
      << p.what;
}

TEST_F(Tamper, UnsignedTailRewrittenWithARecomputedChainFails) {
  // A crash leaves records after the last checkpoint; an attacker edits one and recomputes
  // every later hash. Nothing signs those records, so verify refuses to vouch for them.
  auto entries = readAll(segs_.back().path);
  entries.pop_back();  // the closing checkpoint: the gateway "crashed"
  size_t k = entries.size() - 1;
  ASSERT_EQ(entries[k].record.find("\"type\":\"checkpoint\""), std::string::npos);
  auto pos = entries[k].record.find("SELECT");
  ASSERT_NE(pos, std::string::npos);
  entries[k].record.replace(pos, 6, "DELETE");
  rehashFrom(entries, k);
  writeAll(segs_.back().path, entries);
  VerifyOptions alone;
  Problem p = expectBad(alone);
  EXPECT_NE(p.what.find("not covered by a signed checkpoint"), std::string::npos) << p.what;
  // Against the anchor (the closing checkpoint) it is a cut end as well.
  EXPECT_NE(expectBad(anchored()).what.find("before the checkpoint anchored"), std::string::npos);
}

TEST_F(Tamper, RewrittenCheckpointAtTheAnchoredSeqIsNamed) {
  auto anchors = anchored();
  Anchor& a = anchors.anchors["gw1"];
  a.hash[0] ^= 0x01;  // the log holds a different record at that seq
  Problem p = expectBad(anchors);
  EXPECT_EQ(p.seq, a.seq);
  EXPECT_NE(p.what.find("rewritten or replaced"), std::string::npos) << p.what;
}

TEST_F(Tamper, AnchorWithABadSignatureIsNamed) {
  auto anchors = anchored();
  anchors.anchors["gw1"].upto_seq -= 1;  // someone edited the store
  Problem p = expectBad(anchors);
  EXPECT_NE(p.what.find("state store was altered"), std::string::npos) << p.what;
}

TEST_F(Tamper, MissingAnchorOfACheckpointedLogIsNamed) {
  VerifyOptions empty;
  empty.anchors_given = true;
  Problem p = expectBad(empty);
  EXPECT_NE(p.what.find("no anchor is stored"), std::string::npos) << p.what;
}

TEST_F(Tamper, DeletedLogOfAnAnchoredInstanceIsNamed) {
  std::filesystem::remove_all(dir_.instanceDir());
  Problem p = expectBad(anchored());
  EXPECT_EQ(p.instance, "gw1");
  EXPECT_NE(p.what.find("the log was deleted"), std::string::npos) << p.what;
}

TEST_F(Tamper, AnotherReplicasAnchorIsCheckedOnlyWhenItsInstanceIsAskedFor) {
  auto o = anchored();
  Anchor other = o.anchors["gw1"];
  other.instance = "gw2";  // a replica sharing the store, with its log elsewhere
  o.anchors["gw2"] = other;
  EXPECT_EQ(expectBad(o).instance, "gw2");
  o.only = {"gw1"};
  VerifyReport r = verifyDir(dir_.auditDir(), keys_, o);
  ASSERT_TRUE(r.ok) << r.first_bad->describe();
  ASSERT_EQ(r.instances.size(), 1u);
}

TEST_F(Tamper, WitnessAnchorWithoutSignatureIsCheckedToo) {
  auto entries = readAll(segs_.back().path);
  Anchor a;
  ASSERT_TRUE(parseAnchorToken(
      "gw1:" + std::to_string(entries.back().seq) + ":" + hashHex(entries.back().hash), a));
  VerifyOptions witness;
  witness.anchors["gw1"] = a;
  witness.anchors_given = true;
  EXPECT_TRUE(verifyDir(dir_.auditDir(), keys_, witness).ok);
  std::filesystem::remove(segs_.back().path);
  EXPECT_NE(expectBad(witness).what.find("before the checkpoint anchored"), std::string::npos);
}

TEST(Verify, RetentionRecordExplainsTheMissingHead) {
  testing::TempAuditDir dir;
  testing::MemoryAnchors anchors;
  RecorderOptions opt;
  opt.anchors = &anchors;
  auto s = dir.settings();
  s.segment_max_bytes = 4096;
  s.retention = std::chrono::hours(24);
  auto rec = Recorder::open(s, opt);
  ASSERT_TRUE(rec.isOk());
  for (int i = 1; i <= 300; ++i) {
    StatementEvent st;
    st.statement_id = i;
    st.text = "SELECT " + randomId(40);
    ASSERT_TRUE((*rec)->append(Event{"s1", {}, st}).isOk());
  }
  auto segs = listSegments(dir.instanceDir());
  ASSERT_GT(segs.size(), 4u);
  for (size_t i = 0; i < 2; ++i) {
    std::filesystem::last_write_time(
        segs[i].path, std::filesystem::file_time_type::clock::now() - std::chrono::hours(48));
  }
  ASSERT_TRUE((*rec)->applyRetention().isOk());
  ASSERT_TRUE((*rec)->close().isOk());
  KeyRing keys;
  keys.add(*PublicKey::loadPem(dir.path("keys/sign.pub.pem")));
  VerifyOptions o;
  o.anchors = anchors.all();
  o.anchors_given = true;
  VerifyReport r = verifyDir(dir.auditDir(), keys, o);
  ASSERT_TRUE(r.ok) << r.first_bad->describe();
  EXPECT_EQ(r.instances[0].first_segment, segs[2].number);
  EXPECT_EQ(r.instances[0].removed_upto, segs[1].number);
  // One segment more than the record names is a deleted head again.
  std::filesystem::remove(segs[2].path);
  r = verifyDir(dir.auditDir(), keys, o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.first_bad->what.find("oldest segments (3..3) are missing"), std::string::npos)
      << r.first_bad->what;
}

TEST(Verify, LiveLogReportsItsUnsignedTailInsteadOfFailing) {
  testing::TempAuditDir dir;
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk());
  StatementEvent st;
  st.statement_id = 1;
  st.text = "SELECT 1";
  ASSERT_TRUE((*rec)->append(Event{"s1", {}, st}).isOk());
  KeyRing keys;
  keys.add(*PublicKey::loadPem(dir.path("keys/sign.pub.pem")));
  VerifyOptions live;
  live.live = true;
  VerifyReport r = verifyDir(dir.auditDir(), keys, live);
  ASSERT_TRUE(r.ok) << r.first_bad->describe();
  EXPECT_EQ(r.instances[0].unsigned_tail, 2u);  // segment_start and the statement
  r = verifyDir(dir.auditDir(), keys);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.first_bad->what.find("pass --live"), std::string::npos) << r.first_bad->what;
  ASSERT_TRUE((*rec)->close().isOk());
  EXPECT_TRUE(verifyDir(dir.auditDir(), keys).ok);
}

}  // namespace
}  // namespace jg::audit
