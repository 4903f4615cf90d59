#include "audit/verify.h"

#include <boost/json.hpp>
#include <filesystem>

#include "audit/segment.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
bool u64(const json::object& o, std::string_view k, uint64_t& out) {
  auto* v = o.if_contains(k);
  if (v && v->is_uint64()) {
    out = v->as_uint64();
    return true;
  }
  if (v && v->is_int64() && v->as_int64() >= 0) {
    out = static_cast<uint64_t>(v->as_int64());
    return true;
  }
  return false;
}

// Walks one instance's segments, keeping the running chain state.
class Walker {
 public:
  Walker(std::string instance, const KeyRing& keys) : keys_(keys) { sum_.instance = instance; }

  bool segment(const SegmentFile& f, bool newest, std::optional<Problem>& bad) {
    cur_ = f;
    sum_.last_segment = f.number;
    if (sum_.first_segment == 0) {
      sum_.first_segment = f.number;
    } else if (f.number != prev_segment_ + 1) {
      return fail(bad, 0, "segment " + std::to_string(prev_segment_ + 1) + " is missing");
    }
    prev_segment_ = f.number;
    auto reader = SegmentReader::open(f.path);
    if (!reader) {
      return fail(bad, 0, reader.status().message());
    }
    in_segment_ = 0;
    last_type_.clear();
    Frame frame;
    SegmentReader::Outcome o;
    while ((o = reader->next(frame)) == SegmentReader::Outcome::kFrame) {
      for (const auto& e : frame.entries) {
        if (!entry(e, frame.offset, bad)) {
          return false;
        }
      }
    }
    if (o != SegmentReader::Outcome::kEnd) {
      std::string kind = o == SegmentReader::Outcome::kTorn ? "segment truncated: " : "";
      return fail(bad, frame.offset, kind + reader->error() + " (first unreadable record)");
    }
    if (in_segment_ == 0) {
      return fail(bad, kSegmentHeaderSize, "segment holds no records");
    }
    if (!newest && last_type_ != "checkpoint") {
      return fail(bad, reader->fileSize(),
                  "segment does not end with a checkpoint (records missing at its end)");
    }
    return true;
  }

  const InstanceSummary& summary() const { return sum_; }

 private:
  bool fail(std::optional<Problem>& bad, uint64_t offset, std::string what) {
    bad = Problem{sum_.instance, cur_.number, cur_.path, offset, expected_, std::move(what)};
    return false;
  }
  bool failAt(std::optional<Problem>& bad, uint64_t offset, uint64_t seq, std::string what) {
    bad = Problem{sum_.instance, cur_.number, cur_.path, offset, seq, std::move(what)};
    return false;
  }

  bool checkSig(const json::object& o, uint64_t seg, uint64_t seq, const Hash& h,
                std::string_view sig_field) {
    const PublicKey* key = keys_.find(str(o, "key"));
    auto sig = base64Decode(str(o, sig_field));
    return key != nullptr && sig &&
           key->verify(checkpointMessage(sum_.instance, seg, seq, h), *sig);
  }

  bool entry(const Entry& e, uint64_t offset, std::optional<Problem>& bad) {
    json::error_code ec;
    json::value v = json::parse(e.record, ec);
    if (ec || !v.is_object()) {
      return failAt(bad, offset, e.seq, "record is not a JSON object");
    }
    const auto& o = v.as_object();
    std::string type = str(o, "type");
    if (in_segment_ == 0) {
      if (!anchor(o, type, e, offset, bad)) {
        return false;
      }
    } else if (type == "segment_start") {
      return failAt(bad, offset, e.seq, "segment_start in the middle of a segment");
    }
    if (e.seq != expected_) {
      return failAt(bad, offset, expected_,
                    "expected record seq " + std::to_string(expected_) + ", found seq " +
                        std::to_string(e.seq) + " (record missing, reordered or inserted)");
    }
    if (chainHash(hash_, e.seq, e.record) != e.hash) {
      return failAt(bad, offset, e.seq, "chain hash mismatch: record altered");
    }
    if (type == "checkpoint") {
      uint64_t upto = 0;
      uint64_t seg = 0;
      Hash h{};
      if (!u64(o, "upto_seq", upto) || upto != e.seq - 1 || !u64(o, "segment", seg) ||
          seg != cur_.number || !parseHashHex(str(o, "upto_hash"), h) || h != hash_) {
        return failAt(bad, offset, e.seq, "checkpoint does not match the chain");
      }
      if (!checkSig(o, seg, upto, h, "sig")) {
        return failAt(
            bad, offset, e.seq,
            "checkpoint signature invalid (or signed by unknown key " + str(o, "key") + ")");
      }
      ++sum_.checkpoints;
      sum_.last_signed_seq = upto;
    }
    if (sum_.first_seq == 0) {
      sum_.first_seq = e.seq;
    }
    sum_.last_seq = e.seq;
    ++sum_.records;
    sum_.unsigned_tail = type == "checkpoint" ? 0 : sum_.unsigned_tail + 1;
    ++in_segment_;
    hash_ = e.hash;
    expected_ = e.seq + 1;
    last_type_ = type;
    return true;
  }

