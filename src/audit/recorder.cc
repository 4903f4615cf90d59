#include "audit/recorder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "audit/codec.h"
#include "audit/crypto.h"
#include "core/log.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

constexpr size_t kMaxBatchBytes = 8u << 20;
constexpr size_t kMaxBatchRecords = 16384;
constexpr auto kRetentionEvery = std::chrono::hours(1);

struct Pending {
  enum class Kind { kRecord, kCheckpoint };
  Kind kind = Kind::kRecord;
  Recorder::Ticket ticket = 0;
  std::string record;
  std::optional<Event> index_event;
  Recorder::DurableCallback callback;
};

void stripForIndex(Event& e) {
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
  }
}

struct Waiter {
  Recorder::Ticket ticket;
  Recorder::DurableCallback callback;
};

}  // namespace

class Recorder::Impl {
 public:
  Settings s;
  RecorderOptions opt;
  std::string inst_dir;
  int lock_fd = -1;
  SigningKey signer;
  RawSealer sealer{std::nullopt};

  // Writer-thread state (set up by open() before the thread starts).
  std::unique_ptr<SegmentWriter> seg;
  std::atomic<uint64_t> segment_no{0};
  uint64_t next_seq = 1;
  Hash last_hash{};
  uint64_t since_checkpoint = 0;
  std::chrono::system_clock::time_point last_checkpoint_time;
  std::chrono::steady_clock::time_point last_retention;

  std::mutex retention_mu;
  mutable std::mutex mu;
  std::condition_variable cv_writer;
  std::condition_variable cv_done;
  std::condition_variable cv_space;
  std::deque<Pending> queue;
  std::vector<Waiter> waiters;  // whenDurable() callbacks, called once their ticket is durable
  std::chrono::steady_clock::time_point first_enqueued;
  Ticket next_ticket = 1;
  std::atomic<Ticket> durable_upto{0};
  Status failed;
  bool closing = false;
  bool stopped = false;
  RecorderStats stats;
  std::thread writer;

  Result<Ticket> enqueue(Event event, DurableCallback callback);

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

  Entry chain(std::string record) {
    Entry e;
    e.seq = next_seq++;
    e.hash = chainHash(last_hash, e.seq, record);
    e.record = std::move(record);
    last_hash = e.hash;
    return e;
  }

  Result<Entry> checkpointEntry(std::string_view reason) {
    uint64_t upto = next_seq - 1;
    auto sig = signer.sign(checkpointMessage(s.instance, segment_no, upto, last_hash));
    if (!sig) {
      return sig.status();
    }
    json::object o{{"type", "checkpoint"},
                   {"ts", toMicros(opt.clock->now())},
                   {"reason", reason},
                   {"instance", s.instance},
                   {"segment", segment_no.load()},
                   {"upto_seq", upto},
                   {"upto_hash", hashHex(last_hash)},
                   {"key", signer.id()},
                   {"sig", base64Encode(*sig)}};
    since_checkpoint = 0;
    last_checkpoint_time = opt.clock->now();
    ++stats.checkpoints;
    return chain(json::serialize(o));
  }

  Status writeEntries(const std::vector<Entry>& entries) {
    if (Status st = seg->appendFrame(entries); !st) {
      return st;
    }
    if (s.durability != Durability::kOff) {
      if (Status st = seg->sync(); !st) {
        return st;
      }
    }
    std::lock_guard lk(mu);
    ++stats.frames;
    stats.syncs += s.durability != Durability::kOff;
    stats.bytes = seg->size();
    stats.last_seq = next_seq - 1;
    return Status::ok();
  }

  Status writeCheckpoint(std::string_view reason) {
    auto cp = checkpointEntry(reason);
    if (!cp) {
      return cp.status();
    }
    return writeEntries({std::move(*cp)});
  }

  // Creates segment `number` and writes its segment_start record, whose signed anchor names
  // the last record before it.
  Status startSegment(uint64_t number) {
    std::string path = inst_dir + "/" + segmentFileName(number);
    auto w = SegmentWriter::open(*opt.env, path, 0, s.zstd_level);
    if (!w) {
      return w.status();
    }
    seg = std::move(*w);
    segment_no = number;
    uint64_t prev = next_seq - 1;
    auto sig = signer.sign(checkpointMessage(s.instance, number, prev, last_hash));
    if (!sig) {
      return sig.status();
    }
    json::object o{{"type", "segment_start"},
                   {"ts", toMicros(opt.clock->now())},
                   {"format", kFormatVersion},
                   {"instance", s.instance},
                   {"segment", number},
                   {"raw", sealer.enabled() ? "encrypted" : "off"},
                   {"raw_key", sealer.keyId()},
                   {"key", signer.id()},
                   {"prev_seq", prev},
                   {"prev_hash", hashHex(last_hash)},
                   {"prev_sig", base64Encode(*sig)}};
    since_checkpoint = 0;
    last_checkpoint_time = opt.clock->now();
    {
      std::lock_guard lk(mu);
      stats.segment = number;
    }
    if (Status st = writeEntries({chain(json::serialize(o))}); !st) {
      return st;
    }
    return opt.env->syncDir(inst_dir);
  }

