// Fuzzes the audit log readers on damaged segment files. The first byte picks how the input
// becomes segment 1 of instance "gw1" in a temporary directory:
//   even: the input is the file itself (header, frames, zero tail: any corruption);
//   odd:  the input is records, one per line, that the harness writes as a well-formed segment
//         (seq from 1, chain hashes, one zstd frame with its CRC), so the record decoders are
//         reached past the checksums.
// The file then goes through SegmentReader (every frame), the event decoder on every record,
// readSegmentStart, verifyInstance and last recoverTail (which may cut the file). Everything is
// written under one mkdtemp directory, removed at exit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "audit/codec.h"
#include "audit/crypto.h"
#include "audit/segment.h"
#include "audit/verify.h"

namespace {

using namespace jg::audit;

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "jitgate-fuzz-audit.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::abort();
    }
    path = tmpl;
    std::filesystem::create_directory(path + "/gw1");
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const TempDir& dir() {
  static TempDir d;
  return d;
}

// One frame holding every line of `text` as a record, after the segment header.
std::string wellFormedSegment(std::string_view text) {
  std::vector<Entry> entries;
  Hash prev{};
  for (size_t from = 0; from < text.size();) {
    size_t nl = std::min(text.find('\n', from), text.size());
    Entry e;
    e.seq = entries.size() + 1;
    e.record = std::string(text.substr(from, nl - from));
    e.hash = chainHash(prev, e.seq, e.record);
    prev = e.hash;
    entries.push_back(std::move(e));
    from = nl + 1;
  }
  auto frame = buildFrame(entries, 1);
  return segmentHeader() + (frame ? *frame : std::string());
}

void decodeRecords(const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(e.record, ec);
    if (ec || !v.is_object()) {
      continue;
    }
    (void)decodeEvent(v.get_object());
    (void)splitRecord(v.get_object());
  }
}

void readAll(const std::string& path) {
  auto reader = SegmentReader::open(path);
  if (!reader) {
    return;
  }
  Frame frame;
  while (reader->next(frame) == SegmentReader::Outcome::kFrame) {
    decodeRecords(frame.entries);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string instance = dir().path + "/gw1";
  const std::string path = instance + "/" + segmentFileName(1);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << ((data[0] & 1) ? wellFormedSegment(in) : std::string(in));
  }
  readAll(path);
  (void)readSegmentStart(path);
  (void)verifyInstance(instance, KeyRing{});
  (void)recoverTail(Env::posix(), path);
  return 0;
}
