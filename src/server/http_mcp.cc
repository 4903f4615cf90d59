// The MCP proxy on the HTTP exchange (a `kind: mcp` resource): a client's POST is parsed as
// JSON-RPC and each message decided by the gate as MCP facts (method, tool, arguments); a
// tools/call is checked against the session's pins, the tool's input schema and the call budget,
// and its arguments masked where configured. A refusal is a JSON-RPC error (HTTP 200, as MCP
// clients surface those); malformed JSON-RPC is a JSON-RPC error with HTTP 400. The upstream's
// answer goes through McpResponseFilter (mcp_filter.h), set up here for the relay.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "audit/event.h"
#include "core/log.h"
#include "mask/scanner.h"
#include "policy/rule.h"
#include "server/gateway.h"
#include "server/http_exchange.h"
#include "server/mcp_filter.h"

namespace jg::server {

namespace json = boost::json;

namespace {

constexpr size_t kApproverArgumentBytes = 4096;
// Clients that send no MCP-Protocol-Version header speak this one (the transport's rule).
constexpr std::string_view kDefaultVersion = "2025-03-26";

std::string verdictMessage(const gate::Verdict& v) {
  std::string m = v.message.empty() ? v.decision.message() : v.message;
  if (!v.detail.empty() && v.outcome != gate::Outcome::kReview) {
    m += fmt::format(" ({})", v.detail);
  }
  return m;
}

// The JSON-RPC error for a refused verdict: review (with how to get it approved) or deny.
McpRefusal refusalOf(const gate::Verdict& v) {
  if (v.outcome == gate::Outcome::kReview || !v.review_id.empty()) {
    return McpRefusal{.code = mcp::kReviewRequired,
                      .message = fmt::format("{}; review {} was created: once a data owner "
                                             "approves it, send the same call again ({})",
                                             verdictMessage(v), v.review_id, v.approval_hint)};
  }
  return McpRefusal{.code = mcp::kDenied, .message = verdictMessage(v)};
}

// A JSON-RPC id as the log shows it: a string verbatim, a number in decimal.
std::string idText(const json::value& id) {
  return id.is_string() ? std::string(id.get_string())
         : id.is_null() ? std::string()
                        : json::serialize(id);
}

}  // namespace

policy::HttpFacts HttpConnection::Exchange::mcpFacts(const mcp::Message& m) {
  rpc_path = "/" + m.method;
  if (m.method == "tools/call") {
    rpc_path += "/" + std::string(m.tool());
  }
  return policy::HttpFacts{.method = "MCP",
                           .path = rpc_path,
                           .body = m.arguments(),
                           .body_present = m.arguments() != nullptr,
                           .mcp = true,
                           .rpc_method = m.method,
                           .tool = m.tool()};
}

// Decides one client request or notification; kAnswered when the reply was already sent (a
// held request that was not approved).
asio::awaitable<HttpConnection::McpStep> HttpConnection::decideMcpMessage(Exchange& x,
                                                                          const mcp::Message& m,
                                                                          McpRefusal& refusal) {
  policy::HttpFacts facts = x.mcpFacts(m);
  std::string args = m.arguments() ? json::serialize(*m.arguments()) : std::string();
  std::string digest =
      args.empty() ? std::string() : audit::sha256Hex(mcp::canonicalJson(*m.arguments()));
  std::string text = fmt::format("MCP {} on {}", x.rpc_path.substr(1), x.resource);
  if (!args.empty()) {
    text += "\narguments: " + args.substr(0, kApproverArgumentBytes);
  }
  gate::HttpRequest request{.facts = facts, .text = text, .body_digest = digest};
  co_await judge(x, request);
  if (x.verdict.allowed()) {
    co_return McpStep::kAllowed;
  }
  if (x.verdict.outcome == gate::Outcome::kReview && x.verdict.hold && front_.services().broker()) {
    bool approved = co_await holdForApproval(x);
    co_return approved ? McpStep::kAllowed : McpStep::kAnswered;
  }
  refusal = refusalOf(x.verdict);
  co_return McpStep::kRefused;
}

// A client's tools/call, once policy allowed it: pins, schema, budget, then argument masking.
std::optional<McpRefusal> HttpConnection::checkMcpCall(Exchange& x, mcp::Message& m) {
  const auto& cfg = *x.res->resource->http->mcp;
  {
    std::lock_guard lock(x.mcp_session->mu);
    if (auto refused = checkToolCall(*x.mcp_session, cfg, m)) {
      return refused;
    }
  }
  auto* args = m.params.is_object() ? m.params.get_object().if_contains("arguments") : nullptr;
  if (args == nullptr || !x.res->argument_plan) {
    return std::nullopt;
  }
  if (!scanner_) {
    scanner_ = std::make_unique<mask::Scanner>(rt_->engine);
  }
  mask::Counters counters;
  if (Status st = maskJsonValue(*x.res->argument_plan, *scanner_, *args, counters); !st) {
    return McpRefusal{.code = mcp::kInternalError,
                      .message = "the tool arguments could not be masked: " + st.message()};
  }
  return std::nullopt;
}

// A POST of JSON-RPC: every message decided; any refusal answers the whole body with JSON-RPC
// errors and nothing reaches the upstream. GET (the server's stream) and DELETE (the end of the
// session) pass once the caller is admitted; their messages are judged by the response filter.
asio::awaitable<bool> HttpConnection::decideMcp(Exchange& x) {
  std::string session_id(sv(x.req["mcp-session-id"]));
  if (x.req.method() == bhttp::verb::delete_) {
    x.res->mcp_sessions->end(session_id);
    x.mcp_session = std::make_shared<McpSessionState>();  // what is left of it: nothing
    x.decision = "allow";
    co_return true;
  }
  x.mcp_session = x.res->mcp_sessions->get(session_id);
  if (!x.mcp_session) {
    recordRequest(x);
    prepareRpcReply(x, 503,
                    mcp::errorText(nullptr, mcp::kUpstreamError,
                                   "the gateway holds as many MCP sessions as it may; "
                                   "retry later"));
    co_await sendReply();
    co_return false;
  }
  if (x.req.method() != bhttp::verb::post) {
    x.decision = "allow";
    co_return true;
  }
  std::string version(sv(x.req["mcp-protocol-version"]));
  auto parsed = mcp::parseBody(
      x.req.body(), mcp::versionAllowsBatch(version.empty() ? kDefaultVersion : version));
  if (auto* bad = std::get_if<mcp::RpcError>(&parsed)) {
    x.verdict = gate::Verdict::refuse(gate::Refusal::kInvalidRequest, "mcp-json-rpc", bad->message);
    recordRequest(x);
    prepareRpcReply(x, 400, mcp::errorText(bad->id, bad->code, bad->message));
    co_await sendReply();
    co_return false;
  }
  auto& body = std::get<mcp::Parsed>(parsed);
  co_return co_await decideMcpMessages(x, body.messages, body.batch);
}

asio::awaitable<bool> HttpConnection::decideMcpMessages(Exchange& x,
                                                        std::vector<mcp::Message>& messages,
                                                        bool batch) {
  x.mcp_turn = std::make_shared<McpTurn>();
  std::vector<std::pair<const mcp::Message*, McpRefusal>> refused;
  for (auto& m : messages) {
    if (m.kind == mcp::Message::Kind::kResult || m.kind == mcp::Message::Kind::kError) {
      continue;  // the client's answer to a server request the gateway delivered
    }
    if (x.rpc_method.empty()) {
      x.rpc_method = m.method;
      x.tool = std::string(m.tool());
      x.rpc_id = idText(m.id);
    }
    McpRefusal refusal;
    McpStep step = co_await decideMcpMessage(x, m, refusal);
    if (step == McpStep::kAnswered) {
      co_return false;
    }
    std::optional<McpRefusal> call_refused;
    if (step == McpStep::kAllowed && m.method == "tools/call") {
      call_refused = checkMcpCall(x, m);
    }
    if (step == McpStep::kRefused || call_refused) {
      refused.emplace_back(&m, call_refused ? *call_refused : refusal);
      continue;
    }
    if (m.isRequest()) {
      x.mcp_turn->pending[rpcIdKey(m.id)] =
          McpTurn::Pending{.method = m.method, .tool = std::string(m.tool())};
    }
  }
  if (!refused.empty()) {
    refuseMcp(x, messages, refused, batch);
    co_await sendReply();
    co_return false;
  }
  // Always the messages as decided, re-serialized: a key repeated in the client's body reads as
  // its last value here, and the upstream must not read another.
  json::array all;
  for (const auto& m : messages) {
    all.push_back(mcp::toJson(m));
  }
  x.forward_body = batch ? json::serialize(all) : json::serialize(all.at(0));
  x.decision = "allow";
  co_return true;
}

// Answers a POST some of whose messages were refused: each request gets its error (the others
// of a batch: not sent either); a lone refused notification gets a 403 problem.
void HttpConnection::refuseMcp(
    Exchange& x, const std::vector<mcp::Message>& messages,
    const std::vector<std::pair<const mcp::Message*, McpRefusal>>& refused, bool batch) {
  x.decision = refused.front().second.code == mcp::kReviewRequired ? "review" : "deny";
  if (x.verdict.allowed()) {  // refused after policy (pins, schema, budget)
    x.verdict = gate::Verdict::refuse(gate::Refusal::kForbidden, "mcp-proxy",
                                      refused.front().second.message);
  }
  recordRequest(x);
  json::array errors;
  for (const auto& m : messages) {
    if (!m.isRequest()) {
      continue;
    }
    auto it =
        std::find_if(refused.begin(), refused.end(), [&](const auto& r) { return r.first == &m; });
    McpRefusal r = it != refused.end()
                       ? it->second
                       : McpRefusal{.code = mcp::kDenied,
                                    .message =
                                        "not sent: another message of this batch was "
                                        "refused"};
    errors.push_back(json::parse(mcp::errorText(m.id, r.code, r.message)));
  }
  if (errors.empty()) {
    prepareRefusal(x, x.verdict);
    return;
  }
  prepareRpcReply(x, 200, batch ? json::serialize(errors) : json::serialize(errors.at(0)));
}

// A JSON-RPC answer from the gateway itself, recorded as the response.
void HttpConnection::prepareRpcReply(Exchange& x, int status, std::string body) {
  reply_ = bhttp::response<bhttp::string_body>{static_cast<bhttp::status>(status), 11};
  reply_.set(bhttp::field::content_type, "application/json");
  reply_.set(bhttp::field::cache_control, "no-store");
  reply_.body() = std::move(body);
  reply_.keep_alive(x.req.keep_alive());
  reply_.prepare_payload();
  x.status = status;
  if (audit_ && x.request_recorded) {
    ResponseRecord rec(*audit_, x.request_id);
    rec.start(status, {{"content-type", "application/json"}}, "application/json");
    rec.body(reply_.body(), reply_.body(), {});
    rec.finish("gateway-error", {}, false);
  }
  log::info(id_, "{} {}: JSON-RPC {}", status, x.target.path, reply_.body().substr(0, 200));
}

}  // namespace jg::server

