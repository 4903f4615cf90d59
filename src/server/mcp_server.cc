// jitgate's own MCP server: Streamable HTTP (MCP 2025-06-18 / 2025-11-25) at `mcp.path` on the
// HTTP listener, OAuth protected-resource metadata (RFC 9728), and the tools of mcp_tools.h run
// through an in-process PostgreSQL session (mcp_pg_client.h). Each POST carries one JSON-RPC
// message; every answer is application/json (no server-initiated stream: GET is 405). Every
// request and its answer are recorded like any HTTP exchange of the connection.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "access/broker.h"
#include "audit/event.h"
#include "core/log.h"
#include "identity/verifier.h"
#include "net/http.h"
#include "proto/mcp/jsonrpc.h"
#include "server/gateway.h"
#include "server/http_exchange.h"
#include "server/mcp_http_tool.h"
#include "server/mcp_pg_client.h"
#include "server/mcp_tools.h"

namespace jg::server {
namespace {

namespace json = boost::json;

constexpr std::string_view kMetadataRoot = "/.well-known/oauth-protected-resource";
constexpr size_t kRecordedBodyBytes = 64 * 1024;

const McpConfig& mcpConfig(const HttpRuntime& rt) {
  return *rt.runtime->config->mcp;
}

std::string idText(const json::value& id) {
  return id.is_null() ? std::string() : json::serialize(id);
}

bool supportedVersion(std::string_view v) {
  for (auto s : mcp::supportedVersions()) {
    if (s == v) {
      return true;
    }
  }
  return false;
}

// A parameter value as PostgreSQL text.
std::optional<std::string> paramText(const json::value& v) {
  if (v.is_null()) {
    return std::nullopt;
  }
  if (v.is_string()) {
    return std::string(v.as_string());
  }
  if (v.is_bool()) {
    return v.as_bool() ? "true" : "false";
  }
  return json::serialize(v);
}

PgStatement statementFor(const McpTool& tool, const json::object& args, const McpConfig& cfg) {
  PgStatement st{.resource = tool.resource,
                 .sql = {},
                 .params = {},
                 .max_rows = cfg.max_rows,
                 .max_bytes = cfg.max_result_bytes};
  if (tool.kind == McpToolKind::kQuery) {
    st.sql = std::string(args.at("sql").as_string());
    if (const json::value* p = args.if_contains("params")) {
      for (const auto& v : p->as_array()) {
        st.params.push_back(paramText(v));
      }
    }
  } else if (tool.kind == McpToolKind::kListTables) {
    st.sql = listTablesSql();
  } else {
    std::string table(args.at("table").as_string());
    auto dot = table.find('.');
    st.sql = describeTableSql();
    st.params.push_back(dot == std::string::npos ? std::nullopt
                                                 : std::optional(table.substr(0, dot)));
    st.params.push_back(dot == std::string::npos ? table : table.substr(dot + 1));
  }
  return st;
}

// How an awaited review ended: decided, or still pending when the wait ran out.
struct Awaited {
  access::ReviewState state = access::ReviewState::kPending;
  std::string reason;
};

asio::awaitable<Awaited> awaitReview(access::Broker& broker, const std::string& review_id,
                                     std::chrono::seconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  auto outcome = std::make_shared<Awaited>();
  auto decided = std::make_shared<bool>(false);
  auto waiter = broker.waitForDecision(
      review_id, timeout,
      [ex, timer, outcome, decided](access::ReviewState state, std::string reason) {
        asio::post(ex, [timer, outcome, decided, state, reason = std::move(reason)]() mutable {
          *outcome = Awaited{.state = state, .reason = std::move(reason)};
          *decided = true;
          timer->cancel();
        });
      });
  auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  if (!*decided) {
    waiter->cancel();
  }
  co_return *outcome;
}

json::object reviewToolResult(const std::string& id, access::ReviewState state,
                              const std::string& reason) {
  std::string status(access::stateName(state));
  std::string text =
      state == access::ReviewState::kApproved
          ? fmt::format(
                "review {} is approved: repeat the refused call with the same arguments "
                "(it runs once)",
                id)
      : state == access::ReviewState::kPending
          ? fmt::format("review {} is still pending; call await_review again to keep waiting", id)
          : fmt::format("review {} was not approved ({}){}{}", id, status,
                        reason.empty() ? "" : ": ", reason);
  json::object o = textToolResult(std::move(text), false);
  json::object s{{"review_id", id}, {"status", status}};
  if (!reason.empty()) {
    s["reason"] = reason;
  }
  o["structuredContent"] = std::move(s);
  return o;
}

// The gateway's own HTTP listener, where HTTP operation tools send their requests.
std::string listenerUrl(const Runtime& rt) {
  const Endpoint& ep = rt.config->listen_http;
  std::string host = ep.host;
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";
  } else if (host == "::") {
    host = "::1";
  }
  if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  return fmt::format("{}://{}:{}", rt.client_tls ? "https" : "http", host, ep.port);
}

}  // namespace

