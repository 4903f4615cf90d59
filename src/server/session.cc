// The lifecycle of a Session: construction, the session coroutine, termination, and the end.
#include "server/session.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>

#include "core/log.h"
#include "core/log_fields.h"
#include "core/metrics.h"
#include "core/random.h"
#include "proto/pg/encode.h"
#include "server/gateway.h"

namespace jg::server {

using namespace boost::asio::experimental::awaitable_operators;

std::string sqlstateFor(const Status& s) {
  if (!s.sqlstate().empty()) {
    return s.sqlstate();
  }
  switch (s.code()) {
    case Code::kProtocol:
      return "08P01";
    case Code::kPermissionDenied:
      return "28000";
    case Code::kUnavailable:
      return "08006";
    case Code::kResourceExhausted:
      return "53300";
    case Code::kInvalidArgument:
      return "08P01";
    default:
      return "XX000";
  }
}

Session::Session(SessionServices& services, std::unique_ptr<ByteStream> client,
                 asio::any_io_executor executor)
    : services_(services),
      ex_(std::move(executor)),
      rt_(services.runtime()),
      id_("s-" + randomId(10)),
      client_(std::move(client)) {
  client_addr_ = client_->peer();
  touch();
  const auto& limits = rt_->config->limits;
  pg::TrackerLimits tracker_limits;
  tracker_limits.max_statements = limits.max_prepared_statements;
  tracker_limits.max_portals = limits.max_portals;
  tracker_ = pg::Tracker(tracker_limits);
}

Session::Session(SessionServices& services, std::unique_ptr<ByteStream> client,
                 asio::any_io_executor executor, InProcessCaller caller)
    : Session(services, std::move(client), std::move(executor)) {
  client_addr_ = caller.client_addr;
  in_process_ = std::move(caller);
}

Session::~Session() = default;

Session::Summary Session::summary() const {
  std::lock_guard lock(summary_mu_);
  Summary s = summary_;
  s.statements = statements_decided_.load(std::memory_order_relaxed);
  return s;
}

void Session::publishSummary(std::string_view state) {
  Summary s{
      .id = id_,
      .resource = resource_,
      .user = identity_.subject.empty() ? std::string() : identity_.display(),
      .db_user = user_,
      .client_addr = client_addr_,
      .auth_method = auth_method_,
      .state = std::string(state),
      .started = started_,
  };
  std::lock_guard lock(summary_mu_);
  summary_ = std::move(s);
}

void Session::countMasked() {
  if (!masker_) {
    return;
  }
  for (const auto& [label, n] : masker_->counters().by_label) {
    uint64_t& counted = masked_counted_[label];
    if (n > counted) {
      metrics::maskedValues().add({label}, n - counted);
      counted = n;
    }
  }
}

void Session::terminate(std::string sqlstate, std::string message) {
  auto self = shared_from_this();
  asio::post(ex_, [self, sqlstate = std::move(sqlstate), message = std::move(message)]() mutable {
    if (!self->fatal_) {
      self->fatal_ = Fatal{std::move(sqlstate), std::move(message)};
    }
    // Unblock both pumps; the session writes the FATAL once they have stopped.
    if (self->upstream_) {
      self->upstream_->cancel();
    }
    self->client_->cancel();
  });
}

void Session::drain() {
  auto self = shared_from_this();
  asio::post(ex_, [self] {
    self->draining_ = true;
    if (self->relaying_ && self->endIfDrained()) {
      // Idle: both pumps wait for bytes; waking them ends the session with fatal_.
      if (self->upstream_) {
        self->upstream_->cancel();
      }
      self->client_->cancel();
    }
  });
}

bool Session::endIfDrained() {
  if (!draining_ || tracker_.busy()) {
    return false;
  }
  if (!fatal_) {
    fatal_ = Fatal{"57P01", "terminating connection due to administrator command"};
  }
  return true;
}

asio::awaitable<void> Session::cancelInFlight() {
  auto target = services_.cancels().lookup(client_key_.process_id, client_key_.secret_key);
  if (!target) {
    co_return;
  }
  log::info(id_, "cancelling the statement still running upstream");
  const CancelTarget& t = *target;
  asio::steady_timer timer(ex_, std::chrono::seconds(2));
  co_await (sendCancel(t) || timer.async_wait(kNoThrow));
}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  co_await self->runImpl();
}

