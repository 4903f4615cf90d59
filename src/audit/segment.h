// Segment files: the on-disk container of the audit log (format in docs/audit-format.md).
//
// A segment is a 16-byte header followed by frames. A frame is `u32 length | u32 crc32c |
// payload`, the payload one zstd frame that decompresses to one or more entries `u64 seq |
// u32 length | record bytes | 32-byte chain hash`. One frame is written per group commit, so a
// crash can only tear the last frame; recoverTail() detects and truncates it.
//
// Format 2 files are preallocated in chunks while they are written (so that an fdatasync after
// a frame rewrites allocated blocks instead of growing the file, which would cost a journal
// commit each time): the space after the last frame reads as zeros, an all-zero frame header
// marks the end of the log, and closing the file truncates the unused space. Format 3 has the
// file layout of format 2 and adds the HTTP record types (a reader that does not know them must
// not take a segment holding them for complete). Readers accept formats 1 (no zero tail) to 3.
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
inline constexpr uint32_t kFormatVersion = 4;  // written; readers also accept 1 to 3
inline constexpr uint32_t kOldestFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 16;
inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;  // compressed or decompressed
// New segments grow in preallocated chunks of this size.
inline constexpr uint64_t kPreallocateBytes = 1u << 20;

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes at the end of what was written so far (not after preallocated space).
  virtual Status append(std::string_view data) = 0;
  virtual Status sync() = 0;  // fdatasync
  // Cuts the file to `size` bytes (dropping any preallocated space): undoes a failed append, so
  // that the frame can be written again at the same offset.
  virtual Status truncate(uint64_t size) = 0;
  // Drops preallocated space past the data (made durable) and closes.
  virtual Status close() = 0;
};

// The file system as the writer sees it. posix() is the real one.
class Env {
 public:
  virtual ~Env() = default;
  // Opens `path` for appending at its current end, creating it if needed. With `preallocate`
  // non-zero the file is grown ahead of the data in chunks of that many bytes (fallocate(2);
  // where the file system cannot, plain appends); the space reads as zeros until written.
  virtual Result<std::unique_ptr<WritableFile>> openAppend(const std::string& path,
                                                           uint64_t preallocate) = 0;
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
  // `existing_size` is the current size of the file (0 for a new one: the header is written
  // and the file is preallocated as it grows; an existing file is only appended to).
  static Result<std::unique_ptr<SegmentWriter>> open(Env& env, const std::string& path,
                                                     uint64_t existing_size, int zstd_level);
  // Appends one frame holding `entries`. Does not sync.
  Status appendFrame(const std::vector<Entry>& entries);
  Status sync() { return file_->sync(); }
  // Cuts the file back to `size` (a frame boundary at or after the header), undoing an append
  // that failed part way.
  Status rollback(uint64_t size);
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
  // Reads the next frame. kEnd: the end of the file, or (format 2) an all-zero frame header
  // followed only by zeros. kTorn: the file ends inside a frame, or (format 2) a zero frame
  // header is followed by non-zero bytes, or a bad frame is followed only by zeros (a crash
  // mid-write, or a frame being written). kCorrupt: checksum, decompression or entry layout is
  // wrong; `error()` says what. A live segment may be read: a file that shrinks while it is read
  // (its unused preallocated space dropped) reads as ending there.
  Outcome next(Frame& out);
  const std::string& error() const { return error_; }
  uint64_t offset() const { return offset_; }
  uint64_t fileSize() const { return size_; }
  uint32_t version() const { return version_; }
  // True when [from, fileSize()) holds only zero bytes (or no longer exists).
  bool zerosFrom(uint64_t from);

 private:
  size_t readAt(uint64_t offset, char* buf, size_t n);

  std::shared_ptr<std::ifstream> in_;
  uint64_t offset_ = 0;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
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
  bool zero_tail = false;  // unused preallocated space was removed
  bool damaged = false;    // a bad frame not at the end: left as is for verify to report
  std::string error;
  bool has_entries = false;
  Entry last;                  // last valid entry (seq, record, hash)
  bool last_is_close = false;  // the last record is a closing checkpoint
};

// The chain position a segment starts from: its segment_start's prev_seq and prev_hash.
struct SegmentStart {
  uint64_t prev_seq = 0;
  Hash prev_hash{};
};
// Reads the first record of a segment (which must be its segment_start).
Result<SegmentStart> readSegmentStart(const std::string& path);

// Scans a segment, truncates a torn or bad final frame (and unused preallocated space) through
// `env`, and reports the tail.
Result<TailInfo> recoverTail(Env& env, const std::string& path);

}  // namespace jg::audit
