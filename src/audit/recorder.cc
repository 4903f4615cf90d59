#include "audit/recorder.h"

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
#include "core/log.h"

namespace jg::audit {
namespace {

constexpr size_t kMaxBatchRecords = 16384;
constexpr size_t kMaxBatchBytes = 8u << 20;
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

// What the index needs of an event: no cells, bodies or raw payloads, and free text scrubbed as
// in the record.
void stripForIndex(Event& e, const Redactor& redact) {
  if (auto* rows = std::get_if<ResultRowsEvent>(&e.body)) {
    rows->rows.clear();
    rows->raw_rows = RawBytes();
  } else if (auto* result = std::get_if<ResultEvent>(&e.body)) {
    // The index needs the row count (rows.size()), not the cells.
    for (auto& row : result->rows) {
      Row().swap(row);
    }
    result->columns.clear();
    result->raw_rows = RawBytes();
  } else if (auto* st = std::get_if<StatementEvent>(&e.body)) {
    st->params = RawBytes();
    st->text = redact(st->text);
  } else if (auto* req = std::get_if<HttpRequestEvent>(&e.body)) {
    req->query = redact(scrubQuery(req->query));
    req->headers.clear();
    req->body.clear();
  } else if (auto* resp = std::get_if<HttpResponseEvent>(&e.body)) {
    resp->headers.clear();
    resp->body.clear();
    resp->raw_body = RawBytes();
  } else if (auto* part = std::get_if<HttpBodyEvent>(&e.body)) {
    part->body.clear();
    part->raw_body = RawBytes();
  } else if (auto* msg = std::get_if<McpMessageEvent>(&e.body)) {
    msg->body.clear();
    msg->raw_body = RawBytes();
    msg->reason = redact(msg->reason);
  }
}

struct Waiter {
  Recorder::Ticket ticket;
  Recorder::DurableCallback callback;
};

// Moves the callbacks out of `from` (their records stay) into `to`.
void takeCallbacks(std::deque<Pending>& from, std::vector<Recorder::DurableCallback>& to) {
  for (auto& p : from) {
    if (p.callback) {
      to.push_back(std::move(p.callback));
      p.callback = nullptr;
    }
  }
}

Status closedError() {
  return Status::error(Code::kUnavailable, "audit log closed", "58030");
}

}  // namespace

class Recorder::Impl {
 public:
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
  void publish() {
    const WriterStats& w = log->stats();
    std::lock_guard lk(mu);
    stats.frames = w.frames;
    stats.syncs = w.syncs;
    stats.checkpoints = w.checkpoints;
    stats.bytes = w.bytes;
    stats.segment = w.segment;
    stats.last_seq = w.last_seq;
  }

  // Chains one batch into the pending frame (with count-triggered checkpoints).
  Status chainBatch(std::deque<Pending>& batch, std::vector<DurableEvent>& durable) {
    uint64_t records = 0;
    for (auto& p : batch) {
      if (p.kind == Pending::Kind::kCheckpoint) {
        if (Status st = log->addCheckpoint("manual"); !st) {
          return st;
        }
        continue;
      }
      uint64_t seq = log->add(std::move(p.record));
      ++records;
      if (p.index_event) {
        durable.push_back(DurableEvent{seq, log->segment(), std::move(*p.index_event)});
      }
    }
    std::lock_guard lk(mu);
    stats.records += records;
    return Status::ok();
  }

  void index(std::vector<DurableEvent>& durable) {
    if (opt.index != nullptr && !durable.empty()) {
      opt.index->onDurable(s.instance, std::move(durable));
    }
    durable.clear();
  }

  // The log could not be written: stop completing anything until a retry succeeds. Callers
  // waiting now, and the callbacks of everything queued, learn it at once; the records stay.
  void enterFailed(const Status& st, std::deque<Pending>& batch, Ticket last,
                   std::vector<DurableEvent>& durable) {
    Status err =
        Status::error(Code::kUnavailable, "audit log unavailable: " + st.message(), "58030");
    log::error("", "{}; refusing new sessions and statements, retrying every {} ms", err.message(),
               s.retry_interval.count());
    retry_last = std::max(retry_last, last);
    std::move(durable.begin(), durable.end(), std::back_inserter(retry_durable));
    durable.clear();
    failed_attempts = 0;
    std::vector<Waiter> waiting;
    std::vector<DurableCallback> callbacks;
    {
      std::lock_guard lk(mu);
      failed = err;
      writable.store(false, std::memory_order_release);
      ++stats.write_failures;
      waiting.swap(waiters);
      takeCallbacks(queue, callbacks);
    }
    cv_done.notify_all();
    cv_space.notify_all();
    takeCallbacks(batch, callbacks);
    for (auto& cb : callbacks) {
      cb(err);
    }
    for (auto& w : waiting) {
      w.callback(err);
    }
  }

