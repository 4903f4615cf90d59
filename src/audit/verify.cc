#include "audit/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>

#include "audit/codec.h"
#include "audit/segment.h"
#include "core/clock.h"

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
  Walker(std::string instance, const KeyRing& keys, const VerifyOptions& opts)
      : keys_(keys), opts_(opts) {
    sum_.instance = instance;
    auto it = opts.anchors.find(sum_.instance);
    anchor_ = it == opts.anchors.end() ? nullptr : &it->second;
  }

  bool segment(const SegmentFile& f, bool newest, std::optional<Problem>& bad) {
    cur_ = f;
    sum_.last_segment = f.number;
    if (sum_.first_segment == 0) {
      sum_.first_segment = f.number;
      first_path_ = f.path;
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
    if (o == SegmentReader::Outcome::kTorn && newest && opts_.live) {
      sum_.torn_tail = true;  // a frame being written
    } else if (o != SegmentReader::Outcome::kEnd) {
      std::string kind = o == SegmentReader::Outcome::kTorn ? "segment truncated: " : "";
      return fail(bad, frame.offset, kind + reader->error() + " (first unreadable record)");
    }
    end_offset_ = reader->offset();
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

  // The ends of the log, once every segment was read.
  bool finish(std::optional<Problem>& bad) { return head(bad) && anchored(bad) && tail(bad); }

 private:
  // The oldest kept segment must be the first, or its predecessors must have been removed by
  // retention (a signed record in the kept log says so).
  bool head(std::optional<Problem>& bad) {
    if (sum_.first_segment <= 1 || sum_.removed_upto + 1 >= sum_.first_segment) {
      return true;
    }
    uint64_t from = sum_.removed_upto + 1;
    uint64_t to = sum_.first_segment - 1;
    bad = Problem{sum_.instance,
                  sum_.first_segment,
                  first_path_,
                  0,
                  sum_.first_seq,
                  fmt::format("the oldest segments ({}..{}) are missing and no retention record "
                              "explains their removal: the head of the log was deleted",
                              from, to)};
    return false;
  }

  // The newest anchored checkpoint must be in the log (checked record by record in entry()).
  bool anchored(std::optional<Problem>& bad) {
    if (anchor_ == nullptr) {
      if (opts_.anchors_given && sum_.checkpoints > 0) {
        return atEnd(bad, sum_.last_seq + 1,
                     "no anchor is stored for this instance although its log holds signed "
                     "checkpoints: the anchor was removed, or this is not the gateway's store");
      }
      return true;
    }
    if (!anchor_->sig.empty() && !anchorSigned(*anchor_)) {
      return atEnd(bad, anchor_->seq,
                   "the anchor stored for this instance has an invalid signature: the state "
                   "store was altered");
    }
    if (sum_.anchored_seq != 0 || (sum_.records > 0 && anchor_->seq < sum_.first_seq)) {
      return true;  // found, or older than what retention kept
    }
    return atEnd(
        bad, sum_.last_seq + 1,
        fmt::format("the log ends at seq {}, before the checkpoint anchored at seq {} in "
                    "segment {}{}: records {}..{} and any after them were removed",
                    sum_.last_seq, anchor_->seq, anchor_->segment,
                    anchor_->ts_us != 0 ? " (" + formatUtc(fromMicros(anchor_->ts_us)) + ")"
                                        : std::string(),
                    sum_.last_seq + 1, anchor_->seq));
  }

  // Without --live, the newest record must be a checkpoint.
  bool tail(std::optional<Problem>& bad) {
    if (opts_.live || sum_.unsigned_tail == 0) {
      return true;
    }
    return atEnd(
        bad, sum_.last_seq - sum_.unsigned_tail + 1,
        fmt::format("the newest {} record(s) (seq {}..{}) are not covered by a signed "
                    "checkpoint: the gateway did not shut down cleanly, or it is still "
                    "running (pass --live), or they were altered after the last "
                    "checkpoint",
                    sum_.unsigned_tail, sum_.last_seq - sum_.unsigned_tail + 1, sum_.last_seq));
  }

  bool atEnd(std::optional<Problem>& bad, uint64_t seq, std::string what) {
    bad = Problem{sum_.instance, cur_.number, cur_.path, end_offset_, seq, std::move(what)};
    return false;
  }

  bool anchorSigned(const Anchor& a) const {
    const PublicKey* key = keys_.find(a.key);
    auto sig = base64Decode(a.sig);
    return key != nullptr && sig &&
           key->verify(checkpointMessage(a.instance, a.segment, a.upto_seq, a.upto_hash), *sig);
  }

  // A retention record: signed, it explains the segments before the oldest kept one.
  bool retention(const json::object& o, const Entry& e, uint64_t offset,
                 std::optional<Problem>& bad) {
    uint64_t upto = 0;
    uint64_t prev = 0;
    Hash h{};
    const PublicKey* key = keys_.find(str(o, "key"));
    auto sig = base64Decode(str(o, "sig"));
    if (!u64(o, "removed_upto", upto) || !u64(o, "kept_prev_seq", prev) ||
        !parseHashHex(str(o, "kept_prev_hash"), h) || str(o, "instance") != sum_.instance ||
        key == nullptr || !sig ||
        !key->verify(retentionMessage(sum_.instance, upto, prev, h), *sig)) {
      return failAt(bad, offset, e.seq,
                    "retention record invalid (or signed by unknown key " + str(o, "key") + ")");
    }
    sum_.removed_upto = std::max(sum_.removed_upto, upto);
    return true;
  }

  // The record the anchor names must be this checkpoint, with this hash, in this segment.
  bool matchAnchor(const Entry& e, const std::string& type, uint64_t offset,
                   std::optional<Problem>& bad) {
    if (anchor_ == nullptr || e.seq != anchor_->seq) {
      return true;
    }
    bool segment_ok = anchor_->segment == 0 || anchor_->segment == cur_.number;
    if (type != "checkpoint" || e.hash != anchor_->hash || !segment_ok) {
      return failAt(bad, offset, e.seq,
                    "record does not match the checkpoint anchored at this seq: the log was "
                    "rewritten or replaced");
    }
    sum_.anchored_seq = e.seq;
    return true;
  }

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
    if ((type == "checkpoint" && !checkpoint(o, e, offset, bad)) ||
        (type == "retention" && !retention(o, e, offset, bad)) ||
        !matchAnchor(e, type, offset, bad)) {
      return false;
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

  // A checkpoint must name the record before it and carry a valid signature.
  bool checkpoint(const json::object& o, const Entry& e, uint64_t offset,
                  std::optional<Problem>& bad) {
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
  const VerifyOptions& opts_;
  const Anchor* anchor_ = nullptr;
  std::string first_path_;
  uint64_t end_offset_ = 0;
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

VerifyReport verifyInstance(const std::string& instance_dir, const KeyRing& keys,
                            const VerifyOptions& options) {
  VerifyReport report;
  std::string instance = std::filesystem::path(instance_dir).filename().string();
  Walker w(instance, keys, options);
  auto segs = listSegments(instance_dir);
  for (size_t i = 0; i < segs.size(); ++i) {
    if (!w.segment(segs[i], i + 1 == segs.size(), report.first_bad)) {
      report.ok = false;
      break;
    }
    if (options.progress) {
      options.progress(
          Progress{instance, i + 1, segs.size(), options.records_before + w.summary().records});
    }
  }
  auto anchor = options.anchors.find(instance);
  if (report.ok && segs.empty() && anchor != options.anchors.end()) {
    report.ok = false;
    report.first_bad = Problem{instance,
                               0,
                               instance_dir,
                               0,
                               1,
                               fmt::format("the log has no segments, but the checkpoint at seq "
                                           "{} is anchored: the log was deleted",
                                           anchor->second.seq)};
  } else if (report.ok && !segs.empty() && !w.finish(report.first_bad)) {
    report.ok = false;
  }
  report.instances.push_back(w.summary());
  return report;
}

Status findAnchored(const std::string& instance_dir, const Anchor& a) {
  std::string path = instance_dir + "/" + segmentFileName(a.segment);
  auto reader = SegmentReader::open(path);
  if (!reader) {
    return Status::error(Code::kNotFound, "segment " + std::to_string(a.segment) + " is missing");
  }
  Frame f;
  while (reader->next(f) == SegmentReader::Outcome::kFrame) {
    for (const auto& e : f.entries) {
      if (e.seq == a.seq) {
        return e.hash == a.hash
                   ? Status::ok()
                   : Status::error(Code::kInternal, "record seq " + std::to_string(a.seq) +
                                                        " differs from the anchored checkpoint");
      }
    }
  }
  return Status::error(Code::kNotFound, "segment " + std::to_string(a.segment) +
                                            " ends before seq " + std::to_string(a.seq));
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

VerifyReport verifyDir(const std::string& dir, const KeyRing& keys, const VerifyOptions& options) {
  VerifyReport report;
  std::vector<std::string> instances = options.only;
  if (instances.empty()) {
    instances = listInstances(dir);
    for (const auto& [name, anchor] : options.anchors) {
      if (std::find(instances.begin(), instances.end(), name) == instances.end()) {
        instances.push_back(name);  // anchored, but its directory is gone
      }
    }
  }
  VerifyOptions opts = options;
  for (const auto& inst : instances) {
    VerifyReport r = verifyInstance(dir + "/" + inst, keys, opts);
    for (const auto& s : r.instances) {
      opts.records_before += s.records;
    }
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