namespace jg::server {
namespace {

// The policy's decision on one MCP method (and its tool; `listing`: offered in tools/list) for
// a caller bound by `binding` with the grants `granted`.
auto mcpJudge(std::shared_ptr<const HttpRuntime> rt, const policy::Binding& binding,
              const std::vector<std::string>& granted) {
  return [rt = std::move(rt), &binding, &granted](std::string_view method, std::string_view tool,
                                                  bool listing) {
    std::string path = "/" + std::string(method) + (tool.empty() ? "" : "/" + std::string(tool));
    policy::HttpFacts f{.method = "MCP",
                        .path = path,
                        .mcp = true,
                        .rpc_method = method,
                        .tool = tool,
                        .tool_listing = listing};
    auto now = std::chrono::system_clock::now();
    return rt->runtime->config->policy->evaluateHttp(
        binding, policy::HttpRequest{.facts = f, .now = now, .granted = granted});
  };
}

}  // namespace

// The filter the upstream's answer goes through: JSON or an event stream, judged message by
// message for this caller (policy on tools and server requests) and this session (pins,
// budgets). Any other media type fails closed.
Status HttpConnection::prepareMcpFilter(Relay& r, const std::string& content_type) {
  Exchange& x = r.x;
  // No type (a 202 to a notification, often chunked and empty): anything in it must be JSON-RPC.
  auto kind =
      content_type.empty() ? std::optional(mask::BodyKind::kJson) : mask::bodyKindOf(content_type);
  if (!kind || (*kind != mask::BodyKind::kJson && *kind != mask::BodyKind::kSse)) {
    return Status::error(Code::kProtocol,
                         fmt::format("the upstream MCP server answered with \"{}\", neither "
                                     "application/json nor text/event-stream",
                                     content_type));
  }
  std::string_view sid = sv(r.parser.get()["mcp-session-id"]);
  if (!sid.empty() && sid != sv(x.req["mcp-session-id"])) {
    x.mcp_session = x.res->mcp_sessions->get(sid);  // initialize: the session starts here
    if (!x.mcp_session) {
      return Status::error(Code::kResourceExhausted,
                           "the gateway holds as many MCP sessions as it may");
    }
  }
  const mask::BodyPlan* plan = nullptr;
  if (x.res->masks()) {
    auto p = x.res->plan("");
    if (!p) {
      return p.status();
    }
    plan = p->get();
    if (!scanner_) {
      scanner_ = std::make_unique<mask::Scanner>(rt_->engine);
    }
  }
  auto judge = mcpJudge(rt_, *x.binding, x.granted);
  auto filter = std::make_unique<McpResponseFilter>(
      McpFilterOptions{.config = &*x.res->resource->http->mcp,
                       .session = x.mcp_session,
                       .turn = x.mcp_turn,
                       .offered =
                           [judge](std::string_view tool) {
                             return judge("tools/call", tool, true).effect != policy::Effect::kDeny;
                           },
                       .refusal = [judge](std::string_view method) -> std::string {
                         policy::Decision d = judge(method, "", false);
                         return d.effect == policy::Effect::kAllow ? std::string() : d.message();
                       },
                       .plan = plan,
                       .scanner = scanner_.get(),
                       .now = [] { return std::chrono::steady_clock::now(); },
                       .kind = *kind,
                       .max_body_bytes = rt_->runtime->config->http_limits.max_decoded_body_bytes});
  r.mcp = filter.get();
  r.masker = std::move(filter);
  r.kind = *kind;
  return Status::ok();
}

namespace {

// Sends the upstream the answer it is owed for a server request the gateway refused, on the
// same MCP session, as a POST of its own; its response is read and dropped.
asio::awaitable<void> postUpstream(std::shared_ptr<const HttpResourceRuntime> res,
                                   identity::Identity who, std::string target,
                                   std::vector<std::pair<std::string, std::string>> headers,
                                   std::string body, asio::thread_pool& pool) {
  using Header = std::optional<std::pair<std::string, std::string>>;
  auto cred_fn = [cred = res->credential, who] { return cred->header(who); };
  Result<Header> cred = co_await offThread<Result<Header>>(pool, cred_fn);
  if (!cred) {
    co_return;
  }
  const auto& up = res->pool->config();
  bhttp::request<bhttp::string_body> out{bhttp::verb::post, target, 11};
  out.set(bhttp::field::host, fmt::format("{}:{}", up.host, up.port));
  for (auto& [name, value] : headers) {
    out.set(name, value);
  }
  if (*cred) {
    out.set((*cred)->first, (*cred)->second);
  }
  out.body() = std::move(body);
  out.prepare_payload();
  auto conn = co_await res->pool->acquire();
  if (!conn) {
    co_return;
  }
  auto& s = **conn;
  s.expiresAfter(up.response_timeout);
  std::string request_bytes = serialize(out);
  if (error_code wec = co_await s.write(request_bytes)) {
    co_return;
  }
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024);
  error_code rec = co_await readMessageParsed(s, buf, parser);
  s.expiresNever();
  if (!rec && parser.keep_alive()) {
    res->pool->release(std::move(*conn));
  }
}

}  // namespace

