// The deciding half of an HTTP exchange: route, authenticate, parse the body's facts, decide with
// the gate (and settle reviews through the broker), hold for approval, record the request.
#include <fmt/format.h>
#include <openssl/sha.h>
#include <boost/json.hpp>

#include "access/broker.h"
#include "audit/event.h"
#include "core/log.h"
#include "core/metrics.h"
#include "identity/verifier.h"
#include "mask/body.h"
#include "policy/rule.h"
#include "server/admin_request.h"
#include "server/broker_approvals.h"
#include "server/gateway.h"
#include "server/http_exchange.h"

namespace jg::server {
namespace {

constexpr size_t kApproverBodyBytes = 4096;  // of the body shown to approvers
constexpr size_t kRecordedBodyBytes = 64 * 1024;

int statusOf(gate::Refusal r) {
  switch (r) {
    case gate::Refusal::kInvalidRequest:
      return 400;
    case gate::Refusal::kLimit:
      return 429;
    case gate::Refusal::kUnknownName:
      return 404;
    case gate::Refusal::kAborted:
      return 409;
    case gate::Refusal::kUnrecorded:
      return 503;
    case gate::Refusal::kInternal:
      return 500;
    case gate::Refusal::kNone:
    case gate::Refusal::kForbidden:
    case gate::Refusal::kNeedsApproval:
      return 403;
  }
  return 403;
}

// How a refusal is recorded: "review" when it created (or names) a review, else "deny".
std::string refusalDecision(const gate::Verdict& v) {
  return v.outcome == gate::Outcome::kReview || !v.review_id.empty() ? "review" : "deny";
}

// Whether any rule bound for this caller is a review rule: only then can a grant matter, and
// only then is the store asked for the caller's active grants.
bool hasReviewRule(const policy::Policy& policy, const policy::Binding& b) {
  if (b.session.effect == policy::Effect::kReview) {
    return true;
  }
  for (uint32_t i : b.rules()) {
    if (policy.rule(i).effect == policy::Effect::kReview) {
      return true;
    }
  }
  return false;
}

bool isJsonBody(const HttpRequestMsg& req) {
  auto kind = mask::bodyKindOf(sv(req[bhttp::field::content_type]));
  return kind && *kind == mask::BodyKind::kJson;
}

}  // namespace

asio::awaitable<bool> HttpConnection::exchange(Exchange& x) {
  auto target = x.req.target();
  auto parsed = http::parseTarget(sv(target));
  if (!parsed) {
    prepareProblem(&x, http::Problem{.status = 400,
                                     .title = "Bad Request",
                                     .detail = parsed.status().message(),
                                     .type = problemType("bad-target")});
    co_return co_await sendReply();
  }
  x.target = std::move(*parsed);
  if (isMcpTarget(x)) {
    co_return co_await serveMcp(x);  // jitgate's own MCP server (mcp_server.cc)
  }
  auto host = x.req[bhttp::field::host];
  auto match = rt_->router->match(sv(host), x.target.path);
  if (!match) {
    front_.metrics().refused("no-route");
    prepareProblem(
        &x, http::Problem{.status = 404,
                          .title = "Not Found",
                          .detail = fmt::format("no resource is mounted at {}", x.target.path),
                          .type = problemType("no-route")});
    co_return co_await sendReply();
  }
  x.resource = match->mount->resource;
  x.route = std::string(match->rest);
  x.res = rt_->resources.find(x.resource)->second.get();
  auditFor(x.resource, x.res->mcp_sessions ? "mcp" : "http");
  x.approver_text = fmt::format("{} {}", sv(x.req.method_string()), sv(target));
  if (!x.req.body().empty()) {
    x.approver_text += "\n\n" + x.req.body().substr(0, kApproverBodyBytes);
  }
  if (!co_await authenticate(x)) {
    co_return x.status == 0 || x.req.keep_alive();
  }
  if (!parseBody(x)) {
    co_return co_await sendReply();
  }
  bool admitted = false;
  if (x.res->mcp_sessions) {
    admitted = co_await decideMcp(x);
  } else {
    admitted = co_await decide(x);
  }
  if (!admitted) {
    co_return x.req.keep_alive();
  }
  recordRequest(x);
  Status recorded = Status::ok();
  if (audit_ && audit_->strict()) {
    recorded = co_await audit_->durable();
  }
  if (!recorded || (audit_ && !audit_->writable())) {
    prepareProblem(&x,
                   http::Problem{.status = 503,
                                 .title = "Service Unavailable",
                                 .detail = "the audit log cannot be written, so the request was "
                                           "not sent; retry once the gateway has recovered",
                                 .type = problemType("unrecorded")},
                   false, {{"Retry-After", "5"}});
    co_return co_await sendReply();
  }
  co_return co_await forward(x);
}

// The body's digest and, for a JSON body, its parsed value (the policy's facts). False (with the
// problem prepared) when a JSON body does not parse.
bool HttpConnection::parseBody(Exchange& x) {
  if (x.req.body().empty()) {
    return true;
  }
  x.body_digest = audit::sha256Hex(x.req.body());
  if (!isJsonBody(x.req) || x.res->mcp_sessions) {
    return true;  // (a kind: mcp body is read as JSON-RPC by decideMcp)
  }
  boost::json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  auto v = boost::json::parse(x.req.body(), ec, {}, opts);
  if (ec) {
    recordRequest(x);
    prepareProblem(&x, http::Problem{.status = 400,
                                     .title = "Bad Request",
                                     .detail = fmt::format("the request body is not valid JSON: {}",
                                                           ec.message()),
                                     .type = problemType("invalid-json")});
    return false;
  }
  x.body_json = std::move(v);
  return true;
}

asio::awaitable<std::string> verifyBearer(SessionServices& services, const Runtime& rt,
                                          const Result<std::optional<std::string>>& token,
                                          std::string_view where, identity::Identity& who) {
  const auto& verifier = rt.verifier;
  if (!token) {
    co_return token.status().message();
  }
  if (!*token) {
    co_return fmt::format("no access token: send your OIDC access token in {}", where);
  }
  if (!verifier) {
    co_return "this gateway has no OIDC issuer configured (identity), so it cannot verify tokens";
  }
  if (auto known = verifier->cached(**token)) {
    who = std::move(*known);  // verified before: no hop off the I/O thread
    co_return "";
  }
  auto verify = [verifier, t = **token]() -> Result<identity::Identity> {
    return verifier->verify(t);
  };
  Result<identity::Identity> verified =
      co_await offThread<Result<identity::Identity>>(services.blockingPool(), verify);
  if (!verified) {
    co_return fmt::format("the access token was not accepted: {}", verified.status().message());
  }
  who = std::move(*verified);
  co_return "";
}

asio::awaitable<bool> HttpConnection::authenticate(Exchange& x) {
  const auto& src = x.res->token;
  std::string where = src.header == "authorization"
                          ? fmt::format("Authorization: {} <token>", src.scheme)
                          : fmt::format("the {} header", src.header);
  auto token = http::extractToken(x.req.base(), src);
  std::string reason = co_await verifyBearer(front_.services(), *rt_->runtime, token, where, x.who);
  if (!reason.empty()) {
    if (audit_) {
      audit::AuthEvent e;
      e.method = "oidc-bearer";
      e.reason = reason;
      audit_->record(std::move(e));
      auth_token_hash_.clear();
    }
    std::string error = token && !*token ? "" : "invalid_token";
    metrics::authFailures().add({"http", error.empty() ? "no_token" : "invalid_credential"});
    prepareProblem(&x,
                   http::Problem{.status = 401,
                                 .title = "Unauthorized",
                                 .detail = reason,
                                 .type = problemType("unauthenticated")},
                   true, {{"WWW-Authenticate", http::wwwAuthenticate("jitgate", error, reason)}});
    co_await sendReply();
    co_return false;
  }
  if (audit_ && auth_token_hash_ != x.who.token_hash) {
    audit::AuthEvent e;
    e.ok = true;
    e.method = src.header == "authorization" ? "oidc-bearer" : "oidc-api-key-header";
    e.principal = audit::Principal::from(x.who);
    audit_->record(std::move(e));
    auth_token_hash_ = x.who.token_hash;
  }
  co_return co_await admit(x);
}

// The session-level decision for this caller and resource: denied, admitted, or admitted under
// an active grant of a session-scope review (else that review is created and the request
// refused with its id).
asio::awaitable<bool> HttpConnection::admit(Exchange& x) {
  const auto& policy = *rt_->runtime->config->policy;
  auto now = front_.services().clock().now();
  x.binding = policy.bind(x.who, x.resource, now);
  const auto& broker = front_.services().broker();
  bool any_review = hasReviewRule(policy, *x.binding);
  if (broker && any_review) {
    auto grants = [broker, who = x.who, resource = x.resource] {
      std::vector<std::string> rules;
      for (const auto& g : broker->activeGrants(who, resource)) {
        rules.push_back(g.rule_id);
      }
      return rules;
    };
    x.granted =
        co_await offThread<std::vector<std::string>>(front_.services().blockingPool(), grants);
  }
  const auto& d = x.binding->session;
  if (d.effect == policy::Effect::kAllow) {
    co_return true;
  }
  if (d.effect == policy::Effect::kReview &&
      std::find(x.granted.begin(), x.granted.end(), d.rule_id) != x.granted.end()) {
    co_return true;
  }
  x.verdict = gate::Verdict::refuse(gate::Refusal::kForbidden, d.rule_id, d.message(), d.detail);
  x.verdict.decision = d;
  if (d.effect == policy::Effect::kReview && broker) {
    access::ClientInfo client{
        peer_, clientApplication(x.req[kApplicationHeader], x.req[bhttp::field::user_agent])};
    auto create = [&x, broker, sid = audit_ ? audit_->sessionId() : id_, client] {
      BrokerApprovals approvals(*broker, x.who, x.resource, sid, client);
      gate::ReviewDraft draft{.scope = gate::ReviewDraft::Scope::kSession,
                              .rule_id = x.binding->session.rule_id,
                              .reason = x.binding->session.reason,
                              .role = x.binding->session.role,
                              .spec = x.binding->session.review,
                              .text = x.approver_text,
                              .key = {}};
      return approvals.create(draft);
    };
    Result<gate::CreatedReview> review =
        co_await offThread<Result<gate::CreatedReview>>(front_.services().blockingPool(), create);
    if (review) {
      x.verdict.outcome = gate::Outcome::kReview;
      x.verdict.review_id = review->id;
      x.verdict.approval_hint = review->hint;
    }
  }
  x.decision = refusalDecision(x.verdict);  // the record names it before the reply is built
  recordRequest(x);
  prepareRefusal(x, x.verdict);
  co_await sendReply();
  co_return false;
}

asio::awaitable<void> HttpConnection::judge(Exchange& x, const gate::HttpRequest& request) {
  const auto& policy = *rt_->runtime->config->policy;
  gate::Gate gate(policy);
  gate::Caller caller{.binding = *x.binding, .granted = x.granted};
  auto now = front_.services().clock().now();
  x.verdict = gate.decide(caller, request, now);
  const auto& broker = front_.services().broker();
  if (gate::Gate::needsSettling(x.verdict)) {
    access::ClientInfo client{
        peer_, clientApplication(x.req[kApplicationHeader], x.req[bhttp::field::user_agent])};
    auto settle = [&, broker, sid = audit_ ? audit_->sessionId() : id_, client] {
      if (!broker) {
        return gate.settle(x.verdict, caller, request, nullptr, now);
      }
      BrokerApprovals approvals(*broker, x.who, x.resource, sid, client);
      return gate.settle(x.verdict, caller, request, &approvals, now);
    };
    x.verdict = co_await offThread<gate::Verdict>(front_.services().blockingPool(), settle);
  }
}

asio::awaitable<bool> HttpConnection::decide(Exchange& x) {
  auto facts = x.facts();
  gate::HttpRequest request{.facts = facts, .text = x.approver_text, .body_digest = x.body_digest};
  co_await judge(x, request);
  const auto& broker = front_.services().broker();
  if (x.verdict.allowed()) {
    x.decision = "allow";
    co_return true;
  }
  if (x.verdict.outcome == gate::Outcome::kReview && x.verdict.hold && broker) {
    co_return co_await holdForApproval(x);
  }
  x.decision = refusalDecision(x.verdict);
  recordRequest(x);
  prepareRefusal(x, x.verdict);
  co_await sendReply();
  co_return false;
}

void HttpConnection::prepareRefusal(Exchange& x, const gate::Verdict& v) {
  http::Problem p;
  p.extra.emplace_back("rule", boost::json::value(std::string(v.ruleId())));
  if (refusalDecision(v) == "review") {
    p.status = 403;
    p.title = "Approval required";
    p.type = problemType("approval-required");
    p.detail = fmt::format(
        "{}; review {} was created: once it is approved, send the same request "
        "again ({})",
        v.message.empty() ? v.decision.message() : v.message, v.review_id, v.approval_hint);
    p.extra.emplace_back("review_id", boost::json::value(v.review_id));
    p.extra.emplace_back("review_url", boost::json::value("/api/v1/reviews/" + v.review_id));
  } else {
    p.status = statusOf(v.refusal);
    p.title = p.status == 403 ? "Forbidden by policy" : "Request refused";
    p.type = problemType(gate::refusalName(v.refusal));
    p.detail = v.message.empty() ? v.decision.message() : v.message;
    if (!v.detail.empty()) {
      p.detail += fmt::format(" ({})", v.detail);
    }
  }
  prepareProblem(&x, p);
}

void HttpConnection::recordRequest(Exchange& x) {
  if (!audit_ || x.request_recorded) {
    return;
  }
  x.request_recorded = true;
  ++audit_requests_;
  const auto& v = x.verdict;
  audit::HttpRequestEvent e{
      .request_id = x.request_id,
      .method = std::string(sv(x.req.method_string())),
      .path = x.target.path,
      .query = x.target.raw_query,
      .route = x.route,
      .headers = http::recordedHeaders(x.req.base(), x.res ? x.res->token : http::TokenSource{}),
      .body = x.req.body().substr(0, kRecordedBodyBytes),
      .body_bytes = x.req.body().size(),
      .body_digest = x.body_digest,
      .decision = x.decision,
      .rule_id = std::string(v.ruleId()),
      .reason = v.allowed() ? std::string(v.decision.reason) : v.message,
      .review_id = v.review_id,
      .grant_id = v.grant ? v.grant->id : std::string(),
      .approval_id = v.approval,
      .rpc_method = x.rpc_method,  // MCP requests only (mcp_server.cc)
      .tool = x.tool,
      .rpc_id = x.rpc_id};
  audit_->record(std::move(e));
}

}  // namespace jg::server