bool HttpConnection::isMcpTarget(const Exchange& x) const {
  const auto& mcp = rt_->runtime->config->mcp;
  if (!mcp) {
    return false;
  }
  const std::string& p = x.target.path;
  return p == mcp->path || p == kMetadataRoot || p == metadataPath(mcp->path);
}

std::string HttpConnection::mcpBaseUrl(const Exchange& x) const {
  const McpConfig& mcp = mcpConfig(*rt_);
  if (!mcp.public_url.empty()) {
    return mcp.public_url;
  }
  return fmt::format("{}://{}", stream_->tls() ? "https" : "http", sv(x.req[bhttp::field::host]));
}

void HttpConnection::prepareMcpReply(
    Exchange& x, int status, std::string body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  reply_ = bhttp::response<bhttp::string_body>{static_cast<bhttp::status>(status), 11};
  std::string content_type = body.empty() ? "" : "application/json";
  if (!content_type.empty()) {
    reply_.set(bhttp::field::content_type, content_type);
  }
  reply_.set(bhttp::field::cache_control, "no-store");
  for (const auto& [name, value] : headers) {
    reply_.set(name, value);
  }
  reply_.body() = std::move(body);
  reply_.keep_alive(x.req.keep_alive());
  reply_.prepare_payload();
  x.status = status;
  if (audit_ && x.request_recorded) {
    ResponseRecord rec(*audit_, x.request_id);
    rec.start(status, {{"content-type", content_type}}, content_type);
    std::string_view sent(reply_.body().data(),
                          std::min(reply_.body().size(), kRecordedBodyBytes * 16));
    rec.body(sent, sent, {});
    rec.finish("ok", {}, false);
  }
}

asio::awaitable<bool> HttpConnection::serveMcp(Exchange& x) {
  const McpConfig& mcp = mcpConfig(*rt_);
  x.resource = "mcp";
  auditFor(x.resource, "mcp");
  x.approver_text = fmt::format("{} {}", sv(x.req.method_string()), x.target.path);
  std::string base = mcpBaseUrl(x);
  if (x.target.path != mcp.path) {  // the protected-resource metadata
    if (x.req.method() != bhttp::verb::get) {
      prepareProblem(&x,
                     http::Problem{.status = 405,
                                   .title = "Method Not Allowed",
                                   .detail = "the metadata document is read with GET",
                                   .type = problemType("method-not-allowed")},
                     true, {{"Allow", "GET"}});
      co_return co_await sendReply();
    }
    std::vector<std::string> issuers;
    if (const auto& id = rt_->runtime->config->identity) {
      for (const auto& i : id->issuers) {
        issuers.push_back(i.issuer);
      }
    }
    auto doc = protectedResourceMetadata(base + mcp.path, issuers, mcp.scopes);
    x.decision = "allow";
    recordRequest(x);
    prepareMcpReply(x, 200, json::serialize(doc));
    co_return co_await sendReply();
  }
  auto origin = sv(x.req[bhttp::field::origin]);
  if (!origin.empty() && origin != base) {
    prepareProblem(&x, http::Problem{.status = 403,
                                     .title = "Forbidden",
                                     .detail = fmt::format("requests from the origin {} are not "
                                                           "accepted (only {})",
                                                           origin, base),
                                     .type = problemType("origin")});
    co_return co_await sendReply();
  }
  if (x.req.method() != bhttp::verb::post && x.req.method() != bhttp::verb::delete_) {
    prepareProblem(&x,
                   http::Problem{.status = 405,
                                 .title = "Method Not Allowed",
                                 .detail = "this MCP server takes POST (and DELETE to end a "
                                           "session); it opens no server-initiated stream",
                                 .type = problemType("method-not-allowed")},
                   true, {{"Allow", "POST, DELETE"}});
    co_return co_await sendReply();
  }
  if (!co_await mcpAuthenticate(x)) {
    co_return x.req.keep_alive();
  }
  co_return co_await mcpPost(x);
}

