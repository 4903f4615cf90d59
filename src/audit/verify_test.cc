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
    auto rec = Recorder::open(s);
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

  Problem expectBad() {
    VerifyReport r = verifyDir(dir_.auditDir(), keys_);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.first_bad.has_value());
    return r.first_bad.value_or(Problem{});
  }

  // Segment 2's entries, which start mid-chain.
  const std::string& middle() const { return segs_[1].path; }

  testing::TempAuditDir dir_;
  std::vector<SegmentFile> segs_;
  KeyRing keys_;
};

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

TEST_F(Tamper, OldestSegmentRemovedByRetentionStillVerifies) {
  std::filesystem::remove(segs_[0].path);
  VerifyReport r = verifyDir(dir_.auditDir(), keys_);
  EXPECT_TRUE(r.ok) << r.first_bad->describe();
}

}  // namespace
}  // namespace jg::audit
