#include "audit/segment.h"

#include <gtest/gtest.h>

#include <boost/crc.hpp>
#include <fstream>

#include "audit/test_util.h"
#include "core/bytes.h"

namespace jg::audit {
namespace {

std::vector<Entry> entries(uint64_t first, int n) {
  std::vector<Entry> out;
  Hash h{};
  for (int i = 0; i < n; ++i) {
    Entry e;
    e.seq = first + i;
    e.record = R"({"type":"statement","n":)" + std::to_string(e.seq) + "}";
    e.hash = h = chainHash(h, e.seq, e.record);
    out.push_back(e);
  }
  return out;
}

std::string writeSegment(const testing::TempAuditDir& dir, int frames) {
  std::string path = dir.path("000000000001.seg");
  auto w = SegmentWriter::open(Env::posix(), path, 0, 3);
  EXPECT_TRUE(w.isOk());
  for (int f = 0; f < frames; ++f) {
    EXPECT_TRUE((*w)->appendFrame(entries(1 + 3 * f, 3)).isOk());
  }
  EXPECT_TRUE((*w)->sync().isOk());
  EXPECT_TRUE((*w)->close().isOk());
  return path;
}

TEST(Segment, FrameCrcIsCrc32c) {
  EXPECT_EQ(frameCrc("1234", "56789"), 0xE3069283u);  // CRC-32C check value of "123456789"
  std::string data = randomId(1000);
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> ref;
  ref.process_bytes(data.data(), data.size());
  EXPECT_EQ(frameCrc(std::string_view(data).substr(0, 4), std::string_view(data).substr(4)),
            ref.checksum());
}

TEST(Segment, FramesRoundTrip) {
  testing::TempAuditDir dir;
  std::string path = writeSegment(dir, 2);
  auto r = SegmentReader::open(path);
  ASSERT_TRUE(r.isOk());
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  ASSERT_EQ(f.entries.size(), 3u);
  EXPECT_EQ(f.entries[2].seq, 3u);
  EXPECT_EQ(f.entries[0].record, R"({"type":"statement","n":1})");
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(f.entries[0].seq, 4u);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kEnd);
}

TEST(Segment, TornLastFrameIsTruncatedOnRecovery) {
  testing::TempAuditDir dir;
  std::string path = writeSegment(dir, 2);
  uint64_t full = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, full - 5);
  auto info = recoverTail(Env::posix(), path);
  ASSERT_TRUE(info.isOk());
  EXPECT_TRUE(info->truncated);
  EXPECT_EQ(info->last.seq, 3u);
  EXPECT_EQ(std::filesystem::file_size(path), info->good_size);
  auto r = SegmentReader::open(path);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kEnd);
}

TEST(Segment, GarbageLastFrameWithCompleteLengthIsTruncated) {
  testing::TempAuditDir dir;
  std::string path = writeSegment(dir, 2);
  uint64_t full = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(full - 2));
  f.put('\0');
  f.close();
  auto info = recoverTail(Env::posix(), path);
  ASSERT_TRUE(info.isOk());
  EXPECT_TRUE(info->truncated);
  EXPECT_EQ(info->last.seq, 3u);
}

TEST(Segment, DamageBeforeTheLastFrameIsLeftForVerify) {
  testing::TempAuditDir dir;
  std::string path = writeSegment(dir, 3);
  uint64_t full = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(kSegmentHeaderSize + kFrameHeaderSize + 2);
  f.put('\x7f');
  f.close();
  auto info = recoverTail(Env::posix(), path);
  ASSERT_TRUE(info.isOk());
  EXPECT_TRUE(info->damaged);
  EXPECT_FALSE(info->truncated);
  EXPECT_EQ(std::filesystem::file_size(path), full);
}

// Writes frames without closing the writer, as a crash leaves a segment: the preallocated space
// after the last frame is still there.
std::string writeUnclosedSegment(const testing::TempAuditDir& dir, int frames) {
  std::string path = dir.path("000000000001.seg");
  auto w = SegmentWriter::open(Env::posix(), path, 0, 3);
  EXPECT_TRUE(w.isOk());
  for (int f = 0; f < frames; ++f) {
    EXPECT_TRUE((*w)->appendFrame(entries(1 + 3 * f, 3)).isOk());
  }
  EXPECT_TRUE((*w)->sync().isOk());
  return path;  // the writer is dropped without close()
}

uint64_t logicalEnd(const std::string& path) {
  auto r = SegmentReader::open(path);
  Frame f;
  uint64_t end = kSegmentHeaderSize;
  while (r->next(f) == SegmentReader::Outcome::kFrame) {
    end = f.end;
  }
  return end;
}

