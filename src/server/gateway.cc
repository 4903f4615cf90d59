#include "server/gateway.h"

#include <malloc.h>

#include <csignal>

#include "server/http_front.h"

#include <fmt/format.h>

#include "access/broker.h"
#include "access/notifier.h"
#include "audit/anchor.h"
#include "audit/codec.h"
#include "audit/index.h"
#include "audit/recorder.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "creds/issuer.h"
#include "creds/token_issuer.h"
#include "identity/verifier.h"
#include "mask/engine.h"
#include "net/http.h"
#include "proto/pg/encode.h"
#include "server/admin_api.h"
#include "server/admin_config.h"
#include "server/audit_api.h"
#include "server/catalog.h"
#include "server/chain_check.h"
#include "server/config_lint.h"
#include "server/console_routes.h"
#include "server/server_tls.h"
#include "server/session.h"
#include "store/store.h"

namespace jg::server {

Result<std::shared_ptr<const Runtime>> makeRuntime(ConfigPtr config, const Runtime* previous) {
  auto rt = std::make_shared<Runtime>();
  rt->config = config;
  if (config->tls.enabled()) {
    auto ctx = makeServerTls(config->tls.cert_file, config->tls.key_file);
    if (!ctx) {
      return ctx.status();
    }
    rt->client_tls = std::move(*ctx);
  }
  for (const auto& r : config->resources) {
    if (r.isHttp() || r.upstream.sslmode == SslMode::kDisable) {
      continue;
    }
    auto ctx = makeUpstreamTlsContext(r.upstream);
    if (!ctx) {
      return invalidArgument(fmt::format("resource \"{}\": {}", r.name, ctx.status().message()));
    }
    rt->upstream_tls[r.name] = *ctx;
  }
  if (config->masking) {
    auto engine = mask::Engine::createFromSettings(*config->masking);
    if (!engine) {
      return invalidArgument("masking: " + engine.status().message());
    }
    rt->mask_engine = *engine;
    // Compiling the detectors' patterns takes tens of MB that are freed at once; give them back
    // to the system rather than keeping them in the heap for the life of the process (an idle
    // gateway with masking: 28 MB resident instead of 75).
    malloc_trim(0);
  }
  for (const auto& r : config->resources) {
    if (!r.isHttp() && (rt->mask_engine || !r.documents_table.empty())) {
      rt->catalogs[r.name] = std::make_shared<CatalogCache>(r.upstream);
    }
  }
  if (config->identity) {
    auto verifier = identity::Verifier::create(*config->identity, Clock::system(),
                                               std::make_shared<net::HttpClient>());
    if (!verifier) {
      return invalidArgument(verifier.status().message());
    }
    rt->verifier = std::shared_ptr<identity::Verifier>(std::move(*verifier));
    if (previous && previous->verifier) {
      rt->verifier->adoptKeys(*previous->verifier);
    }
    rt->verifier->startBackgroundRefresh();
  }
  return std::shared_ptr<const Runtime>(std::move(rt));
}

Gateway::Gateway(std::shared_ptr<const Runtime> runtime) : runtime_(std::move(runtime)) {
  config_loaded_us_.store(audit::toMicros(std::chrono::system_clock::now()));
  int n = runtime_->config->threads;
  if (n <= 0) {
    n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  for (int i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

Gateway::~Gateway() {
  blocking_.join();  // pending role releases finish first
  if (issuer_) {
    issuer_->stop();
  }
  // The broker records into the recorder, which indexes and anchors into the store: stop in
  // that order. Sessions may still hold the recorder: close it here, so its closing checkpoint
  // is written and anchored while the index and the anchors are alive.
  admin_.reset();
  chain_check_.reset();  // reads the recorder's instance and the store
  if (broker_) {
    broker_->stop();
  }
  broker_.reset();
  if (recorder_) {
    (void)recorder_->close();
  }
  recorder_.reset();
  anchors_.reset();
  indexer_.reset();
  for (auto& c : contexts_) {
    c->stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

asio::io_context& Gateway::nextContext() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

Status Gateway::start() {
  // TLS writes go through OpenSSL's socket BIO, which uses write(2): a write to a connection the
  // peer has reset raises SIGPIPE, whose default action would end the process. The write's
  // EPIPE ends that one connection instead.
  std::signal(SIGPIPE, SIG_IGN);
  const auto& cfg = *runtime()->config;
  auto& ctx = *contexts_[0];
  error_code ec;
  auto addr = asio::ip::make_address(cfg.listen_postgres.host, ec);
  if (ec) {
    return invalidArgument(
        fmt::format("listen.postgres: invalid address \"{}\"", cfg.listen_postgres.host));
  }
  loopback_ = addr.is_loopback();
  tcp::endpoint ep(addr, cfg.listen_postgres.port);
  acceptor_ = std::make_unique<tcp::acceptor>(ctx);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) {
    acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_->bind(ep, ec);  // now: an address in use is reported before anything starts
  }
  if (ec) {
    return Status::error(Code::kUnavailable, fmt::format("cannot listen on {}: {}",
                                                         cfg.listen_postgres.str(), ec.message()));
  }
  auto issuer = creds::Issuer::create(cfg.creds, cfg.instance, Clock::system());
  if (!issuer) {
    return issuer.status();
  }
  issuer_ = std::move(*issuer);
  if (auto st = startAccess(); !st) {
    return st;
  }
  if (coordinator_) {
    issuer_->setDeadInstances([c = coordinator_.get()] { return c->deadInstances(); });
  }
  issuer_->startReaper(std::chrono::duration_cast<std::chrono::seconds>(cfg.replicas.reap_every));
  http_ = std::make_unique<HttpFrontEnd>(
      *this, [this]() -> asio::io_context& { return nextContext(); }, token_issuer_,
      [this] { httpConnectionEnded(); });
  if (auto st = http_->start(ctx); !st) {
    return st;
  }
  // Clients can connect only once the store is open and the audit log is recovered.
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error(Code::kUnavailable, fmt::format("cannot listen on {}: {}",
                                                         cfg.listen_postgres.str(), ec.message()));
  }
  signals_ = std::make_unique<asio::signal_set>(ctx, SIGINT, SIGTERM, SIGHUP);
  asio::co_spawn(ctx, acceptLoop(), asio::detached);
  asio::co_spawn(ctx, signalLoop(), asio::detached);
  log::info("",
            "jitgate {} listening for PostgreSQL clients on {} ({} I/O threads, {} "
            "resources)",
            JITGATE_VERSION, cfg.listen_postgres.str(), contexts_.size(), cfg.resources.size());
  return Status::ok();
}

int Gateway::run() {
  for (size_t i = 1; i < contexts_.size(); ++i) {
    threads_.emplace_back([c = contexts_[i].get()] { c->run(); });
  }
  contexts_[0]->run();
  for (auto& c : contexts_) {
    c->stop();
  }
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
  log::info("", "jitgate stopped");
  return 0;
}

asio::awaitable<void> Gateway::acceptLoop() {
  for (;;) {
    auto& ctx = nextContext();
    auto [ec, socket] = co_await acceptor_->async_accept(ctx, kNoThrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) {
        co_return;
      }
      log::warn("", "accept failed: {}", ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (sessionCount() >= runtime()->config->limits.max_sessions) {
      asio::co_spawn(ctx, rejectBusy(std::move(socket)), asio::detached);
      continue;
    }
    if (recorder_ && !recorder_->writable()) {
      asio::co_spawn(ctx, rejectUnrecorded(std::move(socket)), asio::detached);
      continue;
    }
    auto executor = socket.get_executor();
    auto session =
        std::make_shared<Session>(*this, std::make_unique<Stream>(std::move(socket)), executor);
    addSession(session);
    asio::co_spawn(ctx, Session::run(session), [id = session->id()](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error(id, "session failed: {}", ex.what());
        }
      }
    });
  }
}

asio::awaitable<void> Gateway::rejectBusy(tcp::socket socket) {
  log::warn("", "refusing a connection: limits.max_sessions ({}) reached",
            runtime()->config->limits.max_sessions);
  std::string out;
  pg::encodeError(out, "FATAL", "53300", "sorry, too many clients already connected to jitgate");
  co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
  error_code ec;
  socket.close(ec);
}

// A session that could not be recorded is not admitted: FATAL 58030 before the startup packet,
// as for max_sessions (libpq reads an ErrorResponse in place of the answer to SSLRequest too).
asio::awaitable<void> Gateway::rejectUnrecorded(tcp::socket socket) {
  audit_refused_sessions_.fetch_add(1);
  log::warn("", "refusing a connection: the audit log cannot be written ({})",
            recorder_->health().message());
  std::string out;  // the cause stays in the log: the client is not authenticated yet
  pg::encodeError(out, "FATAL", "58030",
                  "the audit log cannot be written, so jitgate refuses new sessions until it "
                  "recovers");
  co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
  // Read what the client already sent (its startup packet): closing with unread bytes would
  // reset the connection, and the client could lose the error.
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.non_blocking(true, ec);
  char drain[4096];
  while (!ec) {
    socket.read_some(asio::buffer(drain), ec);
  }
  socket.close(ec);
}

asio::awaitable<void> Gateway::signalLoop() {
  for (;;) {
    auto [ec, sig] = co_await signals_->async_wait(kNoThrow);
    if (ec) {
      co_return;
    }
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    log::info("", "received {}: no longer accepting connections; {} sessions open",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", sessionCount());
    co_await shutdown();
    co_return;
  }
}

asio::awaitable<void> Gateway::shutdown() {
  stopping_ = true;
  error_code ec;
  acceptor_->close(ec);
  if (http_) {
    http_->stop();  // idle keep-alive connections close now, busy ones after their exchange
  }
  drainSessions();
  co_await waitForSessions(std::chrono::steady_clock::now() +
                           runtime()->config->timeouts.shutdown_grace);
  if (sessionCount() > 0) {
    endLiveSessions();
    co_await waitForSessions(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
  signals_->cancel(ec);
  if (admin_) {
    admin_->stop();
  }
  if (broker_) {
    broker_->stop();
  }
  if (notifier_) {
    notifier_->stop();
  }
  for (auto& g : guards_) {
    g.reset();
  }
  for (auto& c : contexts_) {
    c->stop();
  }
}

void Gateway::reload() {
  const auto current = runtime();
  const std::string file = current->config->file;
  auto cfg = loadConfig(file);
  if (!cfg) {
    reload_failures_.fetch_add(1);
    log::error("", "configuration reload failed; keeping the current configuration:\n{}",
               cfg.status().message());
    return;
  }
  auto rt = makeRuntime(*cfg, current.get());
  if (!rt) {
    reload_failures_.fetch_add(1);
    log::error("", "configuration reload failed; keeping the current configuration: {}",
               rt.status().message());
    return;
  }
  reloads_.fetch_add(1);
  const auto restart = restartOnlyChanges(*current->config, **cfg);
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) {
      keys += (keys.empty() ? "" : ", ") + k;
    }
    countRestartOnlyChanges(restart.size());
    log::warn("",
              "configuration reload: {} changed but take effect only on restart; the running "
              "values stay in force until then",
              keys);
  }
  for (const auto& w : configWarnings(**cfg)) {
    log::warn("", "configuration: {}", w);
  }
  std::atomic_store(&runtime_, *rt);
  config_loaded_us_.store(audit::toMicros(std::chrono::system_clock::now()));
  if (http_) {
    if (Status st = http_->reload(); !st) {
      log::error("", "HTTP resources keep their previous configuration: {}", st.message());
    }
  }
  log::info("", "configuration reloaded from {} ({} resources)", file, (*cfg)->resources.size());
}

asio::awaitable<Result<UpstreamConnection>> Gateway::connectUpstream(
    const ResourceConfig& resource, const UpstreamCredentials& creds, const StartupParams& params,
    ssl::context* tls, std::chrono::milliseconds timeout, size_t max_message) {
  const auto began = std::chrono::steady_clock::now();
  Result<UpstreamConnection> conn =
      co_await server::connectUpstream(resource, creds, params, tls, timeout, max_message);
  metrics::upstreamConnectSeconds().observe(std::chrono::steady_clock::now() - began);
  metrics::upstreamConnects().add({resource.name, conn ? "ok" : "error"});
  if (!conn) {
    upstream_connect_failures_.fetch_add(1);
  }
  co_return std::move(conn);
}

void Gateway::addSession(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(sessions_mu_);
  sessions_[s.get()] = s;
}

asio::awaitable<void> Gateway::waitForSessions(std::chrono::steady_clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  {
    std::lock_guard lock(sessions_mu_);
    if (sessions_.empty() && httpConnections() == 0) {
      co_return;
    }
    drained_ = std::make_shared<asio::steady_timer>(ex, deadline);
  }
  co_await drained_->async_wait(kNoThrow);  // deadline, or cancelled by the last sessionEnded
  std::lock_guard lock(sessions_mu_);
  drained_.reset();
}

std::vector<std::shared_ptr<Session>> Gateway::liveSessions() const {
  std::vector<std::shared_ptr<Session>> live;
  std::lock_guard lock(sessions_mu_);
  for (const auto& [p, w] : sessions_) {
    if (auto s = w.lock()) {
      live.push_back(std::move(s));
    }
  }
  return live;
}

void Gateway::drainSessions() {
  auto live = liveSessions();
  log::info("",
            "shutting down: ending {} sessions with 57P01 at their next idle point; statements "
            "in flight may finish within {} ms",
            live.size(), runtime()->config->timeouts.shutdown_grace.count());
  for (auto& s : live) {
    s->drain();
  }
}

void Gateway::endLiveSessions() {
  auto live = liveSessions();
  log::info("", "shutdown grace period over: ending {} sessions", live.size());
  for (auto& s : live) {
    s->terminate("57P01", "terminating connection due to administrator command");
  }
}

size_t Gateway::httpConnections() const {
  return http_ ? http_->connectionCount() : 0;
}

void Gateway::httpConnectionEnded() {
  std::lock_guard lock(sessions_mu_);
  if (sessions_.empty() && httpConnections() == 0 && drained_) {
    asio::post(drained_->get_executor(), [timer = drained_] { timer->cancel(); });
  }
}

void Gateway::sessionEnded(Session* s) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(s);
  if (sessions_.empty() && httpConnections() == 0 && drained_) {
    asio::post(drained_->get_executor(), [timer = drained_] { timer->cancel(); });
  }
}

size_t Gateway::sessionCount() const {
  std::lock_guard lock(sessions_mu_);
  return sessions_.size();
}

}  // namespace jg::server