void HttpConnection::answerUpstream(Exchange& x, std::string body) {
  auto it = rt_->resources.find(x.resource);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"}, {"accept", "application/json, text/event-stream"}};
  for (const char* h : {"mcp-session-id", "mcp-protocol-version"}) {
    if (auto v = sv(x.req[h]); !v.empty()) {
      headers.emplace_back(h, std::string(v));
    }
  }
  std::string target = x.res->pool->config().base_path + x.route;
  asio::co_spawn(stream_->executor(),
                 postUpstream(it->second, x.who, std::move(target), std::move(headers),
                              std::move(body), front_.services().blockingPool()),
                 asio::detached);
}

// What the filter did that the log must show, recorded as it happens.
void HttpConnection::recordMcpNotes(Relay& r) {
  for (auto& n : r.mcp->takeNotes()) {
    log::warn(id_, "MCP {}: {} {} {}", n.kind, n.method, n.tool, n.detail);
    if (audit_) {
      audit::McpMessageEvent e{.request_id = r.x.request_id,
                               .direction = "server",
                               .rpc_method = n.method,
                               .rpc_id = idText(n.id),
                               .tool = n.tool,
                               .decision = n.kind == "tools-filtered" ? "allow" : "deny",
                               .rule_id = "mcp-proxy",
                               .reason = n.detail.empty() ? n.kind : n.kind + ": " + n.detail};
      audit_->record(std::move(e));
    }
  }
  for (auto& reply : r.mcp->takeUpstreamReplies()) {
    answerUpstream(r.x, std::move(reply));
  }
}

}  // namespace jg::server
