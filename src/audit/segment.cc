#include "audit/segment.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "core/bytes.h"

namespace jg::audit {
namespace {

using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

#if defined(__x86_64__)
// CRC-32C with the SSE4.2 instruction (the table-driven one costs a few cycles per byte).
__attribute__((target("sse4.2"))) uint32_t crc32cUpdate(uint32_t crc, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) {
    c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
  }
  return c32;
}
#endif

Status ioError(const std::string& what, const std::string& path) {
  return Status::error(Code::kUnavailable,
                       "audit log " + what + " failed for " + path + ": " + std::strerror(errno));
}

class PosixFile final : public WritableFile {
 public:
  PosixFile(int fd, std::string path, uint64_t end, uint64_t chunk)
      : fd_(fd), path_(std::move(path)), end_(end), allocated_(end), chunk_(chunk) {}
  ~PosixFile() override {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Status append(std::string_view data) override {
    if (chunk_ != 0 && end_ + data.size() > allocated_) {
      grow(end_ + data.size());
    }
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(end_));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return ioError("write", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
      end_ += static_cast<uint64_t>(n);
    }
    allocated_ = std::max(allocated_, end_);
    return Status::ok();
  }
  Status sync() override { return ::fdatasync(fd_) == 0 ? Status::ok() : ioError("fsync", path_); }
  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ioError("truncate", path_);
    }
    end_ = size;
    allocated_ = size;
    return Status::ok();
  }
  Status close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd < 0) {
      return Status::ok();
    }
    Status st = Status::ok();
    if (allocated_ > end_ &&
        (::ftruncate(fd, static_cast<off_t>(end_)) != 0 || ::fdatasync(fd) != 0)) {
      st = ioError("truncate", path_);
    }
    if (::close(fd) != 0 && st) {
      st = ioError("close", path_);
    }
    return st;
  }

 private:
  // Allocates whole chunks past `need`. Writes into allocated blocks then need no metadata
  // update at fdatasync (no size change, no new blocks to record in the journal). A file system
  // without fallocate gets plain appends; a full one fails the write that follows.
  void grow(uint64_t need) {
    uint64_t target = (need + chunk_ - 1) / chunk_ * chunk_;
    if (::fallocate(fd_, 0, static_cast<off_t>(allocated_),
                    static_cast<off_t>(target - allocated_)) == 0) {
      allocated_ = target;
    } else if (errno == EOPNOTSUPP || errno == ENOSYS) {
      chunk_ = 0;
    }
  }

  int fd_;
  std::string path_;
  uint64_t end_;        // end of the data written
  uint64_t allocated_;  // file size, including preallocated zeros
  uint64_t chunk_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> openAppend(const std::string& path,
                                                   uint64_t preallocate) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      return ioError("open", path);
    }
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) {
      Status st = ioError("seek", path);
      ::close(fd);
      return st;
    }
    return std::unique_ptr<WritableFile>(
        std::make_unique<PosixFile>(fd, path, static_cast<uint64_t>(end), preallocate));
  }
  Status truncate(const std::string& path, uint64_t size) override {
    return ::truncate(path.c_str(), static_cast<off_t>(size)) == 0 ? Status::ok()
                                                                   : ioError("truncate", path);
  }
  Status syncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return ioError("open directory", dir);
    }
    int rc = ::fsync(fd);
    ::close(fd);
    return rc == 0 ? Status::ok() : ioError("fsync directory", dir);
  }
};

constexpr size_t kSmallFrameBytes = 4096;
constexpr int kSmallFrameLevel = -1;

void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>(v >> (56 - 8 * i)));
  }
}

}  // namespace

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

uint32_t frameCrc(std::string_view length_bytes, std::string_view payload) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) {
    uint32_t crc = crc32cUpdate(0xFFFFFFFFu, length_bytes);
    return ~crc32cUpdate(crc, payload);
  }
#endif
  Crc32c crc;
  crc.process_bytes(length_bytes.data(), length_bytes.size());
  crc.process_bytes(payload.data(), payload.size());
  return crc.checksum();
}

std::string segmentHeader() {
  std::string h(kSegmentMagic, sizeof kSegmentMagic);
  h.resize(kSegmentHeaderSize, '\0');
  storeU32(h.data() + 8, kFormatVersion);
  return h;
}

