// Gateway: the process-level owner of listeners, I/O threads, configuration snapshots, TLS
// contexts, the cancel registry and the set of live sessions.
//
// One io_context per I/O thread; accepted sockets are spread round-robin so a session runs on
// one thread for its whole life. SIGHUP reloads the configuration (an invalid file keeps the
// old one, logs why and counts it in jitgate_config_reload_failures_total), SIGTERM/SIGINT stop
// accepting and end every session with 57P01 at its next idle point (idle ones at once); a
// statement in flight may finish within timeouts.shutdown_grace, after which it is cancelled
// upstream and its session ended. run() blocks until shutdown completes.
// While the audit log cannot be written, new connections are refused (FATAL 58030) and
// sessions refuse statements; the gateway resumes by itself once the recorder's retried write
// succeeds. Shutdown closes the recorder, which writes (and anchors) a closing checkpoint.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/admin_request.h"
#include "server/cancel_registry.h"
#include "server/cancel_relay.h"
#include "server/config.h"
#include "server/replica_coordinator.h"
#include "server/services.h"
#include "server/stream.h"
#include "sql/classifier.h"

namespace jg::identity {
class Verifier;
}
namespace jg::mask {
class Engine;
}
namespace jg::creds {
class Issuer;
class TokenIssuer;
}  // namespace jg::creds
namespace jg::access {
class Broker;
class Notifier;
}  // namespace jg::access
namespace jg::store {
class Store;
}
namespace jg::audit {
class Recorder;
class Indexer;
class StoreAnchors;
}  // namespace jg::audit

namespace jg::server {

class Session;
class HttpFrontEnd;

// Everything derived from one configuration snapshot.
struct Runtime {
  ConfigPtr config;
  std::shared_ptr<ssl::context> client_tls;  // null when TLS is not configured
  std::unordered_map<std::string, std::shared_ptr<ssl::context>> upstream_tls;  // by resource
  std::shared_ptr<identity::Verifier> verifier;     // null when OIDC is not configured
  std::shared_ptr<const mask::Engine> mask_engine;  // null when masking is not configured
  std::unordered_map<std::string, std::shared_ptr<class CatalogCache>> catalogs;  // by resource
};

// `previous`: the snapshot a reload replaces; its identity keys carry over (Verifier::adoptKeys).
Result<std::shared_ptr<const Runtime>> makeRuntime(ConfigPtr config,
                                                   const Runtime* previous = nullptr);

class Gateway : public SessionServices {
 public:
  explicit Gateway(std::shared_ptr<const Runtime> runtime);
  ~Gateway() override;

  // Binds the listeners; fails with a clear message if the address is in use.
  Status start();
  // Serves until a shutdown signal; returns the process exit code.
  int run();

  std::shared_ptr<const Runtime> runtime() const override { return std::atomic_load(&runtime_); }
  CancelRegistry& cancels() override { return cancels_; }
  CancelRelay* cancelRelay() override { return cancel_relay_.get(); }
  sql::Classifier& classifier() override { return classifier_; }
  // Mints session roles. One per process (it tracks live roles): created at start() from the
  // initial configuration; credential settings change only on restart.
  const std::shared_ptr<creds::Issuer>& issuer() const override { return issuer_; }
  // Reviews and grants; null when no store is configured.
  const std::shared_ptr<access::Broker>& broker() const override { return broker_; }
  // The audit recorder; null when `audit` is not configured.
  const std::shared_ptr<audit::Recorder>& recorder() const override { return recorder_; }
  // For blocking work (signature checks, key fetches, admin SQL) off the I/O threads.
  asio::thread_pool& blockingPool() override { return blocking_; }
  asio::io_context& nextContext();
  bool listenerIsLoopback() const override { return loopback_; }
  asio::awaitable<Result<UpstreamConnection>> connectUpstream(
      const ResourceConfig& resource, const UpstreamCredentials& creds, const StartupParams& params,
      ssl::context* tls, std::chrono::milliseconds timeout, size_t max_message) override;

