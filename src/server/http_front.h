// HttpFrontEnd: the HTTP listener (`listen.http`) and what every HTTP exchange shares: the
// routing table, the per-resource upstream pools and credentials, the compiled body-masking
// plans, and the HTTP metrics.
//
// An accepted connection runs as one HttpConnection coroutine on one I/O thread
// (http_connection.h). The shared state is derived from the gateway's configuration snapshot
// (HttpRuntime) and rebuilt on reload; an exchange keeps the snapshot it started with. stop()
// closes the listener and ends idle keep-alive connections at once; an exchange in flight finishes
// (the gateway's shutdown grace bounds it) and its connection then closes. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "mask/body.h"
#include "proto/http/http.h"
#include "server/http_upstream.h"
#include "server/mcp_session_id.h"
#include "server/services.h"

namespace jg::creds {
class TokenIssuer;
}

namespace jg::server {

struct Runtime;
struct ResourceConfig;
class HttpConnection;
class McpSessions;

struct HttpResourceRuntime {
  const ResourceConfig* resource = nullptr;  // owned by the Runtime's configuration
  std::shared_ptr<HttpPool> pool;
  std::shared_ptr<UpstreamCredential> credential;
  http::TokenSource token;
  const mask::Profile* profile = nullptr;  // null: no detectors (masking not configured)
  std::vector<mask::JsonPathRule> rules;   // json_paths
  std::vector<std::string> document_paths;
  bool masks() const { return profile != nullptr || !rules.empty(); }
  // kind: mcp — the MCP sessions seen (pins, budgets) and the plan of mcp.mask_arguments (null
  // when none); both null for kind: http.
  std::shared_ptr<McpSessions> mcp_sessions;
  std::shared_ptr<const mask::BodyPlan> argument_plan;
  // The body plan for responses whose rule limits the items of the array at `items_path`
  // ("" = no item limit); compiled on first use and kept. Thread-safe.
  Result<std::shared_ptr<const mask::BodyPlan>> plan(const std::string& items_path) const;

 private:
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const mask::BodyPlan>> plans_;
};

// Everything derived from one configuration snapshot for the HTTP side.
struct HttpRuntime {
  std::shared_ptr<const Runtime> runtime;
  // The masking engine (the runtime's, or one without detectors that only counts items).
  std::shared_ptr<const mask::Engine> engine;
  std::unique_ptr<http::Router> router;
  std::map<std::string, std::shared_ptr<HttpResourceRuntime>, std::less<>> resources;
};

// Builds the HTTP side of a snapshot: routes, pools, credentials, body plans (every JSON path
// compiled, so a mistake is reported at load). `token_issuer` signs jwt credentials; when it is
// null and `require_token_issuer`, a resource with jwt credentials is an error.
Result<std::shared_ptr<const HttpRuntime>> makeHttpRuntime(
    std::shared_ptr<const Runtime> rt, std::shared_ptr<const creds::TokenIssuer> token_issuer,
    bool require_token_issuer = true);

// Counters for /metrics, by resource.
class HttpMetrics {
 public:
  void request(const std::string& resource, std::string_view decision, int status, double seconds,
               uint64_t masked);
  void refused(std::string_view why);  // before routing: limits, framing, no route
  std::string text() const;

 private:
  struct PerResource {
    std::map<std::pair<std::string, int>, uint64_t> by_decision_status;
    std::vector<uint64_t> latency_buckets;  // cumulative counts per kLatencyBuckets bound
    double latency_sum = 0;
    uint64_t latency_count = 0;
    uint64_t masked = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, PerResource> resources_;
  std::map<std::string, uint64_t> refused_;
};

class HttpFrontEnd {
 public:
  // `on_connection_ended` runs after a connection has ended (the gateway's shutdown waits on it).
  HttpFrontEnd(SessionServices& services, std::function<asio::io_context&()> next_context,
               std::shared_ptr<const creds::TokenIssuer> token_issuer,
               std::function<void()> on_connection_ended);
  ~HttpFrontEnd();

  // Builds the HTTP runtime from the current snapshot and binds listen.http.
  Status start(asio::io_context& accept_context);
  // After a configuration reload: later exchanges use the new snapshot.
  Status reload();
  void stop();

  std::shared_ptr<const HttpRuntime> httpRuntime() const { return std::atomic_load(&http_); }
  SessionServices& services() { return services_; }
  HttpMetrics& metrics() { return metrics_; }
  bool stopping() const { return stopping_.load(); }
  size_t connectionCount() const;
  void connectionEnded(HttpConnection* c);
  // In-flight requests across connections, for limits.http.max_concurrent_requests.
  bool tryBeginRequest();
  void endRequest() { in_flight_.fetch_sub(1); }
  // The MCP server's session ids (null when `mcp` is not configured). A random key, drawn when
  // no session_key_file is set, lives as long as the process, across reloads.
  std::shared_ptr<const McpSessionIds> mcpSessionIds() const { return std::atomic_load(&mcp_ids_); }

 private:
  asio::awaitable<void> acceptLoop();
  void refreshMcpSessionIds();

  SessionServices& services_;
  std::function<asio::io_context&()> next_context_;
  std::shared_ptr<const creds::TokenIssuer> token_issuer_;
  std::function<void()> on_connection_ended_;
  std::shared_ptr<const HttpRuntime> http_;
  std::shared_ptr<const McpSessionIds> mcp_ids_;
  std::string mcp_key_;  // the configured key mcp_ids_ was made with ("" = random)
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mu_;
  std::set<std::shared_ptr<HttpConnection>> live_;
  HttpMetrics metrics_;
};

}  // namespace jg::server