asio::awaitable<bool> HttpConnection::mcpAuthenticate(Exchange& x) {
  auto token = http::extractToken(x.req.base(), http::TokenSource{});
  std::string reason = co_await verifyBearer(front_.services(), *rt_->runtime, token,
                                             "Authorization: Bearer <token>", x.who);
  if (!reason.empty()) {
    if (audit_) {
      audit::AuthEvent e;
      e.method = "oidc-bearer";
      e.reason = reason;
      audit_->record(std::move(e));
      auth_token_hash_.clear();
    }
    std::string error = token && !*token ? "" : "invalid_token";
    std::string challenge = http::wwwAuthenticate("jitgate", error, reason);
    std::string metadata = mcpBaseUrl(x) + metadataPath(mcpConfig(*rt_).path);
    challenge = fmt::format("Bearer resource_metadata=\"{}\", {}", metadata,
                            std::string_view(challenge).substr(7));
    prepareProblem(&x,
                   http::Problem{.status = 401,
                                 .title = "Unauthorized",
                                 .detail = reason,
                                 .type = problemType("unauthenticated")},
                   true, {{"WWW-Authenticate", challenge}});
    co_await sendReply();
    co_return false;
  }
  if (audit_ && auth_token_hash_ != x.who.token_hash) {
    audit::AuthEvent e;
    e.ok = true;
    e.method = "oidc-bearer";
    e.principal = audit::Principal::from(x.who);
    audit_->record(std::move(e));
    auth_token_hash_ = x.who.token_hash;
  }
  co_return true;
}

bool HttpConnection::mcpCheckSession(Exchange& x) {
  auto ids = front_.mcpSessionIds();
  auto sid = sv(x.req["Mcp-Session-Id"]);
  if (sid.empty()) {
    prepareMcpReply(x, 400,
                    mcp::errorText(nullptr, mcp::kInvalidRequest,
                                   "Bad Request: the Mcp-Session-Id header is required (send "
                                   "initialize first)"));
    return false;
  }
  if (!ids || !ids->verify(sid, x.who.subject)) {
    prepareMcpReply(x, 404,
                    mcp::errorText(nullptr, mcp::kInvalidRequest,
                                   "session not found: initialize a new session"));
    return false;
  }
  auto version = sv(x.req["MCP-Protocol-Version"]);
  if (!version.empty() && !supportedVersion(version)) {
    prepareMcpReply(
        x, 400,
        mcp::errorText(nullptr, mcp::kInvalidRequest,
                       fmt::format("Bad Request: unsupported MCP-Protocol-Version {}", version)));
    return false;
  }
  return true;
}