Result<std::string> buildFrame(const std::vector<Entry>& entries, int zstd_level) {
  thread_local std::string plain;
  plain.clear();
  for (const auto& e : entries) {
    putU64(plain, e.seq);
    char len[4];
    storeU32(len, static_cast<uint32_t>(e.record.size()));
    plain.append(len, 4);
    plain.append(e.record);
    plain.append(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
  }
  if (plain.size() > kMaxFrameBytes) {
    return Status::error(Code::kResourceExhausted, "audit frame larger than 64 MiB");
  }
  // Small frames (strict group commits of a few records) go through zstd's fast mode: levels
  // >= 1 cost ~2 us of fixed setup per frame, and a few records compress little anyway.
  int level = plain.size() < kSmallFrameBytes ? std::min(zstd_level, kSmallFrameLevel) : zstd_level;
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(),
                                                                       ZSTD_freeCCtx);
  std::string frame(kFrameHeaderSize + ZSTD_compressBound(plain.size()), '\0');
  size_t n = ZSTD_compressCCtx(cctx.get(), frame.data() + kFrameHeaderSize,
                               frame.size() - kFrameHeaderSize, plain.data(), plain.size(), level);
  if (ZSTD_isError(n)) {
    return internalError(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  frame.resize(kFrameHeaderSize + n);
  storeU32(frame.data(), static_cast<uint32_t>(n));
  storeU32(frame.data() + 4,
           frameCrc(std::string_view(frame.data(), 4), std::string_view(frame).substr(8)));
  if (plain.capacity() > (1u << 20)) {
    plain = std::string();  // do not keep a large batch's buffer around
  }
  return frame;
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::open(Env& env, const std::string& path,
                                                           uint64_t existing_size, int zstd_level) {
  auto file = env.openAppend(path, existing_size == 0 ? kPreallocateBytes : 0);
  if (!file) {
    return file.status();
  }
  auto w = std::unique_ptr<SegmentWriter>(new SegmentWriter());
  w->file_ = std::move(*file);
  w->path_ = path;
  w->size_ = existing_size;
  w->level_ = zstd_level;
  if (existing_size == 0) {
    std::string header = segmentHeader();
    if (Status st = w->file_->append(header); !st) {
      return st;
    }
    w->size_ = header.size();
  }
  return w;
}

Status SegmentWriter::appendFrame(const std::vector<Entry>& entries) {
  auto frame = buildFrame(entries, level_);
  if (!frame) {
    return frame.status();
  }
  if (Status st = file_->append(*frame); !st) {
    return st;
  }
  size_ += frame->size();
  return Status::ok();
}

Status SegmentWriter::rollback(uint64_t size) {
  if (Status st = file_->truncate(size); !st) {
    return st;
  }
  size_ = size;
  return Status::ok();
}

bool parseEntries(std::string_view payload, std::vector<Entry>& out, std::string& error) {
  ByteReader r(payload);
  while (!r.empty()) {
    uint32_t hi = 0;
    uint32_t lo = 0;
    uint32_t len = 0;
    std::string_view rec;
    std::string_view hash;
    if (!r.readU32(hi) || !r.readU32(lo) || !r.readU32(len) || !r.readBytes(len, rec) ||
        !r.readBytes(32, hash)) {
      error = "entry layout broken after " + std::to_string(out.size()) + " entries";
      return false;
    }
    Entry e;
    e.seq = (uint64_t{hi} << 32) | lo;
    e.record.assign(rec);
    std::memcpy(e.hash.data(), hash.data(), 32);
    out.push_back(std::move(e));
  }
  return true;
}

Result<SegmentReader> SegmentReader::open(const std::string& path) {
  SegmentReader r;
  r.in_ = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*r.in_) {
    return Status::error(Code::kNotFound, "cannot open segment " + path);
  }
  r.in_->seekg(0, std::ios::end);
  r.size_ = static_cast<uint64_t>(r.in_->tellg());
  r.in_->seekg(0);
  char header[kSegmentHeaderSize];
  if (r.size_ < kSegmentHeaderSize || !r.in_->read(header, sizeof header) ||
      std::memcmp(header, kSegmentMagic, sizeof kSegmentMagic) != 0 ||
      loadU32(header + 8) < kOldestFormatVersion || loadU32(header + 8) > kFormatVersion) {
    return invalidArgument("not an audit segment (bad header or unknown format version): " + path);
  }
  r.version_ = loadU32(header + 8);
  r.offset_ = kSegmentHeaderSize;
  return r;
}

size_t SegmentReader::readAt(uint64_t offset, char* buf, size_t n) {
  // The file may shrink while it is read (the writer drops unused preallocated space).
  in_->clear();
  in_->seekg(static_cast<std::streamoff>(offset));
  in_->read(buf, static_cast<std::streamsize>(n));
  return static_cast<size_t>(in_->gcount());
}

SegmentReader::Outcome SegmentReader::next(Frame& out) {
  out = Frame();
  out.offset = offset_;
  if (offset_ == size_) {
    return Outcome::kEnd;
  }
  char hdr[kFrameHeaderSize] = {};
  uint64_t avail = std::min<uint64_t>(size_ - offset_, kFrameHeaderSize);
  readAt(offset_, hdr, avail);
  auto zero = [](const char* b, size_t n) {
    return std::all_of(b, b + n, [](char c) { return c == 0; });
  };
  if (version_ >= 2 && zero(hdr, sizeof hdr)) {
    // Preallocated space: a zero frame header is the end of the log if only zeros follow.
    if (zerosFrom(offset_)) {
      return Outcome::kEnd;
    }
    // A live segment: the writer may have put a frame here since the header was read.
    std::memset(hdr, 0, sizeof hdr);
    readAt(offset_, hdr, avail);
    if (zero(hdr, sizeof hdr)) {
      error_ = "non-zero bytes after the end of the log (zero frame header)";
      return Outcome::kTorn;
    }
  }
  if (avail < kFrameHeaderSize) {
    error_ = "file ends inside a frame header";
    return Outcome::kTorn;
  }
  uint32_t len = loadU32(hdr);
  if (len > kMaxFrameBytes) {
    error_ = "frame length " + std::to_string(len) + " exceeds the limit";
    return Outcome::kCorrupt;
  }
  if (size_ - offset_ - kFrameHeaderSize < len) {
    error_ = "file ends inside a frame payload";
    return Outcome::kTorn;
  }
  std::string payload(len, '\0');
  readAt(offset_ + kFrameHeaderSize, payload.data(), len);
  uint64_t end = offset_ + kFrameHeaderSize + len;
  auto bad = [&](std::string what) {
    error_ = std::move(what);
    // A bad frame followed only by preallocated zeros is the last write, torn by a crash (or
    // still being written, for a live segment).
    return version_ >= 2 && end < size_ && zerosFrom(end) ? Outcome::kTorn : Outcome::kCorrupt;
  };
  if (frameCrc(std::string_view(hdr, 4), payload) != loadU32(hdr + 4)) {
    return bad("frame checksum mismatch");
  }
  unsigned long long plain_size = ZSTD_getFrameContentSize(payload.data(), payload.size());
  if (plain_size == ZSTD_CONTENTSIZE_ERROR || plain_size == ZSTD_CONTENTSIZE_UNKNOWN ||
      plain_size > kMaxFrameBytes) {
    return bad("frame payload is not a sized zstd frame");
  }
  std::string plain(plain_size, '\0');
  size_t n = ZSTD_decompress(plain.data(), plain.size(), payload.data(), payload.size());
  if (ZSTD_isError(n) || n != plain_size) {
    return bad("frame does not decompress");
  }
  std::string layout;
  if (!parseEntries(plain, out.entries, layout)) {
    out.entries.clear();
    return bad(layout);
  }
  offset_ = end;
  out.end = offset_;
  return Outcome::kFrame;
}

bool SegmentReader::zerosFrom(uint64_t from) {
  char buf[64 * 1024];
  while (from < size_) {
    size_t n = readAt(from, buf, std::min<uint64_t>(size_ - from, sizeof buf));
    if (n == 0) {
      return true;  // the file was cut short: nothing there
    }
    if (!std::all_of(buf, buf + n, [](char c) { return c == 0; })) {
      return false;
    }
    from += n;
  }
  return true;
}

std::string segmentFileName(uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012llu.seg", static_cast<unsigned long long>(number));
  return buf;
}

std::vector<SegmentFile> listSegments(const std::string& instance_dir) {
  std::vector<SegmentFile> out;
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator(instance_dir, ec)) {
    std::string name = de.path().filename().string();
    if (name.size() != 16 || name.substr(12) != ".seg" ||
        name.find_first_not_of("0123456789") != 12) {
      continue;
    }
    out.push_back(SegmentFile{std::stoull(name.substr(0, 12)), de.path().string()});
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.number < b.number; });
  return out;
}