  // The probe: writes the failed frame again. True once the log is writable again.
  bool retryFailed() {
    Status st = log->commit();
    ++failed_attempts;
    if (!st) {
      if (failed_attempts % kLogRetryEvery == 0) {
        log::error("", "audit log still unavailable after {} retries: {}", failed_attempts,
                   st.message());
      }
      return false;
    }
    {
      std::lock_guard lk(mu);
      failed = Status::ok();
      writable.store(true, std::memory_order_release);
      ++stats.recoveries;
    }
    log::info("", "audit log writable again after {} retries; serving sessions again",
              failed_attempts);
    std::deque<Pending> none;
    if (retry_last > durable_upto.load()) {
      completeUpto(retry_last, none);
    }
    index(retry_durable);
    publish();
    return true;
  }

  // Marks everything up to `last` durable and runs the callbacks that were waiting for it.
  void completeUpto(Ticket last, std::deque<Pending>& batch) {
    std::vector<Waiter> ready;
    {
      std::lock_guard lk(mu);
      durable_upto = last;
      auto split = std::partition(waiters.begin(), waiters.end(),
                                  [&](const Waiter& w) { return w.ticket > last; });
      ready.assign(std::make_move_iterator(split), std::make_move_iterator(waiters.end()));
      waiters.erase(split, waiters.end());
    }
    cv_done.notify_all();
    for (auto& w : ready) {
      w.callback(Status::ok());
    }
    for (auto& p : batch) {
      if (p.callback) {
        p.callback(Status::ok());
      }
    }
  }

  void runRetention() {
    auto removed = log->retention();
    last_retention = std::chrono::steady_clock::now();
    if (removed && !removed->empty() && opt.index != nullptr) {
      opt.index->onSegmentsRemoved(s.instance, *removed);
    }
    {
      std::lock_guard lk(mu);
      retention_result = removed;
      retention_requested = false;
      ++retention_runs;
    }
    cv_done.notify_all();
    if (!removed) {
      std::deque<Pending> none;
      std::vector<DurableEvent> nothing;
      enterFailed(removed.status(), none, 0, nothing);
    }
  }

  // Between batches: a time-based checkpoint or a rotation, then retention after a rotation,
  // hourly, or when asked for.
  void housekeeping() {
    bool rotated = false;
    Status st = log->housekeeping(rotated);
    publish();
    if (!st) {
      std::deque<Pending> none;
      std::vector<DurableEvent> nothing;
      enterFailed(st, none, 0, nothing);
      return;
    }
    bool asked = false;
    {
      std::lock_guard lk(mu);
      asked = retention_requested;
    }
    if (rotated || asked || std::chrono::steady_clock::now() - last_retention >= kRetentionEvery) {
      runRetention();
      publish();
    }
  }

  void writeBatch(std::deque<Pending>& batch) {
    Ticket last = batch.back().ticket;
    std::vector<DurableEvent> durable;
    Status st = chainBatch(batch, durable);
    if (st) {
      st = log->commit();
    }
    publish();
    if (!st) {
      enterFailed(st, batch, last, durable);
      return;
    }
    completeUpto(last, batch);
    index(durable);
    housekeeping();
  }