asio::awaitable<bool> HttpConnection::mcpPost(Exchange& x) {
  x.decision = "allow";
  if (x.req.method() == bhttp::verb::delete_) {
    recordRequest(x);
    if (mcpCheckSession(x)) {
      prepareMcpReply(x, 204, {});
    }
    co_return co_await sendReply();
  }
  auto parsed = mcp::parseBody(x.req.body(), /*allow_batch=*/false);
  if (auto* bad = std::get_if<mcp::RpcError>(&parsed)) {
    x.rpc_id = idText(bad->id);
    recordRequest(x);
    prepareMcpReply(x, 400, mcp::errorText(bad->id, bad->code, bad->message));
    co_return co_await sendReply();
  }
  const mcp::Message& m = std::get<mcp::Parsed>(parsed).messages.front();
  x.rpc_method = m.method;
  x.rpc_id = idText(m.id);
  x.tool = std::string(m.tool());
  recordRequest(x);
  if (m.method != "initialize" && !mcpCheckSession(x)) {
    co_return co_await sendReply();
  }
  if (!m.isRequest()) {
    prepareMcpReply(x, 202, {});  // a notification or a response: accepted
    co_return co_await sendReply();
  }
  std::string answer = co_await mcpRequest(x, m);
  std::vector<std::pair<std::string, std::string>> headers;
  if (m.method == "initialize") {
    headers.emplace_back("Mcp-Session-Id", front_.mcpSessionIds()->mint(
                                               x.who.subject, std::chrono::system_clock::now()));
  }
  prepareMcpReply(x, 200, std::move(answer), headers);
  co_return co_await sendReply();
}

asio::awaitable<std::string> HttpConnection::mcpRequest(Exchange& x, const mcp::Message& m) {
  if (m.method == "initialize") {
    std::string_view requested;
    if (m.params.is_object()) {
      if (const auto* v = m.params.as_object().if_contains("protocolVersion");
          v && v->is_string()) {
        requested = v->as_string();
      }
    }
    json::object result{
        {"protocolVersion", mcp::negotiateVersion(requested)},
        {"capabilities", json::object{{"tools", json::object{{"listChanged", false}}}}},
        {"serverInfo", json::object{{"name", "jitgate"}, {"version", "0.1"}}},
        {"instructions",
         "Tools reach data through jitgate: policy, masking, approvals and recording apply. A "
         "call that needs approval returns a review id: wait with await_review, then repeat "
         "the call."}};
    co_return mcp::resultText(m.id, result);
  }
  if (m.method == "ping") {
    co_return mcp::resultText(m.id, json::object());
  }
  if (m.method == "tools/list") {
    co_return mcpToolsList(x, m);
  }
  if (m.method == "tools/call") {
    co_return co_await mcpCallTool(x, m);
  }
  co_return mcp::errorText(m.id, mcp::kMethodNotFound,
                           fmt::format("method not found: {}", m.method));
}

namespace {

std::vector<McpTool> toolsFor(const HttpRuntime& rt, const identity::Identity& who,
                              std::chrono::system_clock::time_point now) {
  const auto& cfg = *rt.runtime->config;
  auto offered = [&](const std::string& resource) {
    auto b = cfg.policy->bind(who, resource, now);
    return b.session.effect != policy::Effect::kDeny;
  };
  return mcpTools(cfg, *cfg.mcp, offered);
}

}  // namespace

std::string HttpConnection::mcpToolsList(Exchange& x, const mcp::Message& m) {
  json::array tools;
  for (const auto& t : toolsFor(*rt_, x.who, front_.services().clock().now())) {
    tools.push_back(toolDefinition(t));
  }
  return mcp::resultText(m.id, json::object{{"tools", std::move(tools)}});
}

asio::awaitable<std::string> HttpConnection::mcpCallTool(Exchange& x, const mcp::Message& m) {
  auto tools = toolsFor(*rt_, x.who, front_.services().clock().now());
  auto it = std::find_if(tools.begin(), tools.end(),
                         [&](const McpTool& t) { return t.name == m.tool(); });
  if (it == tools.end()) {
    co_return mcp::errorText(m.id, mcp::kInvalidParams, fmt::format("unknown tool: {}", m.tool()));
  }
  if (auto bad = checkArguments(*it, m.arguments())) {
    co_return mcp::errorText(m.id, mcp::kInvalidParams,
                             fmt::format("invalid arguments for {}: {}", it->name, *bad));
  }
  if (it->kind == McpToolKind::kAwaitReview) {
    co_return co_await mcpAwaitReview(x, m);
  }
  if (it->kind == McpToolKind::kHttpOperation) {
    co_return co_await mcpCallOperation(x, m, *it);
  }
  static const json::object kNone;
  const json::value* args = m.arguments();
  PgStatement st = statementFor(*it, args ? args->as_object() : kNone, mcpConfig(*rt_));
  PgResult r = co_await runPgStatement(front_.services(), x.who, peer_, st);
  json::object result = pgToolResult(r);
  co_return mcp::resultText(m.id, result);
}