Result<SegmentStart> readSegmentStart(const std::string& path) {
  auto reader = SegmentReader::open(path);
  if (!reader) {
    return reader.status();
  }
  Frame f;
  if (reader->next(f) != SegmentReader::Outcome::kFrame || f.entries.empty()) {
    return Status::error(Code::kInvalidArgument, "segment " + path + " has no readable records");
  }
  boost::json::error_code ec;
  auto v = boost::json::parse(f.entries.front().record, ec);
  const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  const auto* type = o != nullptr ? o->if_contains("type") : nullptr;
  const auto* seq = o != nullptr ? o->if_contains("prev_seq") : nullptr;
  const auto* hash = o != nullptr ? o->if_contains("prev_hash") : nullptr;
  SegmentStart out;
  if (type == nullptr || !type->is_string() || type->as_string() != "segment_start" ||
      seq == nullptr || !(seq->is_uint64() || (seq->is_int64() && seq->as_int64() >= 0)) ||
      hash == nullptr || !hash->is_string() || !parseHashHex(hash->as_string(), out.prev_hash)) {
    return Status::error(Code::kInvalidArgument,
                         "segment " + path + " does not start with a segment_start record");
  }
  out.prev_seq = seq->is_uint64() ? seq->as_uint64() : static_cast<uint64_t>(seq->as_int64());
  return out;
}

