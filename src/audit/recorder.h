// Recorder: the append side of the audit log of one gateway instance.
//
// Sessions submit events from any thread. submit() encodes the event on the caller's thread
// (sealing raw payloads, scrubbing free text) and queues it; one writer thread assigns sequence
// numbers, chains hashes, and writes all queued records as one compressed frame followed by one
// fdatasync (group commit across sessions), through a LogWriter. Signed checkpoints are added
// every `checkpoint_every` records, every `checkpoint_interval`, when a segment closes and at
// close(); each durable checkpoint is handed to the AnchorSink, which keeps the newest one
// outside the log directory. Segments rotate at `segment_max_bytes`; closed segments older than
// `retention` are removed (oldest first, after a signed retention record), together with their
// index rows (through the IndexSink).
//
// Durability: strict and batched both fsync every frame; strict starts a write and fsync as soon
// as records are waiting and none is in flight, batched (and off) gather records for up to
// `batch_delay`; off writes without fsync. Completion (waitDurable / whenDurable / the
// callback) means "written and, unless off, fsynced". In strict mode the server must wait for
// completion before forwarding a statement upstream and before sending CommandComplete to the
// client. Tickets are increasing and a frame completes every ticket up to its last, so a session
// waits for its last ticket only.
//
// Failing closed, and recovering: when a write or fsync fails, writable() turns false and every
// completion that is waiting, and every one asked for while the log is failed, reports
// kUnavailable / SQLSTATE 58030 at once, so the server refuses work instead of running it
// unrecorded. Records are not dropped: the failed frame stays pending and is written again
// every `retry_interval` on the writer thread (the probe), and records submitted meanwhile are
// queued (up to queue_limit; beyond it submit() fails at once instead of blocking). The first
// write that succeeds makes the log writable again, in order, with nothing lost. Only close()
// while the log is still failed loses the records that could not be written (logged).
//
// Thread-safe. The instance directory is locked (flock) while a Recorder has it open. close()
// (or the destructor) drains the queue, writes a closing checkpoint and joins the writer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/anchor.h"
#include "audit/event.h"
#include "audit/redact.h"
#include "audit/segment.h"
#include "audit/settings.h"
#include "core/clock.h"
#include "core/status.h"

namespace jg::audit {

// An event that is durable in the log, as handed to the index. Result rows (masked and raw)
// and bind parameter values are stripped: the index needs only metadata.
struct DurableEvent {
  uint64_t seq = 0;
  uint64_t segment = 0;
  Event event;
};

// Receives durable events, in log order, on the writer thread. Implementations must be quick
// (queue and return) and must not call back into the Recorder.
class IndexSink {
 public:
  virtual ~IndexSink() = default;
  virtual void onDurable(const std::string& instance, std::vector<DurableEvent>&& batch) = 0;
  virtual void onSegmentsRemoved(const std::string& instance,
                                 const std::vector<uint64_t>& segments) = 0;
};

struct RecorderOptions {
  const Clock* clock = &Clock::system();
  Env* env = &Env::posix();
  IndexSink* index = nullptr;     // not owned; must outlive the Recorder
  AnchorSink* anchors = nullptr;  // not owned; must outlive the Recorder
  Redactor redactor = scrubSecrets;
};

struct RecorderStats {
  uint64_t records = 0;
  uint64_t frames = 0;
  uint64_t syncs = 0;
  uint64_t checkpoints = 0;
  uint64_t bytes = 0;
  uint64_t segment = 0;
  uint64_t last_seq = 0;
  uint64_t queued = 0;          // records waiting for the writer
  uint64_t write_failures = 0;  // times the log became unwritable
  uint64_t recoveries = 0;      // times it became writable again
};

class Recorder {
 public:
  using Ticket = uint64_t;
  using DurableCallback = std::function<void(const Status&)>;

  // Opens (or creates) `<dir>/<instance>/`, recovers a torn tail, loads the keys, starts a new
  // segment and the writer thread.
  static Result<std::unique_ptr<Recorder>> open(const Settings& settings,
                                                RecorderOptions options = {});
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Queues an event; blocks while the queue is full and the log is writable. Fails at once when
  // the recorder is closed, the event cannot be encoded, or the log has failed and the queue is
  // full. While the log is failed the event is queued and written once it recovers.
  Result<Ticket> submit(Event event);
  // Blocks until the ticket's frame is durable (see the durability modes above).
  Status waitDurable(Ticket ticket);
  // submit + waitDurable.
  Status append(Event event);
  // Queues an event; `on_durable` runs on the writer thread once it is durable or has failed
  // (possibly at once on the caller's thread if the submit itself fails). The server posts it
  // back to the session's executor. Never call into the Recorder from the callback.
  void appendAsync(Event event, DurableCallback on_durable);
  // Runs `on_durable` once every ticket up to `ticket` is durable or the log has failed: on the
  // writer thread, or at once on the caller's thread when that is already known. Same rules as
  // appendAsync's callback.
  void whenDurable(Ticket ticket, DurableCallback on_durable);
  // Every ticket up to this one is durable (lock-free; for a quick check before waiting).
  Ticket durableUpto() const;

  Durability durability() const;
  // True when statements must wait for their record before reaching the upstream.
  bool strict() const { return durability() == Durability::kStrict; }
  // Ok while the log is writable; else why not (SQLSTATE 58030).
  Status health() const;
  // False from a failed write until a retried write succeeds (lock-free; checked by the server
  // before it admits a session or sends a statement).
  bool writable() const;
  RecorderStats stats() const;
  const std::string& instance() const;
  const std::string& rawKeyId() const;

  // Writes an interval-independent checkpoint now (tests, admin API). Blocks until durable.
  Status checkpointNow();
  // Runs retention now (on the writer thread); returns the removed segment numbers.
  Result<std::vector<uint64_t>> applyRetention();
  Status close();

 private:
  class Impl;
  explicit Recorder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jg::audit
