// The MCP proxy's understanding of JSON-RPC traffic between a client and an upstream MCP server
// (a `kind: mcp` resource): per-session state (tool pins, budgets), the checks of a client's
// tools/call, and the filter every upstream response body goes through.
//
// Sans-I/O: the HTTP front end (http_mcp.cc, http_relay_body.cc) owns the sockets, decides with
// the gate and records; this file only looks at messages. McpSessions is thread-safe (one per
// resource runtime, shared by every connection); an McpSessionState is locked by its `mu` while
// used. McpResponseFilter is a mask::BodyMasker for one response, not thread-safe. Pins and
// budgets live in this replica's memory (docs/mcp.md, "The MCP proxy").
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mask/body.h"
#include "proto/mcp/jsonrpc.h"
#include "proto/mcp/sse.h"
#include "proto/mcp/tools.h"
#include "server/http_config.h"

namespace jg::server {

// What the gateway knows of one MCP session (keyed by the upstream's Mcp-Session-Id).
struct McpSessionState {
  std::mutex mu;
  mcp::ToolPins pins;
  std::map<std::string, boost::json::value, std::less<>> schemas;  // inputSchema by tool
  uint64_t calls = 0;         // tools/call requests sent upstream
  uint64_t result_bytes = 0;  // bytes of tools/call results received
  // The notification rate, across the session's streams (a resumed stream shares it): a token
  // bucket, unset (< 0) until the first notification.
  double notify_tokens = -1;
  std::chrono::steady_clock::time_point notify_last{};
};

// The sessions of one resource. Bounded: when max_sessions are known, a new one is refused
// (null) until a client ends one (DELETE). Thread-safe.
class McpSessions {
 public:
  explicit McpSessions(size_t max_sessions) : max_(max_sessions) {}
  // The session's state, made on first use; null when the bound is reached. An empty id (no
  // session: a stateless server) gets a state of its own that is not kept.
  std::shared_ptr<McpSessionState> get(std::string_view id);
  void end(std::string_view id);

 private:
  std::mutex mu_;
  size_t max_;
  std::map<std::string, std::shared_ptr<McpSessionState>, std::less<>> sessions_;
};

// The requests of one client POST the response is expected to answer, by JSON-RPC id.
struct McpTurn {
  struct Pending {
    std::string method{};
    std::string tool{};
  };
  std::map<std::string, Pending> pending{};  // by the id's JSON text
};

// The JSON text of a JSON-RPC id, the key of McpTurn::pending.
std::string rpcIdKey(const boost::json::value& id);

// A JSON-RPC error to answer a client's message with.
struct McpRefusal {
  int code = mcp::kDenied;
  std::string message{};
};

// Checks a client's tools/call against the session: the tool must be pinned and unchanged (when
// pin_tools), its arguments valid against the pinned inputSchema, and the call budget not
// spent. Counts the call when it passes. REQUIRES: `s.mu` held by the caller.
std::optional<McpRefusal> checkToolCall(McpSessionState& s, const McpProxyConfig& config,
                                        const mcp::Message& call);

// Masks the values at `plan`'s JSON paths in a JSON value (tool arguments, structured content).
[[nodiscard]] Status maskJsonValue(const mask::BodyPlan& plan, mask::Scanner& scanner,
                                   boost::json::value& v, mask::Counters& counters);

// Something the filter did that the audit log must show.
struct McpNote {
  std::string kind{};  // tools-filtered, tool-changed, budget-exceeded, server-request-refused,
                       // notification-flood
  std::string method{}, tool{}, detail{};
  boost::json::value id{};
};

struct McpFilterOptions {
  const McpProxyConfig* config = nullptr;
  std::shared_ptr<McpSessionState> session{};
  std::shared_ptr<const McpTurn> turn{};  // null for the GET stream
  // Whether tools/list may offer the tool to this caller (policy).
  std::function<bool(std::string_view tool)> offered{};
  // Why a server-initiated request (sampling/createMessage, ...) is refused; "" to deliver it.
  std::function<std::string(std::string_view method)> refusal{};
  const mask::BodyPlan* plan = nullptr;  // tool-result masking; null = none
  mask::Scanner* scanner = nullptr;
  std::function<std::chrono::steady_clock::time_point()> now{};
  mask::BodyKind kind = mask::BodyKind::kJson;  // kJson or kSse
  size_t max_body_bytes = 16u << 20;            // of a JSON body / one event
};

// Every upstream message of one response body (application/json or text/event-stream) is
// parsed, judged and re-serialized: tools/list results filtered by policy and pinned (a changed
// definition replaces the result with a kToolChanged error), tools/call results masked and
// counted against the result budget (over it: kBudgetExceeded instead of the result),
// server-initiated requests refused by policy dropped (the answer for the upstream is in
// upstreamReplies()), and notifications counted: beyond max_notifications_per_second sustained,
// an error notification ends the stream and the next write fails. A message that is not
// JSON-RPC fails the body (fail closed).
class McpResponseFilter : public mask::BodyMasker {
 public:
  explicit McpResponseFilter(McpFilterOptions options);
  [[nodiscard]] Status write(std::string_view chunk, std::string& out) override;
  [[nodiscard]] Status finish(std::string& out) override;

  std::vector<McpNote> takeNotes() { return std::exchange(notes_, {}); }
  // JSON-RPC error responses the upstream is owed for the requests refused (to POST upstream).
  std::vector<std::string> takeUpstreamReplies() { return std::exchange(upstream_replies_, {}); }

 private:
  // One message: nullopt drops it; an error fails the body.
  Result<std::optional<boost::json::value>> onMessage(boost::json::value v);
  Result<std::optional<boost::json::value>> onBody(boost::json::value v);
  boost::json::value onToolsList(const mcp::Message& m, boost::json::value v);
  Result<boost::json::value> onToolResult(const mcp::Message& m, const McpTurn::Pending& p,
                                          boost::json::value v);
  bool admitNotification();
  Status writeEvents(std::string_view chunk, std::string& out);

  McpFilterOptions o_;
  std::string body_;  // kJson: the whole body
  mcp::SseReader sse_;
  std::vector<McpNote> notes_;
  std::vector<std::string> upstream_replies_;
  bool flooded_ = false;
};

}  // namespace jg::server