  Status rotate() {
    if (Status st = writeCheckpoint("close"); !st) {
      return st;
    }
    if (Status st = seg->close(); !st) {
      return st;
    }
    if (Status st = startSegment(segment_no + 1); !st) {
      return st;
    }
    retention();
    return Status::ok();
  }

  std::vector<uint64_t> retention() {
    std::lock_guard retention_lock(retention_mu);
    std::vector<uint64_t> removed;
    last_retention = std::chrono::steady_clock::now();
    if (s.retention.count() <= 0) {
      return removed;
    }
    auto cutoff = opt.clock->now() - s.retention;
    for (const auto& f : listSegments(inst_dir)) {
      if (f.number >= segment_no) {
        continue;
      }
      std::error_code ec;
      auto mtime = std::filesystem::last_write_time(f.path, ec);
      if (ec || std::chrono::file_clock::to_sys(mtime) >= cutoff) {
        continue;
      }
      if (std::filesystem::remove(f.path, ec)) {
        removed.push_back(f.number);
      }
    }
    if (!removed.empty()) {
      log::info("", "audit retention removed {} segment(s) of {}", removed.size(), s.instance);
      if (opt.index != nullptr) {
        opt.index->onSegmentsRemoved(s.instance, removed);
      }
    }
    return removed;
  }

  // Writes one batch as one frame (plus count-triggered checkpoints in the same frame).
  Status writeBatch(std::deque<Pending>& batch, std::vector<DurableEvent>& durable) {
    std::vector<Entry> entries;
    entries.reserve(batch.size() + 1);
    for (auto& p : batch) {
      if (p.kind == Pending::Kind::kCheckpoint) {
        auto cp = checkpointEntry("manual");
        if (!cp) {
          return cp.status();
        }
        entries.push_back(std::move(*cp));
        continue;
      }
      entries.push_back(chain(std::move(p.record)));
      ++since_checkpoint;
      if (p.index_event) {
        durable.push_back(DurableEvent{entries.back().seq, segment_no, std::move(*p.index_event)});
      }
      if (since_checkpoint >= s.checkpoint_every) {
        auto cp = checkpointEntry("count");
        if (!cp) {
          return cp.status();
        }
        entries.push_back(std::move(*cp));
      }
    }
    {
      std::lock_guard lk(mu);
      stats.records += batch.size();
    }
    return writeEntries(entries);
  }

