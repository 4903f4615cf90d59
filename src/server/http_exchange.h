// One HTTP request in progress on an HttpConnection: what the exchange learned about it so far.
// Internal to the HTTP front end (http_connection.cc, http_exchange.cc, http_relay.cc).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "gate/gate.h"
#include "mask/body.h"
#include "policy/http.h"
#include "proto/http/http.h"
#include "server/http_connection.h"

namespace jg::mcp {
struct Message;
}

namespace jg::server {

struct McpTurn;
struct McpSessionState;
class McpResponseFilter;

inline std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

inline std::string problemType(std::string_view kind) {
  return "https://jitgate.dev/problems/" + std::string(kind);
}

// Runs `fn` on the blocking pool and returns its result on the caller's executor. (GCC 12:
// the task and the result are named, never temporaries of the co_await expression.)
template <class T, class F>
asio::awaitable<T> offThread(asio::thread_pool& pool, F fn) {
  // co_spawn needs a default-constructible result: carry T in an optional.
  auto task = [fn = std::move(fn)]() mutable -> asio::awaitable<std::optional<T>> {
    co_return std::optional<T>(fn());
  };
  std::optional<T> result = co_await asio::co_spawn(pool, std::move(task), asio::use_awaitable);
  co_return std::move(*result);
}

// Verifies a request's bearer token — from the verifier's cache on this thread, else on the
// blocking pool — and sets `who`: "" when it was accepted, else why not, in words a client can
// act on (`where` says where the token belongs).
asio::awaitable<std::string> verifyBearer(SessionServices& services, const Runtime& rt,
                                          const Result<std::optional<std::string>>& token,
                                          std::string_view where, identity::Identity& who);

struct HttpConnection::Exchange {
  explicit Exchange(HttpRequestMsg& r) : req(r) {}

  HttpRequestMsg& req;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t request_id = 0;
  http::Target target;
  const HttpResourceRuntime* res = nullptr;
  std::string resource;  // its name ("" before routing)
  std::string route;     // the path below the resource's mount, starting with '/'
  identity::Identity who;
  std::optional<policy::Binding> binding;
  std::vector<std::string> granted;  // review rules with an active grant
  std::optional<boost::json::value> body_json;
  std::string body_digest;
  std::string approver_text;  // the request as an approver reads it
  gate::Verdict verdict;
  std::string decision = "deny";  // for the record and metrics
  int status = 0;                 // what the client got
  uint64_t masked = 0;
  bool request_recorded = false;
  // MCP requests (mcp_server.cc; http_mcp.cc: of the first request): the JSON-RPC method,
  // tools/call's tool and the request id, for the record.
  std::string rpc_method;
  std::string tool;
  std::string rpc_id;

  // kind: mcp (http_mcp.cc): the MCP session, the requests the response answers, the body
  // sent upstream (the decided messages re-serialized), and the facts of the message decided.
  std::shared_ptr<McpSessionState> mcp_session;
  std::shared_ptr<McpTurn> mcp_turn;
  std::optional<std::string> forward_body;
  std::string rpc_path;
  policy::HttpFacts mcpFacts(const mcp::Message& m);

  policy::HttpFacts facts() const {
    return policy::HttpFacts{.method = sv(req.method_string()),
                             .path = route,
                             .query = target.query,
                             .body = body_json ? &*body_json : nullptr,
                             .body_present = !req.body().empty()};
  }
};

// What relaying one response needs across its steps.
struct HttpConnection::Relay {
  Exchange& x;
  std::unique_ptr<HttpStream> up{};
  bhttp::response_parser<bhttp::buffer_body> parser{};
  std::optional<ResponseRecord> record{};
  std::unique_ptr<mask::BodyMasker> masker{};
  McpResponseFilter* mcp = nullptr;  // the masker, on a kind: mcp resource
  std::optional<http::Inflater> inflater{};
  mask::BodyKind kind = mask::BodyKind::kJson;
  bool unmasked_binary = false;
  bool committed = false;  // the status line is decided (in `head` until it is sent)
  bool chunked = false;
  size_t limit_bytes = 0;  // of the (decoded) upstream body; 0 = none
  size_t upstream_bytes = 0;
  std::string pending{};  // masked bytes not yet sent
  std::string head{};     // the status line and headers, not yet sent: they go with the body
};

}  // namespace jg::server
