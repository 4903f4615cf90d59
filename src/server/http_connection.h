// HttpConnection: one client connection on the HTTP listener, as one coroutine.
//
// For each request on the (keep-alive) connection: read the header within the first-byte
// timeout, check its framing (no smuggling), read the body within the body limit, then run the
// exchange — route to a resource, verify the caller's token, decide with the gate (allow, hold
// for approval, refuse), record the request, forward it upstream with the resource's credential,
// and relay the response through the body masker while recording it. Every refusal is a status
// with an application/problem+json body and an audit record. Nothing is sent unmasked: a body
// that cannot be masked is a 502 when the response has not started, and an aborted connection
// (no final chunk) when it has.
// Used from its own executor only.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/http.hpp>

#include "gate/gate.h"
#include "gate/verdict.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "proto/http/http.h"
#include "server/http_audit.h"
#include "server/http_front.h"

namespace jg::mask {
class Scanner;
}
namespace jg::mcp {
struct Message;
}

namespace jg::mcp {
struct Message;
}

namespace jg::server {

struct McpRefusal;

namespace bhttp = boost::beast::http;
using HttpRequestMsg = bhttp::request<bhttp::string_body>;

struct McpTool;

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  // `tls`: the server context of the listener, or null for plain HTTP.
  HttpConnection(HttpFrontEnd& front, std::unique_ptr<HttpStream> stream,
                 std::shared_ptr<ssl::context> tls, std::string id, std::string peer);
  ~HttpConnection();

  static asio::awaitable<void> run(std::shared_ptr<HttpConnection> self);
  const std::string& id() const { return id_; }
  enum class HeadRead { kComplete, kClosed, kTimeout, kTooLarge };
  // Ends the connection if it waits for a request (called from any thread).
  void closeIfIdle();

 private:
  struct Exchange;  // one request in progress (http_exchange.cc)

  asio::awaitable<bool> handshake();
  asio::awaitable<HeadRead> readHead(bool first);
  asio::awaitable<std::optional<HttpRequestMsg>> readBody(
      bhttp::request_parser<bhttp::string_body>& parser);
  error_code takeBufferedBody(bhttp::request_parser<bhttp::string_body>& parser);
  asio::awaitable<error_code> awaitBody(bhttp::request_parser<bhttp::string_body>& parser);
  // Answers a request the connection cannot go on after (and counts it by `cause`).
  asio::awaitable<void> refuseRequest(std::string_view cause, const http::Problem& p);
  // Reads one request; false when the connection should end (answered or closed).
  asio::awaitable<std::optional<HttpRequestMsg>> readRequest(bool first);
  asio::awaitable<bool> serve(HttpRequestMsg& req);

  // http_exchange.cc: route, authenticate, decide.
  asio::awaitable<bool> exchange(Exchange& x);
  asio::awaitable<bool> authenticate(Exchange& x);
  asio::awaitable<bool> admit(Exchange& x);
  bool parseBody(Exchange& x);
  asio::awaitable<bool> decide(Exchange& x);
  // The gate's verdict on `request` in x.verdict, reviews settled through the broker.
  asio::awaitable<void> judge(Exchange& x, const gate::HttpRequest& request);
  asio::awaitable<bool> holdForApproval(Exchange& x);
  void refuseHeld(Exchange& x, std::string message);
  void recordRequest(Exchange& x);