  void fail(Status st, std::deque<Pending>& batch) {
    Status err =
        Status::error(Code::kUnavailable, "audit log unavailable: " + st.message(), "58030");
    log::error("", "{}", err.message());
    std::deque<Pending> rest;
    std::vector<Waiter> waiting;
    {
      std::lock_guard lk(mu);
      failed = err;
      rest.swap(queue);
      waiting.swap(waiters);
    }
    cv_done.notify_all();
    cv_space.notify_all();
    for (auto* list : {&batch, &rest}) {
      for (auto& p : *list) {
        if (p.callback) {
          p.callback(err);
        }
      }
    }
    for (auto& w : waiting) {
      w.callback(err);
    }
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

  // Housekeeping between batches: time-based checkpoint, rotation, hourly retention.
  Status housekeeping() {
    if (seg->size() >= s.segment_max_bytes) {
      return rotate();
    }
    if (since_checkpoint > 0 && opt.clock->now() - last_checkpoint_time >= s.checkpoint_interval) {
      if (Status st = writeCheckpoint("interval"); !st) {
        return st;
      }
    }
    if (std::chrono::steady_clock::now() - last_retention >= kRetentionEvery) {
      retention();
    }
    return Status::ok();
  }

  void run() {
    auto tick =
        std::min<std::chrono::milliseconds>(s.checkpoint_interval, std::chrono::milliseconds(1000));
    std::unique_lock lk(mu);
    while (true) {
      cv_writer.wait_for(lk, tick, [&] { return !queue.empty() || closing; });
      if (!failed.isOk()) {
        break;
      }
      if (queue.empty()) {
        if (closing) {
          break;
        }
        lk.unlock();
        Status st = housekeeping();
        std::deque<Pending> none;
        if (!st) {
          fail(st, none);
        }
        lk.lock();
        continue;
      }
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
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      if (!queue.empty()) {
        first_enqueued = std::chrono::steady_clock::now();
      }
      Ticket last = batch.back().ticket;
      lk.unlock();
      cv_space.notify_all();
      std::vector<DurableEvent> durable;
      Status st = writeBatch(batch, durable);
      if (!st) {
        fail(st, batch);
        lk.lock();
        break;
      }
      completeUpto(last, batch);
      if (opt.index != nullptr && !durable.empty()) {
        opt.index->onDurable(s.instance, std::move(durable));
      }
      st = housekeeping();
      if (!st) {
        std::deque<Pending> none;
        fail(st, none);
        lk.lock();
        break;
      }
      lk.lock();
    }
    bool ok = failed.isOk();
    lk.unlock();
    if (ok && seg) {
      Status st = writeCheckpoint("close");
      if (st) {
        st = seg->close();
      }
      if (!st) {
        log::error("", "audit log: closing segment failed: {}", st.message());
      }
    }
    lk.lock();
    stopped = true;
    std::vector<Waiter> left;
    left.swap(waiters);
    lk.unlock();
    for (auto& w : left) {
      w.callback(failed.isOk() ? Status::error(Code::kUnavailable, "audit log closed", "58030")
                               : failed);
    }
  }

  Status recover() {
    auto segs = listSegments(inst_dir);
    if (segs.empty()) {
      return startSegment(1);
    }
    const auto& tail = segs.back();
    auto info = recoverTail(*opt.env, tail.path);
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
      // Crashed right after creating the file: reuse its number.
      std::error_code ec;
      std::filesystem::remove(tail.path, ec);
      if (segs.size() == 1) {
        return startSegment(tail.number);
      }
      auto prev = recoverTail(*opt.env, segs[segs.size() - 2].path);
      if (!prev || !prev->has_entries) {
        return internalError("audit log: cannot find the chain head in " + inst_dir);
      }
      next_seq = prev->last.seq + 1;
      last_hash = prev->last.hash;
      return startSegment(tail.number);
    }
    next_seq = info->last.seq + 1;
    last_hash = info->last.hash;
    segment_no = tail.number;
    if (!info->last_is_close && !info->damaged) {
      auto w = SegmentWriter::open(*opt.env, tail.path, info->good_size, s.zstd_level);
      if (!w) {
        return w.status();
      }
      seg = std::move(*w);
      if (Status st = writeCheckpoint("recovery"); !st) {
        return st;
      }
      (void)seg->close();
    }
    return startSegment(tail.number + 1);
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
  impl->signer = std::move(*signer);
  if (settings.raw_payloads) {
    auto key = AeadKey::loadFile(settings.key_file);
    if (!key) {
      return key.status();
    }
    impl->sealer = RawSealer(std::move(*key));
  }
  if (Status st = impl->recover(); !st) {
    return st;
  }
  impl->retention();
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Recorder>(new Recorder(std::move(impl)));
}

Result<Recorder::Ticket> Recorder::Impl::enqueue(Event event, DurableCallback callback) {
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
    stripForIndex(event);
    p.index_event = std::move(event);
  }
  std::unique_lock lk(mu);
  cv_space.wait(lk, [&] { return queue.size() < s.queue_limit || !failed.isOk() || closing; });
  if (!failed.isOk()) {
    return failed;
  }
  if (closing) {
    return Status::error(Code::kUnavailable, "audit log closed", "58030");
  }
  p.ticket = next_ticket++;
  bool was_empty = queue.empty();
  if (was_empty) {
    first_enqueued = std::chrono::steady_clock::now();
  }
  Ticket t = p.ticket;
  queue.push_back(std::move(p));
  // The writer waits for a first record (or, gathering, for a full batch): later records need
  // no wake-up, which would cost a context switch per record.
  bool wake = was_empty || queue.size() == kMaxBatchRecords;
  lk.unlock();
  if (wake) {
    cv_writer.notify_one();
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
  return m.failed.isOk() ? Status::error(Code::kUnavailable, "audit log closed", "58030")
                         : m.failed;
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
    now = m.durable_upto >= ticket ? Status::ok()
          : m.failed.isOk()        ? Status::error(Code::kUnavailable, "audit log closed", "58030")
                                   : m.failed;
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
    return m.failed.isOk() ? Status::error(Code::kUnavailable, "audit log closed") : m.failed;
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
  return impl_->retention();
}

Durability Recorder::durability() const {
  return impl_->s.durability;
}

Status Recorder::health() const {
  std::lock_guard lk(impl_->mu);
  return impl_->failed;
}

RecorderStats Recorder::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats;
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