asio::awaitable<std::string> HttpConnection::mcpAwaitReview(Exchange& x, const mcp::Message& m) {
  const auto& args = m.arguments()->as_object();
  std::string id(args.at("review_id").as_string());
  int64_t secs = 60;
  if (const auto* t = args.if_contains("timeout_seconds")) {
    secs = t->to_number<int64_t>();
  }
  const auto& broker = front_.services().broker();
  if (!broker) {
    co_return mcp::resultText(
        m.id, textToolResult("this gateway has no store for reviews (set store:)", true));
  }
  auto lookup = [broker, id]() { return broker->review(id); };
  Result<std::optional<access::Review>> found =
      co_await offThread<Result<std::optional<access::Review>>>(front_.services().blockingPool(),
                                                                lookup);
  if (!found || !*found || (*found)->requester.subject != x.who.subject) {
    co_return mcp::resultText(
        m.id, textToolResult(fmt::format("review {} was not found among yours", id), true));
  }
  if ((*found)->state != access::ReviewState::kPending) {
    co_return mcp::resultText(m.id, reviewToolResult(id, (*found)->state, {}));
  }
  log::info(id_, "MCP await_review {} for {} (up to {} s)", id, x.who.display(), secs);
  Awaited a = co_await awaitReview(*broker, id, std::chrono::seconds(secs));
  co_return mcp::resultText(m.id, reviewToolResult(id, a.state, a.reason));
}

}  // namespace jg::server

namespace jg::server {

// An HTTP operation goes through this gateway's own HTTP listener over loopback (TLS, trusting
// the gateway's own certificate), with the caller's bearer token: the resource's HTTP rules,
// reviews, response limits, masking and recording apply as to any other client.
asio::awaitable<std::string> HttpConnection::mcpCallOperation(Exchange& x, const mcp::Message& m,
                                                              const McpTool& tool) {
  static const json::object kNone;
  const json::value* args = m.arguments();
  const auto& cfg = *rt_->runtime->config;
  const ResourceConfig* res = cfg.resource(tool.resource);
  auto built = buildOperationRequest(res->http->mount, *tool.op, args ? args->as_object() : kNone);
  if (!built) {
    co_return mcp::errorText(
        m.id, mcp::kInvalidParams,
        fmt::format("invalid arguments for {}: {}", tool.name, built.status().message()));
  }
  auto token = http::extractToken(x.req.base(), http::TokenSource{});
  const std::string& scheme = res->http->token_scheme;
  net::HttpRequest out{
      .method = built->method,
      .url = listenerUrl(*rt_->runtime) + built->target,
      .headers = {{res->http->token_header, scheme.empty() ? **token : scheme + " " + **token}},
      .body = built->body};
  if (!out.body.empty()) {
    out.headers.emplace_back("Content-Type", "application/json");
  }
  size_t max_bytes = mcpConfig(*rt_).max_result_bytes;
  auto send = [out, ca = cfg.tls.cert_file, max_bytes]() -> Result<net::HttpResponse> {
    net::HttpClient client(net::HttpClient::Options{
        .ca_file = ca, .max_body_bytes = max_bytes * 16, .user_agent = "jitgate-mcp"});
    return client.send(out, std::chrono::seconds(60));
  };
  Result<net::HttpResponse> r =
      co_await offThread<Result<net::HttpResponse>>(front_.services().blockingPool(), send);
  if (!r) {
    co_return mcp::resultText(
        m.id, textToolResult(fmt::format("the HTTP call failed: {}", r.status().message()), true));
  }
  co_return mcp::resultText(m.id, httpToolResult(r->status, r->body, max_bytes));
}

}  // namespace jg::server