asio::awaitable<void> Session::runImpl() {
  if (services_.recorder()) {
    audit_ = std::make_unique<SessionAudit>(services_.recorder(), id_, ex_);
  }
  log::info(id_, "connection from {}", client_addr_);
  publishSummary("startup");
  Status end = co_await serve();
  if (fatal_ && upstream_ && tracker_.busy()) {
    co_await cancelInFlight();
  }
  if (client_key_.process_id != 0) {
    services_.cancels().remove(client_key_.process_id);
  }
  if (upstream_) {
    upstream_->close();
  }
  client_->close();
  if (lease_) {
    asio::post(services_.blockingPool(), [issuer = services_.issuer(), lease = std::move(*lease_)] {
      issuer->release(lease);
    });
    lease_.reset();
  }
  if (audit_ && !cancel_only_) {
    audit_->sessionEnd(end.isOk() ? "client-closed" : end.message());
  }
  logEnd(end);
  services_.sessionEnded(this);
}

void Session::logEnd(const Status& end) {
  countMasked();
  const std::string user = identity_.subject.empty() ? std::string() : identity_.display();
  if (!end.isOk()) {
    const std::string sqlstate = sqlstateFor(end);
    log::infoWith(id_, {{"user", user}, {"resource", resource_}, {"sqlstate", sqlstate}},
                  "session ended: {} ({})", end.message(), sqlstate);
    return;
  }
  std::string masked;
  if (masker_) {
    for (const auto& [label, n] : masker_->counters().by_label) {
      masked += fmt::format("{}{}={}", masked.empty() ? "" : ",", label, n);
    }
  }
  const std::string from_client = std::to_string(bytes_from_client_);
  const std::string from_server = std::to_string(bytes_from_server_);
  const std::string refused = std::to_string(statements_refused_);
  log::infoWith(id_,
                {{"user", user},
                 {"resource", resource_},
                 {"bytes_from_client", from_client},
                 {"bytes_from_server", from_server},
                 {"statements_refused", refused},
                 {"masked", masked}},
                "session ended: bytes from client {} from server {} messages from server {}"
                " statements refused {} masked cells [{}]",
                bytes_from_client_, bytes_from_server_, messages_from_server_, statements_refused_,
                masked);
}

asio::awaitable<void> Session::sendError(std::string_view severity, const Status& status) {
  std::string out;
  pg::encodeError(out, severity, sqlstateFor(status), status.message());
  co_await client_->writeAll(out);  // the pumps have stopped: nobody else writes
}

// Ends when the startup deadline passes. The deadline moves while a session review is held
// (waitSessionDecision): that wait is governed by access.wait_timeout, not timeouts.startup.
asio::awaitable<void> Session::startupDeadline() {
  asio::steady_timer timer(ex_);
  startup_timer_ = &timer;
  while (std::chrono::steady_clock::now() < startup_deadline_) {
    timer.expires_at(startup_deadline_);
    co_await timer.async_wait(kNoThrow);
  }
  startup_timer_ = nullptr;
}

void Session::moveStartupDeadline(std::chrono::steady_clock::time_point at) {
  startup_deadline_ = at;
  if (startup_timer_ != nullptr) {
    startup_timer_->cancel();  // the deadline loop wakes and waits for the new one
  }
}

asio::awaitable<Status> Session::serve() {
  const auto& cfg = *rt_->config;
  startup_deadline_ = std::chrono::steady_clock::now() + cfg.timeouts.startup;
  auto started = co_await (startup() || startupDeadline());
  if (started.index() == 1) {
    Status s = Status::error(
        Code::kUnavailable,
        fmt::format("startup did not complete within {} ms", cfg.timeouts.startup.count()),
        "08006");
    co_await sendError("FATAL", s);
    co_return s;
  }
  Status st = std::get<0>(started);
  if (!st) {
    co_await sendError("FATAL", st);
    co_return st;
  }
  if (cancel_only_) {
    co_return Status::ok();
  }
  relaying_ = true;
  if (!endIfDrained()) {  // shut down during startup: ends at its first idle point, now
    st = co_await relay();
  }
  if (fatal_) {
    Status f = Status::error(Code::kUnavailable, fatal_->message, fatal_->sqlstate);
    co_await sendError("FATAL", f);
    co_return f;
  }
  if (!st && !client_terminated_) {
    co_await sendError("FATAL", st);
  }
  co_return st;
}

}  // namespace jg::server