  void addSession(const std::shared_ptr<Session>& s);
  void sessionEnded(Session* s) override;
  size_t sessionCount() const;
  // GET /metrics on the admin listener (Prometheus text format).
  std::string metricsText() const;
  // A statement refused because the audit log cannot be written (for /metrics). Thread-safe.
  void countUnrecordedRefusal() override { audit_refused_statements_.fetch_add(1); }
  // Open connections on the HTTP listener (0 when it is off).
  size_t httpConnections() const;

  // -- operations (gateway_ops.cc) ------------------------------------------------------------
  // GET /readyz: 200 when the store answers, the audit log is writable and the signing keys
  // are loaded; 503 naming the failing check otherwise. Blocks on the store: call off the I/O
  // threads (the admin API's pool does).
  AdminResponse readiness() const;
  // GET /api/v1/sessions and DELETE /api/v1/sessions/{id} (approvers, as for revoking grants).
  AdminResponse listSessions(const AdminRequest& req) const;
  AdminResponse endSession(const AdminRequest& req);
  // GET /api/v1/health (approvers and auditors): the configuration's checksum, the store, the
  // recorder's backlog and the latest check of the audit chain. Blocks on the store.
  AdminResponse health(const AdminRequest& req) const;
  // POST /api/v1/audit/verify (auditors): verifies the audit chain now, in the background.
  AdminResponse verifyChain(const AdminRequest& req);

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> signalLoop();
  asio::awaitable<void> rejectBusy(tcp::socket socket);
  asio::awaitable<void> rejectUnrecorded(tcp::socket socket);
  void auditMetrics(std::string& out) const;
  void accessMetrics(std::string& out) const;
  void registerOpsRoutes();
  asio::awaitable<void> shutdown();
  // Waits until no session is left or `deadline` passes, woken by sessionEnded (no polling).
  asio::awaitable<void> waitForSessions(std::chrono::steady_clock::time_point deadline);
  // Ends each session at its next idle point (at once when it is idle now).
  void drainSessions();
  std::vector<std::shared_ptr<Session>> liveSessions() const;
  void endLiveSessions();
  void reload();
  void httpConnectionEnded();

  std::shared_ptr<const Runtime> runtime_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::signal_set> signals_;
  bool loopback_ = false;
  bool stopping_ = false;
  CancelRegistry cancels_;
  std::shared_ptr<creds::Issuer> issuer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<CancelRelay> cancel_relay_;  // follows the store's events; before store_ dies
  std::unique_ptr<ReplicaCoordinator> coordinator_;  // heartbeat and leases; before store_ dies
  std::shared_ptr<access::Notifier> notifier_;
  std::shared_ptr<access::Broker> broker_;
  std::unique_ptr<class AdminApi> admin_;
  std::unique_ptr<HttpFrontEnd> http_;
  std::unique_ptr<audit::Indexer> indexer_;
  std::unique_ptr<audit::StoreAnchors> anchors_;
  std::shared_ptr<audit::Recorder> recorder_;
  std::unique_ptr<class ChainCheck> chain_check_;  // null when recording is off
  // When the running configuration was loaded (µs since the epoch; set at start and reload).
  std::atomic<int64_t> config_loaded_us_{0};
  std::atomic<uint64_t> audit_refused_sessions_{0};
  std::atomic<uint64_t> audit_refused_statements_{0};
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
  std::atomic<uint64_t> upstream_connect_failures_{0};
  std::shared_ptr<creds::TokenIssuer> token_issuer_;
  Status startAccess();
  Status startBroker();
  Status startAdmin();
  Status publishTokenKeys();
  Status startRecorder();
  sql::Classifier classifier_{10000};
  asio::thread_pool blocking_{4};
  mutable std::mutex sessions_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::shared_ptr<asio::steady_timer> drained_;  // while shutting down: cancelled when empty
};

}  // namespace jg::server
