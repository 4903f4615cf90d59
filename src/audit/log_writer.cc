#include "audit/log_writer.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>

#include "audit/codec.h"
#include "audit/verify.h"
#include "core/log.h"
#include "core/metrics.h"

namespace jg::audit {
namespace json = boost::json;

LogWriter::LogWriter(Settings settings, std::string instance_dir, SigningKey signer,
                     Options options)
    : s_(std::move(settings)),
      dir_(std::move(instance_dir)),
      signer_(std::move(signer)),
      opt_(std::move(options)) {}

Status LogWriter::open() {
  if (Status st = checkAnchor(); !st) {
    return st;
  }
  return recover();
}

// A log that no longer holds its newest anchored checkpoint was cut or replaced: continuing it
// would sign whatever is left, so the recorder refuses to start.
Status LogWriter::checkAnchor() {
  if (opt_.anchors == nullptr) {
    return Status::ok();
  }
  auto anchor = opt_.anchors->latest(s_.instance);
  if (!anchor) {
    return Status::error(Code::kUnavailable,
                         "cannot read the audit anchor of " + s_.instance +
                             " from the state store: " + anchor.status().message());
  }
  if (!anchor->has_value()) {
    return Status::ok();
  }
  const Anchor& a = **anchor;
  if (Status st = findAnchored(dir_, a); !st) {
    return Status::error(
        Code::kInternal,
        fmt::format("audit log {} does not hold the checkpoint anchored in the state store "
                    "(seq {} in segment {}, written {}): {}. The log was cut or replaced; "
                    "`jitgate audit verify` reports what is missing. To start a new log on "
                    "purpose, remove the row of instance \"{}\" from the audit_anchors table",
                    dir_, a.seq, a.segment, formatUtc(fromMicros(a.ts_us)), st.message(),
                    s_.instance));
  }
  return Status::ok();
}

Status LogWriter::recover() {
  auto segs = listSegments(dir_);
  if (segs.empty()) {
    next_segment_ = 1;
    return commit();
  }
  const auto& tail = segs.back();
  auto info = recoverTail(*opt_.env, tail.path);
  if (!info) {
    return info.status();
  }
  if (info->truncated) {
    log::warn("", "audit log: truncated a torn frame at the end of {} ({})", tail.path,
              info->error);
  }
  if (info->damaged) {
    log::error("", "audit log: {} is damaged ({}); `jitgate audit verify` will report it",
               tail.path, info->error);
  }
  if (!info->has_entries) {
    return replaceEmptyTail(segs);
  }
  next_seq_ = info->last.seq + 1;
  last_hash_ = info->last.hash;
  segment_ = tail.number;
  if (!info->last_is_close && !info->damaged) {
    auto w = SegmentWriter::open(*opt_.env, tail.path, info->good_size, s_.zstd_level);
    if (!w) {
      return w.status();
    }
    seg_ = std::move(*w);
    good_size_ = info->good_size;
    if (Status st = addCheckpoint("recovery"); !st) {
      return st;
    }
  }
  next_segment_ = tail.number + 1;
  return commit();
}

// Crashed right after creating the newest file: it holds no records, so its number is reused
// and the chain continues from the segment before it.
Status LogWriter::replaceEmptyTail(const std::vector<SegmentFile>& segs) {
  std::error_code ec;
  std::filesystem::remove(segs.back().path, ec);
  if (segs.size() > 1) {
    auto prev = recoverTail(*opt_.env, segs[segs.size() - 2].path);
    if (!prev || !prev->has_entries) {
      return internalError("audit log: cannot find the chain head in " + dir_);
    }
    next_seq_ = prev->last.seq + 1;
    last_hash_ = prev->last.hash;
  }
  next_segment_ = segs.back().number;
  return commit();
}

uint64_t LogWriter::chainInto(std::string record) {
  Entry e;
  e.seq = next_seq_++;
  e.hash = chainHash(last_hash_, e.seq, record);
  e.record = std::move(record);
  last_hash_ = e.hash;
  frame_.push_back(std::move(e));
  return next_seq_ - 1;
}

uint64_t LogWriter::add(std::string record) {
  uint64_t seq = chainInto(std::move(record));
  if (++since_checkpoint_ >= s_.checkpoint_every) {
    if (Status st = addCheckpoint("count"); !st) {
      // Signing does not fail in practice; the next record tries again.
      log::error("", "audit log: cannot sign a checkpoint: {}", st.message());
    }
  }
  return seq;
}

Status LogWriter::addCheckpoint(std::string_view reason) {
  uint64_t upto = next_seq_ - 1;
  Hash upto_hash = last_hash_;
  auto sig = signer_.sign(checkpointMessage(s_.instance, segment_, upto, upto_hash));
  if (!sig) {
    return sig.status();
  }
  int64_t ts = toMicros(now());
  std::string sig64 = base64Encode(*sig);
  json::object o{{"type", "checkpoint"},
                 {"ts", ts},
                 {"reason", reason},
                 {"instance", s_.instance},
                 {"segment", segment_},
                 {"upto_seq", upto},
                 {"upto_hash", hashHex(upto_hash)},
                 {"key", signer_.id()},
                 {"sig", sig64}};
  since_checkpoint_ = 0;
  last_checkpoint_time_ = now();
  ++stats_.checkpoints;
  uint64_t seq = chainInto(json::serialize(o));
  frame_anchor_ = Anchor{s_.instance,  segment_,         seq, last_hash_, upto, upto_hash,
                         signer_.id(), std::move(sig64), ts};
  return Status::ok();
}

Status LogWriter::writePending() {
  if (frame_.empty()) {
    return Status::ok();
  }
  if (!seg_) {
    return internalError("audit log: records pending without an open segment");
  }
  if (dirty_) {
    // An earlier attempt may have left part of this frame on disk.
    if (Status st = seg_->rollback(good_size_); !st) {
      return st;
    }
  }
  dirty_ = true;
  if (Status st = seg_->appendFrame(frame_); !st) {
    return st;
  }
  if (s_.durability != Durability::kOff || frame_anchor_) {
    const auto began = std::chrono::steady_clock::now();
    Status synced = seg_->sync();
    metrics::auditFsyncSeconds().observe(std::chrono::steady_clock::now() - began);
    if (!synced) {
      return synced;
    }
    ++stats_.syncs;
  }
  dirty_ = false;
  good_size_ = seg_->size();
  ++stats_.frames;
  stats_.bytes = good_size_;
  stats_.last_seq = frame_.back().seq;
  frame_.clear();
  if (frame_anchor_ && opt_.anchors != nullptr) {
    opt_.anchors->onCheckpoint(*frame_anchor_);
  }
  frame_anchor_.reset();
  return Status::ok();
}

Status LogWriter::commit() {
  if (Status st = writePending(); !st) {
    return st;
  }
  if (next_segment_) {
    closeSegment();
    if (Status st = openSegment(*next_segment_); !st) {
      return st;
    }
    next_segment_.reset();
    if (Status st = writePending(); !st) {
      return st;
    }
  }
  if (sync_dir_) {
    if (Status st = opt_.env->syncDir(dir_); !st) {
      return st;
    }
    sync_dir_ = false;
  }
  return Status::ok();
}

// Creates segment `number` and chains its segment_start record, whose signed anchor names the
// last record before it.
Status LogWriter::openSegment(uint64_t number) {
  std::string path = dir_ + "/" + segmentFileName(number);
  std::error_code ec;
  std::filesystem::remove(path, ec);  // what a failed earlier attempt left
  auto w = SegmentWriter::open(*opt_.env, path, 0, s_.zstd_level);
  if (!w) {
    std::filesystem::remove(path, ec);
    return w.status();
  }
  uint64_t prev = next_seq_ - 1;
  auto sig = signer_.sign(checkpointMessage(s_.instance, number, prev, last_hash_));
  if (!sig) {
    return sig.status();
  }
  seg_ = std::move(*w);
  segment_ = number;
  good_size_ = seg_->size();
  dirty_ = false;
  start_prev_seq_ = prev;
  start_prev_hash_ = last_hash_;
  json::object o{{"type", "segment_start"},
                 {"ts", toMicros(now())},
                 {"format", kFormatVersion},
                 {"instance", s_.instance},
                 {"segment", number},
                 {"raw", opt_.raw_payloads ? "encrypted" : "off"},
                 {"raw_key", opt_.raw_key_id},
                 {"key", signer_.id()},
                 {"prev_seq", prev},
                 {"prev_hash", hashHex(last_hash_)},
                 {"prev_sig", base64Encode(*sig)}};
  chainInto(json::serialize(o));
  // The segment_start is the first record a checkpoint of this segment covers: an idle
  // gateway signs it at the next interval.
  since_checkpoint_ = 1;
  last_checkpoint_time_ = now();
  stats_.segment = number;
  sync_dir_ = true;
  return Status::ok();
}

void LogWriter::closeSegment() {
  if (!seg_) {
    return;
  }
  // The closing checkpoint is durable already; a failure here leaves preallocated zeros after
  // it, which readers accept.
  if (Status st = seg_->close(); !st) {
    log::warn("", "audit log: closing {}: {}", seg_->path(), st.message());
  }
  seg_.reset();
}

Status LogWriter::rotate() {
  if (Status st = addCheckpoint("close"); !st) {
    return st;
  }
  next_segment_ = segment_ + 1;
  return commit();
}

Status LogWriter::housekeeping(bool& rotated) {
  rotated = false;
  if (seg_ && seg_->size() >= s_.segment_max_bytes) {
    rotated = true;
    return rotate();
  }
  if (since_checkpoint_ > 0 && now() - last_checkpoint_time_ >= s_.checkpoint_interval) {
    if (Status st = addCheckpoint("interval"); !st) {
      return st;
    }
    return commit();
  }
  return Status::ok();
}

std::vector<SegmentFile> LogWriter::expiredPrefix() const {
  std::vector<SegmentFile> out;
  if (s_.retention.count() <= 0) {
    return out;
  }
  auto cutoff = now() - s_.retention;
  for (const auto& f : listSegments(dir_)) {
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(f.path, ec);
    // Only the oldest segments go, so what is kept stays one unbroken chain.
    if (f.number >= segment_ || ec || std::chrono::file_clock::to_sys(mtime) >= cutoff) {
      break;
    }
    out.push_back(f);
  }
  return out;
}

// The signed record of what retention removes: every segment up to `removed.back()`, and the
// chain position the oldest kept segment starts from.
Status LogWriter::addRetentionRecord(const std::vector<SegmentFile>& removed) {
  uint64_t upto = removed.back().number;
  SegmentStart kept{start_prev_seq_, start_prev_hash_};
  if (upto + 1 != segment_) {
    auto start = readSegmentStart(dir_ + "/" + segmentFileName(upto + 1));
    if (!start) {
      return start.status();
    }
    kept = *start;
  }
  auto sig = signer_.sign(retentionMessage(s_.instance, upto, kept.prev_seq, kept.prev_hash));
  if (!sig) {
    return sig.status();
  }
  json::object o{{"type", "retention"},
                 {"ts", toMicros(now())},
                 {"instance", s_.instance},
                 {"removed_from", removed.front().number},
                 {"removed_upto", upto},
                 {"kept_prev_seq", kept.prev_seq},
                 {"kept_prev_hash", hashHex(kept.prev_hash)},
                 {"key", signer_.id()},
                 {"sig", base64Encode(*sig)}};
  chainInto(json::serialize(o));
  return addCheckpoint("retention");
}

Result<std::vector<uint64_t>> LogWriter::retention() {
  std::vector<uint64_t> removed;
  auto expired = expiredPrefix();
  if (expired.empty()) {
    return removed;
  }
  if (Status st = addRetentionRecord(expired); !st) {
    return st;
  }
  if (Status st = commit(); !st) {
    return st;
  }
  for (const auto& f : expired) {
    std::error_code ec;
    if (!std::filesystem::remove(f.path, ec)) {
      log::warn("", "audit retention: cannot remove {}: {}", f.path, ec.message());
      break;  // later ones stay too: what is kept must remain one chain
    }
    removed.push_back(f.number);
  }
  (void)opt_.env->syncDir(dir_);
  log::info("", "audit retention removed {} segment(s) of {}", removed.size(), s_.instance);
  return removed;
}

Status LogWriter::close() {
  if (!seg_ && !pending()) {
    return Status::ok();
  }
  if (Status st = commit(); !st) {
    return st;
  }
  if (Status st = addCheckpoint("close"); !st) {
    return st;
  }
  if (Status st = commit(); !st) {
    return st;
  }
  Status st = seg_->close();
  seg_.reset();
  return st;
}

}  // namespace jg::audit
