// The recorder's private parts, shared by recorder.cc (the API: encode on the caller's thread,
// enqueue, wait) and recorder_writer.cc (the writer thread: chain, write, sync, retry,
// housekeeping). Not part of the audit module's interface; include it only from those two.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "audit/codec.h"
#include "audit/crypto.h"
#include "audit/log_writer.h"
#include "audit/recorder.h"
#include "core/log.h"

namespace jg::audit {
namespace recorder_detail {

constexpr size_t kMaxBatchRecords = 16384;
constexpr size_t kMaxBatchBytes = 4u << 20;  // of encoded records per frame
constexpr auto kRetentionEvery = std::chrono::hours(1);
// While failed, a retry that fails again is logged only every this many attempts.
constexpr uint64_t kLogRetryEvery = 60;

struct Pending {
  enum class Kind { kRecord, kCheckpoint };
  Kind kind = Kind::kRecord;
  Recorder::Ticket ticket = 0;
  std::string record;
  std::optional<Event> index_event;
  Recorder::DurableCallback callback;
};

struct Waiter {
  Recorder::Ticket ticket;
  Recorder::DurableCallback callback;
};

// What the index needs of an event: no cells, bodies or raw payloads, and free text scrubbed as
// in the record.
void stripForIndex(Event& e, const Redactor& redact);
// Moves the callbacks out of `from` (their records stay) into `to`.
void takeCallbacks(std::deque<Pending>& from, std::vector<Recorder::DurableCallback>& to);
Status closedError();

}  // namespace recorder_detail

class Recorder::Impl {
 public:
  using Pending = recorder_detail::Pending;
  using Waiter = recorder_detail::Waiter;

  Settings s;
  RecorderOptions opt;
  std::string inst_dir;
  int lock_fd = -1;
  RawSealer sealer{std::nullopt};
  std::unique_ptr<LogWriter> log;  // the writer thread's (open() uses it before the thread)

  // Writer-thread state.
  std::chrono::steady_clock::time_point last_retention;
  Ticket retry_last = 0;                    // the last ticket of the frame that failed
  std::vector<DurableEvent> retry_durable;  // its index events
  uint64_t failed_attempts = 0;

  mutable std::mutex mu;
  std::condition_variable cv_writer;
  std::condition_variable cv_done;
  std::condition_variable cv_space;
  std::deque<Pending> queue;
  size_t queued_bytes = 0;      // of the records in `queue`
  std::vector<Waiter> waiters;  // whenDurable() callbacks, called once their ticket is durable
  std::chrono::steady_clock::time_point first_enqueued;
  Ticket next_ticket = 1;
  std::atomic<Ticket> durable_upto{0};
  std::atomic<bool> writable{true};
  Status failed;  // why the log is not writable (ok while it is)
  bool closing = false;
  bool stopped = false;
  bool retention_requested = false;
  uint64_t retention_runs = 0;
  Result<std::vector<uint64_t>> retention_result{std::vector<uint64_t>()};
  RecorderStats stats;
  std::thread writer;

  ~Impl() {
    if (lock_fd >= 0) {
      ::close(lock_fd);
    }
  }

  Status lockDir() {
    std::string path = inst_dir + "/LOCK";
    lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return Status::error(Code::kUnavailable,
                           "audit directory " + inst_dir + " is in use by another process");
    }
    return Status::ok();
  }

  Result<Pending> encode(Event event, DurableCallback callback) const;
  Result<Ticket> enqueue(Event event, DurableCallback callback);

  // Copies the writer's counters into the stats readers see.
  void publish();

  // Chains one batch into the pending frame (with count-triggered checkpoints).
  Status chainBatch(std::deque<Pending>& batch, std::vector<DurableEvent>& durable);

  void index(std::vector<DurableEvent>& durable);

  // The log could not be written: stop completing anything until a retry succeeds. Callers
  // waiting now, and the callbacks of everything queued, learn it at once; the records stay.
  void enterFailed(const Status& st, std::deque<Pending>& batch, Ticket last,
                   std::vector<DurableEvent>& durable);

  // The probe: writes the failed frame again. True once the log is writable again.
  bool retryFailed();

  // Marks everything up to `last` durable and runs the callbacks that were waiting for it.
  void completeUpto(Ticket last, std::deque<Pending>& batch);

  void runRetention();

  // Between batches: a time-based checkpoint or a rotation, then retention after a rotation,
  // hourly, or when asked for.
  void housekeeping();

  void writeBatch(std::deque<Pending>& batch);

  // Takes the next batch off the queue. REQUIRES: `lk` holds mu and the queue is not empty.
  std::deque<Pending> takeBatch(std::unique_lock<std::mutex>& lk);

  void run();

  // After the loop: a closing checkpoint, or (still failed) a report of what is lost.
  void finish();
};

}  // namespace jg::audit