  // Takes the next batch off the queue. REQUIRES: `lk` holds mu and the queue is not empty.
  std::deque<Pending> takeBatch(std::unique_lock<std::mutex>& lk) {
    if (s.durability != Durability::kStrict && !closing) {
      // Nobody waits for these records: gather them for up to batch_delay (off as well, so
      // that it costs what batched costs minus the fsync).
      cv_writer.wait_until(lk, first_enqueued + s.batch_delay,
                           [&] { return closing || queue.size() >= kMaxBatchRecords; });
    }
    std::deque<Pending> batch;
    size_t bytes = 0;
    while (!queue.empty() && batch.size() < kMaxBatchRecords && bytes < kMaxBatchBytes) {
      bytes += queue.front().record.size();
      queued_bytes -= queue.front().record.size();
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    if (!queue.empty()) {
      first_enqueued = std::chrono::steady_clock::now();
    }
    return batch;
  }

  void run() {
    auto tick =
        std::min<std::chrono::milliseconds>(s.checkpoint_interval, std::chrono::milliseconds(1000));
    std::unique_lock lk(mu);
    while (true) {
      if (!failed.isOk()) {
        // Failed: nothing new is written; the failed frame is retried every retry_interval
        // (once more at close).
        if (!closing) {
          cv_writer.wait_for(lk, s.retry_interval, [&] { return closing; });
        }
        bool was_closing = closing;
        lk.unlock();
        bool ok = retryFailed();
        lk.lock();
        if (!ok && was_closing) {
          break;
        }
        continue;
      }
      cv_writer.wait_for(lk, tick,
                         [&] { return !queue.empty() || closing || retention_requested; });
      if (queue.empty()) {
        if (closing) {
          break;
        }
        lk.unlock();
        housekeeping();
        lk.lock();
        continue;
      }
      std::deque<Pending> batch = takeBatch(lk);
      lk.unlock();
      cv_space.notify_all();
      writeBatch(batch);
      lk.lock();
    }
    lk.unlock();
    finish();
  }

  // After the loop: a closing checkpoint, or (still failed) a report of what is lost.
  void finish() {
    bool ok = failed.isOk();
    if (ok) {
      if (Status st = log->close(); !st) {
        log::error("", "audit log: closing segment failed: {}", st.message());
      }
      publish();
    }
    std::unique_lock lk(mu);
    stopped = true;
    std::vector<Waiter> left;
    left.swap(waiters);
    std::deque<Pending> lost;
    lost.swap(queue);
    Status err = failed.isOk() ? closedError() : failed;
    lk.unlock();
    cv_done.notify_all();
    cv_space.notify_all();
    if (!ok) {
      log::error("",
                 "audit log: closed while unavailable; {} queued record(s) and the frame "
                 "that failed were not written",
                 lost.size());
    }
    std::vector<DurableCallback> callbacks;
    takeCallbacks(lost, callbacks);
    for (auto& w : left) {
      w.callback(err);
    }
    for (auto& cb : callbacks) {
      cb(err);
    }
  }
};

Recorder::Recorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Recorder::~Recorder() {
  (void)close();
}

Result<std::unique_ptr<Recorder>> Recorder::open(const Settings& settings,
                                                 RecorderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->s = settings;
  impl->opt = std::move(options);
  impl->inst_dir = settings.dir + "/" + settings.instance;
  std::error_code ec;
  std::filesystem::create_directories(impl->inst_dir, ec);
  if (ec) {
    return Status::error(Code::kUnavailable,
                         "cannot create audit directory " + impl->inst_dir + ": " + ec.message());
  }
  if (Status st = impl->lockDir(); !st) {
    return st;
  }
  auto signer = SigningKey::loadPem(settings.signing_key_file);
  if (!signer) {
    return signer.status();
  }
  if (settings.raw_payloads) {
    auto key = AeadKey::loadFile(settings.key_file);
    if (!key) {
      return key.status();
    }
    impl->sealer = RawSealer(std::move(*key));
  }
  LogWriter::Options wo{impl->opt.clock, impl->opt.env, impl->opt.anchors, impl->sealer.enabled(),
                        impl->sealer.keyId()};
  impl->log = std::make_unique<LogWriter>(settings, impl->inst_dir, std::move(*signer), wo);
  if (Status st = impl->log->open(); !st) {
    return st;
  }
  auto removed = impl->log->retention();
  if (!removed) {
    return removed.status();
  }
  if (!removed->empty() && impl->opt.index != nullptr) {
    impl->opt.index->onSegmentsRemoved(settings.instance, *removed);
  }
  impl->last_retention = std::chrono::steady_clock::now();
  impl->publish();
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Recorder>(new Recorder(std::move(impl)));
}

// Encodes on the caller's thread: the writer only chains and writes.
Result<Pending> Recorder::Impl::encode(Event event, DurableCallback callback) const {
  if (event.time == std::chrono::system_clock::time_point{}) {
    event.time = opt.clock->now();
  }
  auto record = encodeEvent(event, sealer, opt.redactor);
  if (!record) {
    return record.status();
  }
  Pending p;
  p.record = std::move(*record);
  p.callback = std::move(callback);
  if (opt.index != nullptr) {
    stripForIndex(event, opt.redactor);
    p.index_event = std::move(event);
  }
  return p;
}

Result<Recorder::Ticket> Recorder::Impl::enqueue(Event event, DurableCallback callback) {
  auto encoded = encode(std::move(event), std::move(callback));
  if (!encoded) {
    return encoded.status();
  }
  Pending& p = *encoded;
  std::unique_lock lk(mu);
  // While the log is failed nothing drains the queue: a full queue refuses instead of blocking.
  auto has_room = [&] {
    return queue.size() < s.queue_limit &&
           (queued_bytes < s.queue_limit_bytes || queue.empty());
  };
  cv_space.wait(lk, [&] { return has_room() || !failed.isOk() || closing; });
  if (closing) {
    return closedError();
  }
  if (!has_room()) {
    return failed;
  }
  Status now = failed;
  p.ticket = next_ticket++;
  bool was_empty = queue.empty();
  if (was_empty) {
    first_enqueued = std::chrono::steady_clock::now();
  }
  Ticket t = p.ticket;
  DurableCallback failed_callback;
  if (!now.isOk()) {
    failed_callback = std::move(p.callback);  // kept, but not durable now: reported at once
    p.callback = nullptr;
  }
  queued_bytes += p.record.size();
  queue.push_back(std::move(p));
  // The writer waits for a first record (or, gathering, for a full batch): later records need
  // no wake-up, which would cost a context switch per record.
  bool wake = was_empty || queue.size() == kMaxBatchRecords;
  lk.unlock();
  if (wake) {
    cv_writer.notify_one();
  }
  if (failed_callback) {
    failed_callback(now);
  }
  return t;
}

Result<Recorder::Ticket> Recorder::submit(Event event) {
  return impl_->enqueue(std::move(event), nullptr);
}

Status Recorder::waitDurable(Ticket ticket) {
  auto& m = *impl_;
  std::unique_lock lk(m.mu);
  m.cv_done.wait(lk, [&] { return m.durable_upto >= ticket || !m.failed.isOk() || m.stopped; });
  if (m.durable_upto >= ticket) {
    return Status::ok();
  }
  return m.failed.isOk() ? closedError() : m.failed;
}

Status Recorder::append(Event event) {
  auto t = submit(std::move(event));
  if (!t) {
    return t.status();
  }
  return waitDurable(*t);
}

void Recorder::appendAsync(Event event, DurableCallback on_durable) {
  // The callback travels with the queued record; on a failed submit the writer never sees it,
  // so it is called here.
  auto copy = on_durable;
  auto t = impl_->enqueue(std::move(event), std::move(on_durable));
  if (!t && copy) {
    copy(t.status());
  }
}

void Recorder::whenDurable(Ticket ticket, DurableCallback on_durable) {
  auto& m = *impl_;
  Status now;
  {
    std::lock_guard lk(m.mu);
    if (m.durable_upto < ticket && m.failed.isOk() && !m.stopped) {
      m.waiters.push_back(Waiter{ticket, std::move(on_durable)});
      return;
    }
    now = m.durable_upto >= ticket ? Status::ok() : m.failed.isOk() ? closedError() : m.failed;
  }
  on_durable(now);
}

Recorder::Ticket Recorder::durableUpto() const {
  return impl_->durable_upto.load(std::memory_order_acquire);
}

Status Recorder::checkpointNow() {
  auto& m = *impl_;
  std::unique_lock lk(m.mu);
  if (!m.failed.isOk() || m.closing) {
    return m.failed.isOk() ? closedError() : m.failed;
  }
  Pending p;
  p.kind = Pending::Kind::kCheckpoint;
  p.ticket = m.next_ticket++;
  Ticket t = p.ticket;
  if (m.queue.empty()) {
    m.first_enqueued = std::chrono::steady_clock::now();
  }
  m.queue.push_back(std::move(p));
  lk.unlock();
  m.cv_writer.notify_one();
  return waitDurable(t);
}

Result<std::vector<uint64_t>> Recorder::applyRetention() {
  auto& m = *impl_;
  std::unique_lock lk(m.mu);
  if (!m.failed.isOk() || m.closing) {
    return m.failed.isOk() ? closedError() : m.failed;
  }
  uint64_t runs = m.retention_runs;
  m.retention_requested = true;
  m.cv_writer.notify_one();
  m.cv_done.wait(lk, [&] { return m.retention_runs > runs || m.stopped || !m.failed.isOk(); });
  if (m.retention_runs > runs) {
    return m.retention_result;
  }
  return m.failed.isOk() ? closedError() : m.failed;
}

Durability Recorder::durability() const {
  return impl_->s.durability;
}

Status Recorder::health() const {
  std::lock_guard lk(impl_->mu);
  return impl_->failed;
}

bool Recorder::writable() const {
  return impl_->writable.load(std::memory_order_acquire);
}

RecorderStats Recorder::stats() const {
  std::lock_guard lk(impl_->mu);
  RecorderStats out = impl_->stats;
  out.queued = impl_->queue.size();
  return out;
}

const std::string& Recorder::instance() const {
  return impl_->s.instance;
}
const std::string& Recorder::rawKeyId() const {
  return impl_->sealer.keyId();
}

Status Recorder::close() {
  auto& m = *impl_;
  {
    std::lock_guard lk(m.mu);
    if (m.closing && !m.writer.joinable()) {
      return m.failed;
    }
    m.closing = true;
  }
  m.cv_writer.notify_all();
  m.cv_space.notify_all();
  if (m.writer.joinable()) {
    m.writer.join();
  }
  m.cv_done.notify_all();
  std::lock_guard lk(m.mu);
  return m.failed;
}

}  // namespace jg::audit