void writeAt(const std::string& path, uint64_t offset, std::string_view bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(Segment, PreallocatedSpaceReadsAsTheEndAndCloseDropsIt) {
  testing::TempAuditDir dir;
  std::string path = dir.path("000000000001.seg");
  auto w = SegmentWriter::open(Env::posix(), path, 0, 3);
  ASSERT_TRUE(w.isOk());
  ASSERT_TRUE((*w)->appendFrame(entries(1, 3)).isOk());
  EXPECT_EQ(std::filesystem::file_size(path), kPreallocateBytes);
  auto r = SegmentReader::open(path);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->version(), kFormatVersion);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kEnd);
  ASSERT_TRUE((*w)->close().isOk());
  EXPECT_EQ(std::filesystem::file_size(path), (*w)->size());
}

TEST(Segment, RecoveryDropsTheZeroTailOfAnUnclosedSegment) {
  testing::TempAuditDir dir;
  std::string path = writeUnclosedSegment(dir, 2);
  uint64_t end = logicalEnd(path);
  ASSERT_GT(std::filesystem::file_size(path), end);
  auto info = recoverTail(Env::posix(), path);
  ASSERT_TRUE(info.isOk());
  EXPECT_TRUE(info->zero_tail);
  EXPECT_FALSE(info->truncated);
  EXPECT_FALSE(info->damaged);
  EXPECT_EQ(info->last.seq, 6u);
  EXPECT_EQ(std::filesystem::file_size(path), end);
}

TEST(Segment, TornFrameInPreallocatedSpaceIsTruncated) {
  testing::TempAuditDir dir;
  std::string path = writeUnclosedSegment(dir, 2);
  uint64_t end = logicalEnd(path);
  // A frame whose header reached the disk but most of whose payload did not.
  auto frame = buildFrame(entries(7, 3), 3);
  ASSERT_TRUE(frame.isOk());
  writeAt(path, end, std::string_view(*frame).substr(0, 20));
  auto r = SegmentReader::open(path);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kTorn) << r->error();
  auto info = recoverTail(Env::posix(), path);
  ASSERT_TRUE(info.isOk());
  EXPECT_TRUE(info->truncated);
  EXPECT_EQ(info->last.seq, 6u);
  EXPECT_EQ(std::filesystem::file_size(path), end);
}

TEST(Segment, BytesAfterAZeroFrameHeaderAreNotTheEndOfTheLog) {
  testing::TempAuditDir dir;
  std::string path = writeUnclosedSegment(dir, 2);
  uint64_t end = logicalEnd(path);
  writeAt(path, end + 4096, "x");
  auto r = SegmentReader::open(path);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kTorn);
  EXPECT_NE(r->error().find("after the end of the log"), std::string::npos) << r->error();
}

TEST(Segment, FormatOneSegmentsAreStillRead) {
  testing::TempAuditDir dir;
  std::string path = dir.path("000000000001.seg");
  std::string data = segmentHeader();
  storeU32(data.data() + 8, 1);
  for (int f = 0; f < 2; ++f) {
    auto frame = buildFrame(entries(1 + 3 * f, 3), 3);
    ASSERT_TRUE(frame.isOk());
    data += *frame;
  }
  std::ofstream(path, std::ios::binary) << data;
  auto r = SegmentReader::open(path);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->version(), 1u);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(f.entries.back().seq, 6u);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kEnd);
  // A later format is refused rather than misread.
  storeU32(data.data() + 8, kFormatVersion + 1);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  EXPECT_FALSE(SegmentReader::open(path).isOk());
}

TEST(Segment, FormatTwoSegmentsWithAZeroTailAreStillRead) {
  testing::TempAuditDir dir;
  std::string path = dir.path("000000000001.seg");
  std::string data = segmentHeader();
  storeU32(data.data() + 8, 2);
  auto frame = buildFrame(entries(1, 3), 3);
  ASSERT_TRUE(frame.isOk());
  data += *frame + std::string(4096, '\0');
  std::ofstream(path, std::ios::binary) << data;
  auto r = SegmentReader::open(path);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->version(), 2u);
  Frame f;
  ASSERT_EQ(r->next(f), SegmentReader::Outcome::kFrame);
  EXPECT_EQ(f.entries.back().seq, 3u);
  EXPECT_EQ(r->next(f), SegmentReader::Outcome::kEnd);
}

TEST(Segment, ListsSegmentsInNumericOrder) {
  testing::TempAuditDir dir;
  for (uint64_t n : {10, 2, 1}) {
    std::ofstream(dir.path(segmentFileName(n))) << "x";
  }
  std::ofstream(dir.path("LOCK")) << "";
  auto segs = listSegments(dir.path(""));
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].number, 1u);
  EXPECT_EQ(segs[2].number, 10u);
}

}  // namespace
}  // namespace jg::audit
