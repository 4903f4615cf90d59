#include "audit/segment.h"

#include <gtest/gtest.h>

#include <fstream>

#include "audit/test_util.h"

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
