// Segment files: the on-disk container of the audit log (format in docs/audit-format.md).
//
// A segment is a 16-byte header followed by frames. A frame is `u32 length | u32 crc32c |
// payload`, the payload one zstd frame that decompresses to one or more entries `u64 seq |
// u32 length | record bytes | 32-byte chain hash`. One frame is written per group commit, so a
// crash can only tear the last frame; recoverTail() detects and truncates it.
//
// File access goes through Env/WritableFile so tests can inject write and fsync failures.
// SegmentWriter and SegmentReader are not thread-safe (the recorder's writer thread owns the
// writer; readers are per-use).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "audit/crypto.h"
#include "core/status.h"

namespace jg::audit {

inline constexpr char kSegmentMagic[8] = {'J', 'G', 'A', 'U', 'D', 'I', 'T', '\n'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 16;
inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;  // compressed or decompressed

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view data) = 0;
  virtual Status sync() = 0;  // fdatasync
  virtual Status close() = 0;
};

// The file system as the writer sees it. posix() is the real one.
class Env {
 public:
  virtual ~Env() = default;
  // Opens `path` for appending, creating it if needed.
  virtual Result<std::unique_ptr<WritableFile>> openAppend(const std::string& path) = 0;
  virtual Status truncate(const std::string& path, uint64_t size) = 0;
  virtual Status syncDir(const std::string& dir) = 0;
  static Env& posix();
};

struct Entry {
  uint64_t seq = 0;
  std::string record;  // the canonical record bytes (compact JSON)
  Hash hash{};         // chainHash(previous hash, seq, record)
};

// crc32c of the 4 length bytes followed by the payload.
uint32_t frameCrc(std::string_view length_bytes, std::string_view payload);
// Builds a complete frame (header + compressed payload) for `entries`.
Result<std::string> buildFrame(const std::vector<Entry>& entries, int zstd_level);
std::string segmentHeader();

class SegmentWriter {
 public:
  // `existing_size` is the current size of the file (0 for a new one: the header is written).
  static Result<std::unique_ptr<SegmentWriter>> open(Env& env, const std::string& path,
                                                     uint64_t existing_size, int zstd_level);
  // Appends one frame holding `entries`. Does not sync.
  Status appendFrame(const std::vector<Entry>& entries);
  Status sync() { return file_->sync(); }
  Status close() { return file_->close(); }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<WritableFile> file_;
  std::string path_;
  uint64_t size_ = 0;
  int level_ = 3;
};

struct Frame {
  uint64_t offset = 0;  // file offset of the frame header
  uint64_t end = 0;     // offset just past the frame
  std::vector<Entry> entries;
};

class SegmentReader {
 public:
  enum class Outcome { kFrame, kEnd, kTorn, kCorrupt };

  static Result<SegmentReader> open(const std::string& path);
  // Reads the next frame. kTorn: the file ends inside a frame (a crash mid-write).
  // kCorrupt: checksum, decompression or entry layout is wrong; `error()` says what.
  Outcome next(Frame& out);
  const std::string& error() const { return error_; }
  uint64_t offset() const { return offset_; }
  uint64_t fileSize() const { return size_; }

 private:
  std::shared_ptr<std::ifstream> in_;
  uint64_t offset_ = 0;
  uint64_t size_ = 0;
  std::string error_;
};

// Parses decompressed frame payload into entries.
bool parseEntries(std::string_view payload, std::vector<Entry>& out, std::string& error);

struct SegmentFile {
  uint64_t number = 0;
  std::string path;
};

std::string segmentFileName(uint64_t number);
// Segments of one instance directory, sorted by number.
std::vector<SegmentFile> listSegments(const std::string& instance_dir);

struct TailInfo {
  uint64_t good_size = 0;  // bytes of complete, valid frames (incl. header)
  bool truncated = false;  // a torn last frame was removed
  bool damaged = false;    // a bad frame not at the end: left as is for verify to report
  std::string error;
  bool has_entries = false;
  Entry last;                  // last valid entry (seq, record, hash)
  bool last_is_close = false;  // the last record is a closing checkpoint
};

// Scans a segment, truncates a torn or bad final frame through `env`, and reports the tail.
Result<TailInfo> recoverTail(Env& env, const std::string& path);

}  // namespace jg::audit
