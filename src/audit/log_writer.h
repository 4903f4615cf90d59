// LogWriter: the file side of one recorder instance — segments, the hash chain, signed
// checkpoints, rotation, retention and crash recovery (format in docs/audit-format.md).
//
// Records are chained into a pending frame as they are added (add(), addCheckpoint()): their
// sequence numbers and hashes are final from then on. commit() writes the pending frame (one
// append and, unless durability is off, one fdatasync; a frame holding a checkpoint is synced in
// every mode, since its checkpoint is then anchored) and finishes a pending rotation. A failed
// write loses nothing: the frame stays pending, the bytes written part way are cut off, and the
// next commit() writes the same frame again at the same offset. commit() is therefore also the
// probe the recorder repeats while the log is failed; nothing new may be added until it succeeds.
//
// Every durable checkpoint goes to the AnchorSink. open() refuses a log that no longer holds
// the newest anchored checkpoint (cut at its end, or replaced). Retention removes only the
// oldest segments (a prefix), after a signed `retention` record and a checkpoint naming what
// goes are durable.
//
// Not thread-safe: one owner (the recorder's writer thread; open() runs before it starts).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/anchor.h"
#include "audit/crypto.h"
#include "audit/segment.h"
#include "audit/settings.h"
#include "core/clock.h"
#include "core/status.h"

namespace jg::audit {

struct WriterStats {
  uint64_t frames = 0;
  uint64_t syncs = 0;
  uint64_t checkpoints = 0;
  uint64_t bytes = 0;  // size of the current segment
  uint64_t segment = 0;
  uint64_t last_seq = 0;  // last durable record
};

class LogWriter {
 public:
  struct Options {
    const Clock* clock = &Clock::system();
    Env* env = &Env::posix();
    AnchorSink* anchors = nullptr;  // not owned; null: checkpoints are not anchored
    bool raw_payloads = false;      // for segment_start: raw "encrypted" or "off"
    std::string raw_key_id;
  };

  LogWriter(Settings settings, std::string instance_dir, SigningKey signer, Options options);

  // Checks the log against the newest anchor, recovers a torn tail, closes a segment a crash
  // left open with a `recovery` checkpoint, and starts a new segment.
  Status open();
  // Chains `record` into the pending frame (followed by a `count` checkpoint when one is due)
  // and returns its sequence number.
  uint64_t add(std::string record);
  // Chains a checkpoint over everything before it into the pending frame.
  Status addCheckpoint(std::string_view reason);
  // Writes the pending frame and finishes a pending rotation. On failure everything stays
  // pending for the next call.
  Status commit();
  bool pending() const { return !frame_.empty() || next_segment_.has_value(); }
  // A time-based checkpoint, or a rotation when the segment is full (`rotated` says which);
  // committed.
  Status housekeeping(bool& rotated);
  // Removes the oldest closed segments whose modification time is older than the retention,
  // once a signed retention record naming them is durable. Returns the removed numbers.
  Result<std::vector<uint64_t>> retention();
  // Writes a closing checkpoint and closes the segment.
  Status close();

  uint64_t segment() const { return segment_; }
  const WriterStats& stats() const { return stats_; }

 private:
  Status checkAnchor();
  Status recover();
  Status replaceEmptyTail(const std::vector<SegmentFile>& segs);
  uint64_t chainInto(std::string record);
  Status writePending();
  Status openSegment(uint64_t number);
  void closeSegment();
  Status rotate();
  std::vector<SegmentFile> expiredPrefix() const;
  Status addRetentionRecord(const std::vector<SegmentFile>& removed);
  std::chrono::system_clock::time_point now() const { return opt_.clock->now(); }

  Settings s_;
  std::string dir_;
  SigningKey signer_;
  Options opt_;

  std::unique_ptr<SegmentWriter> seg_;
  uint64_t segment_ = 0;
  uint64_t good_size_ = 0;  // size of the segment up to its last durable frame
  bool dirty_ = false;      // bytes past good_size_ may be on disk (a write failed part way)
  std::optional<uint64_t> next_segment_;  // a rotation waiting for its new segment
  bool sync_dir_ = false;                 // a new segment's directory entry is not durable yet
  std::vector<Entry> frame_;              // chained, not yet durable
  std::optional<Anchor> frame_anchor_;    // the newest checkpoint in frame_

  uint64_t next_seq_ = 1;
  Hash last_hash_{};
  uint64_t start_prev_seq_ = 0;  // the anchor of the current segment's segment_start
  Hash start_prev_hash_{};
  uint64_t since_checkpoint_ = 0;
  std::chrono::system_clock::time_point last_checkpoint_time_;
  WriterStats stats_;
};

}  // namespace jg::audit
