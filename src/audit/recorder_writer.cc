// The recorder's writer thread: takes batches off the queue, chains them into frames, writes
// and syncs them, completes tickets, retries a failed log and runs housekeeping (checkpoints,
// rotation, retention) between batches.
#include "audit/recorder_impl.h"

namespace jg::audit {

using namespace recorder_detail;  // NOLINT(google-build-using-namespace)

// Copies the writer's counters into the stats readers see.
void Recorder::Impl::publish() {
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
Status Recorder::Impl::chainBatch(std::deque<Pending>& batch, std::vector<DurableEvent>& durable) {
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

void Recorder::Impl::index(std::vector<DurableEvent>& durable) {
  if (opt.index != nullptr && !durable.empty()) {
    opt.index->onDurable(s.instance, std::move(durable));
  }
  durable.clear();
}

// The log could not be written: stop completing anything until a retry succeeds. Callers
// waiting now, and the callbacks of everything queued, learn it at once; the records stay.
void Recorder::Impl::enterFailed(const Status& st, std::deque<Pending>& batch, Ticket last,
                                 std::vector<DurableEvent>& durable) {
  Status err = Status::error(Code::kUnavailable, "audit log unavailable: " + st.message(), "58030");
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
bool Recorder::Impl::retryFailed() {
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
void Recorder::Impl::completeUpto(Ticket last, std::deque<Pending>& batch) {
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

void Recorder::Impl::runRetention() {
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
void Recorder::Impl::housekeeping() {
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

void Recorder::Impl::writeBatch(std::deque<Pending>& batch) {
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
std::deque<Pending> Recorder::Impl::takeBatch(std::unique_lock<std::mutex>& lk) {
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

void Recorder::Impl::run() {
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
    cv_writer.wait_for(lk, tick, [&] { return !queue.empty() || closing || retention_requested; });
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
void Recorder::Impl::finish() {
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

}  // namespace jg::audit