  // The first record of a segment: its signed anchor names the record before it.
  bool anchor(const json::object& o, const std::string& type, const Entry& e, uint64_t offset,
              std::optional<Problem>& bad) {
    uint64_t prev = 0;
    uint64_t seg = 0;
    Hash h{};
    if (type != "segment_start" || !u64(o, "prev_seq", prev) || !u64(o, "segment", seg) ||
        !parseHashHex(str(o, "prev_hash"), h)) {
      return failAt(bad, offset, started_ ? expected_ : e.seq,
                    "segment does not start with a segment_start record");
    }
    if (seg != cur_.number || str(o, "instance") != sum_.instance) {
      return failAt(bad, offset, e.seq, "segment_start names another segment or instance");
    }
    if (!checkSig(o, seg, prev, h, "prev_sig")) {
      return failAt(
          bad, offset, e.seq,
          "segment anchor signature invalid (or signed by unknown key " + str(o, "key") + ")");
    }
    if (!started_) {
      // Oldest remaining segment: the signed anchor is the trust root.
      started_ = true;
      expected_ = prev + 1;
      hash_ = h;
    } else if (prev != expected_ - 1 || h != hash_) {
      return failAt(bad, offset, expected_,
                    "segment anchor does not continue the previous segment (records " +
                        std::to_string(expected_) + ".." + std::to_string(prev) + " missing?)");
    }
    sum_.last_signed_seq = prev;
    return true;
  }

  const KeyRing& keys_;
  InstanceSummary sum_;
  SegmentFile cur_;
  uint64_t prev_segment_ = 0;
  bool started_ = false;
  uint64_t expected_ = 1;
  Hash hash_{};
  uint64_t in_segment_ = 0;
  std::string last_type_;
};

}  // namespace

std::string Problem::describe() const {
  return instance + " segment " + std::to_string(segment) + " (" + path + ") offset " +
         std::to_string(offset) + ": record seq " + std::to_string(seq) + ": " + what;
}

const PublicKey* KeyRing::find(const std::string& id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

VerifyReport verifyInstance(const std::string& instance_dir, const KeyRing& keys) {
  VerifyReport report;
  Walker w(std::filesystem::path(instance_dir).filename().string(), keys);
  auto segs = listSegments(instance_dir);
  for (size_t i = 0; i < segs.size(); ++i) {
    if (!w.segment(segs[i], i + 1 == segs.size(), report.first_bad)) {
      report.ok = false;
      break;
    }
  }
  report.instances.push_back(w.summary());
  return report;
}

std::vector<std::string> listInstances(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator(dir, ec)) {
    if (de.is_directory()) {
      out.push_back(de.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

VerifyReport verifyDir(const std::string& dir, const KeyRing& keys) {
  VerifyReport report;
  for (const auto& inst : listInstances(dir)) {
    VerifyReport r = verifyInstance(dir + "/" + inst, keys);
    report.instances.insert(report.instances.end(), r.instances.begin(), r.instances.end());
    if (!r.ok) {
      report.ok = false;
      report.first_bad = r.first_bad;
      break;
    }
  }
  return report;
}

}  // namespace jg::audit
