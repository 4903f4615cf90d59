#include "audit/recorder.h"

#include "audit/recorder_impl.h"

namespace jg::audit {
namespace recorder_detail {

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

}  // namespace recorder_detail

using namespace recorder_detail;  // NOLINT(google-build-using-namespace)

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
    return queue.size() < s.queue_limit && (queued_bytes < s.queue_limit_bytes || queue.empty());
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