  // mcp_server.cc: jitgate's own MCP server on this listener (docs/mcp.md).
  bool isMcpTarget(const Exchange& x) const;
  asio::awaitable<bool> serveMcp(Exchange& x);
  asio::awaitable<bool> mcpAuthenticate(Exchange& x);
  asio::awaitable<bool> mcpPost(Exchange& x);
  // The answer to one JSON-RPC request (a result or an error), as JSON text.
  asio::awaitable<std::string> mcpRequest(Exchange& x, const mcp::Message& m);
  asio::awaitable<std::string> mcpCallTool(Exchange& x, const mcp::Message& m);
  asio::awaitable<std::string> mcpAwaitReview(Exchange& x, const mcp::Message& m);
  asio::awaitable<std::string> mcpCallOperation(Exchange& x, const mcp::Message& m,
                                                const McpTool& tool);
  std::string mcpToolsList(Exchange& x, const mcp::Message& m);
  // Checks Mcp-Session-Id and MCP-Protocol-Version; false with the reply prepared.
  bool mcpCheckSession(Exchange& x);
  void prepareMcpReply(Exchange& x, int status, std::string body,
                       const std::vector<std::pair<std::string, std::string>>& headers = {});
  std::string mcpBaseUrl(const Exchange& x) const;
  // http_mcp.cc: JSON-RPC on a kind: mcp resource.
  enum class McpStep { kAllowed, kRefused, kAnswered };
  asio::awaitable<bool> decideMcp(Exchange& x);
  asio::awaitable<bool> decideMcpMessages(Exchange& x, std::vector<mcp::Message>& messages,
                                          bool batch);
  asio::awaitable<McpStep> decideMcpMessage(Exchange& x, const mcp::Message& m,
                                            McpRefusal& refusal);
  std::optional<McpRefusal> checkMcpCall(Exchange& x, mcp::Message& m);
  void refuseMcp(Exchange& x, const std::vector<mcp::Message>& messages,
                 const std::vector<std::pair<const mcp::Message*, McpRefusal>>& refused,
                 bool batch);
  void prepareRpcReply(Exchange& x, int status, std::string body);

  // http_relay.cc: forward upstream and relay the response.
  struct Relay;  // one response being relayed
  asio::awaitable<bool> forward(Exchange& x);
  asio::awaitable<bool> exchangeUpstream(Exchange& x, bhttp::request<bhttp::string_body>& out);
  // http_relay_body.cc
  asio::awaitable<bool> relayResponse(Relay& r, boost::beast::flat_buffer& upbuf);
  asio::awaitable<bool> relayBody(Relay& r, boost::beast::flat_buffer& upbuf);
  Status prepareMasking(Relay& r, const std::string& content_type);
  asio::awaitable<Status> pushBody(Relay& r, std::string_view raw);
  void commit(Relay& r, bool whole);
  // Sends the head if it is still pending, then `bytes`, in one write.
  asio::awaitable<error_code> send(Relay& r, std::string_view bytes);
  // Records the failure; true when a problem reply was prepared (the response had not started),
  // false when the connection must be cut.
  bool failRelay(Relay& r, std::string_view outcome, const Status& why);
  asio::awaitable<bool> finishRelay(Relay& r);
  Status finishBody(Relay& r);
  void recordEnd(Relay& r);
  // http_mcp.cc
  Status prepareMcpFilter(Relay& r, const std::string& content_type);
  void recordMcpNotes(Relay& r);
  void answerUpstream(Exchange& x, std::string body);

  // Builds (and records) a problem response as the next reply. Coroutines send it with
  // sendReply() in a statement of its own: GCC 12 destroys the temporaries of a co_await
  // expression twice, so nothing non-trivial is built inside one.
  void prepareProblem(Exchange* x, const http::Problem& p, bool keep_alive = true,
                      const std::vector<std::pair<std::string, std::string>>& headers = {});
  void prepareRefusal(Exchange& x, const gate::Verdict& v);
  // Writes the prepared reply; returns whether the connection may go on.
  asio::awaitable<bool> sendReply();
  template <class Msg>
  asio::awaitable<error_code> write(Msg& msg);
  // The audit session of this connection for `resource` (null when nothing is recorded). A
  // connection that moves to another resource or protocol ("http" | "mcp", named in the connect
  // record) starts a new audit session.
  HttpAudit* auditFor(std::string_view resource, std::string_view protocol = "http");
  void endAudit(std::string reason);

  HttpFrontEnd& front_;
  std::unique_ptr<HttpStream> stream_;
  std::shared_ptr<ssl::context> tls_;
  std::string id_;
  std::string peer_;
  std::shared_ptr<const HttpRuntime> rt_;
  std::optional<HttpAudit> audit_;
  boost::beast::flat_buffer buffer_;
  bhttp::response<bhttp::string_body> reply_;
  std::unique_ptr<mask::Scanner> scanner_;     // made on the first masked response
  boost::beast::flat_buffer upstream_buffer_;  // what the upstream sent, for Beast's parser
  std::unique_ptr<char[]> read_chunk_;         // response body pieces, made on first use
  std::atomic<bool> idle_{false};
  uint64_t requests_ = 0;
  std::string auth_token_hash_;  // the token last recorded in an auth record
  std::string audit_resource_;
  int audit_sessions_ = 0;
  uint64_t audit_requests_ = 0;
};

}  // namespace jg::server