Result<TailInfo> recoverTail(Env& env, const std::string& path) {
  auto reader = SegmentReader::open(path);
  if (!reader) {
    // A crash right after creating the file can leave it empty or only preallocated (zeros):
    // it holds no records. Anything else is not ours to repair.
    std::ifstream in(path, std::ios::binary);
    char buf[4096];
    bool zeros = static_cast<bool>(in);
    while (zeros && in.read(buf, sizeof buf).gcount() > 0) {
      zeros = std::all_of(buf, buf + in.gcount(), [](char c) { return c == 0; });
    }
    if (!zeros) {
      return reader.status();
    }
    return TailInfo{};
  }
  TailInfo info;
  info.good_size = kSegmentHeaderSize;
  Frame f;
  SegmentReader::Outcome o;
  while ((o = reader->next(f)) == SegmentReader::Outcome::kFrame) {
    info.good_size = f.end;
    if (!f.entries.empty()) {
      info.has_entries = true;
      info.last = f.entries.back();
    }
  }
  bool at_end = o == SegmentReader::Outcome::kTorn;
  if (o == SegmentReader::Outcome::kCorrupt) {
    // A bad frame that is the last thing in the file is a torn write whose length made it to
    // disk (the reader reports one followed only by preallocated zeros as torn already);
    // anything else is damage that verify must report, so it is left in place.
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(f.offset));
    char hdr[4];
    if (in.read(hdr, 4)) {
      at_end = f.offset + kFrameHeaderSize + loadU32(hdr) == reader->fileSize();
    }
  }
  if (o != SegmentReader::Outcome::kEnd) {
    info.error = reader->error();
    if (at_end) {
      if (Status st = env.truncate(path, info.good_size); !st) {
        return st;
      }
      info.truncated = true;
    } else {
      info.damaged = true;
    }
  } else if (reader->fileSize() > info.good_size) {
    // Unused preallocated space of a segment that was not closed cleanly.
    if (Status st = env.truncate(path, info.good_size); !st) {
      return st;
    }
    info.zero_tail = true;
  }
  if (info.has_entries) {
    boost::json::error_code ec;
    auto v = boost::json::parse(info.last.record, ec);
    if (!ec && v.is_object()) {
      const auto& o2 = v.as_object();
      auto* t = o2.if_contains("type");
      auto* r = o2.if_contains("reason");
      info.last_is_close = t && t->is_string() && t->as_string() == "checkpoint" && r &&
                           r->is_string() && r->as_string() == "close";
    }
  }
  return info;
}

}  // namespace jg::audit