namespace jg::server {

namespace {

// How a held request's review ended: decided (approved or not), or still pending when
// access.wait_timeout passed.
struct Decided {
  bool decided = false;
  access::ReviewState state = access::ReviewState::kPending;
  std::string reason;
};

asio::awaitable<Decided> awaitDecision(access::Broker& broker, const std::string& review_id) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  auto outcome = std::make_shared<Decided>();
  auto waiter = broker.waitForDecision(
      review_id, broker.settings().wait_timeout,
      [ex, timer, outcome](access::ReviewState state, std::string reason) {
        asio::post(ex, [timer, outcome, state, reason = std::move(reason)]() mutable {
          *outcome = Decided{.decided = true, .state = state, .reason = std::move(reason)};
          timer->cancel();
        });
      });
  auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  if (!outcome->decided) {
    waiter->cancel();
  }
  co_return *outcome;
}

}  // namespace

void HttpConnection::refuseHeld(Exchange& x, std::string message) {
  x.verdict.outcome = gate::Outcome::kDeny;
  x.verdict.refusal = gate::Refusal::kNeedsApproval;
  x.verdict.message = std::move(message);
  x.decision = "deny";  // held for a review that was not approved
  recordRequest(x);
  prepareRefusal(x, x.verdict);
}

// Wait mode: the request is held (the client simply waits for its response) until the review is
// decided or access.wait_timeout passes; approved, it runs once under the approval it consumes.
asio::awaitable<bool> HttpConnection::holdForApproval(Exchange& x) {
  const auto& broker = front_.services().broker();
  x.decision = "review";
  log::info(id_, "holding {} {} for approval of review {}", sv(x.req.method_string()),
            x.target.path, x.verdict.review_id);
  Decided d = co_await awaitDecision(*broker, x.verdict.review_id);
  if (d.state != access::ReviewState::kApproved) {
    refuseHeld(x, fmt::format("review {} was not approved ({}){}{}", x.verdict.review_id,
                              d.decided ? access::stateName(d.state) : "timed out",
                              d.reason.empty() ? "" : ": ", d.reason));
    co_await sendReply();
    co_return false;
  }
  auto consume = [&x, broker, key = x.verdict.key, sid = audit_ ? audit_->sessionId() : id_] {
    return BrokerApprovals(*broker, x.who, x.resource, sid).consume(key);
  };
  std::optional<std::string> consumed =
      co_await offThread<std::optional<std::string>>(front_.services().blockingPool(), consume);
  if (!consumed) {
    refuseHeld(x, fmt::format("review {} was approved but its approval is no longer valid",
                              x.verdict.review_id));
    co_await sendReply();
    co_return false;
  }
  x.verdict.outcome = gate::Outcome::kAllow;
  x.verdict.refusal = gate::Refusal::kNone;
  x.verdict.approval = *consumed;
  x.decision = "allow";
  co_return true;
}

}  // namespace jg::server
