#include "server/http_front.h"
#include "server/mcp_filter.h"

#include <fmt/format.h>

#include "core/log.h"
#include "mask/engine.h"
#include "server/gateway.h"
#include "server/http_connection.h"

namespace jg::server {
namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   10};

std::vector<mask::JsonPathRule> pathRules(const HttpMaskingConfig& m) {
  std::vector<mask::JsonPathRule> rules;
  for (const auto& p : m.json_paths) {
    mask::JsonPathRule r{.path = p.path, .keep_last = p.keep_last, .label = p.label};
    (void)mask::parseStrategy(p.strategy, r.strategy);  // validated by the config loader
    rules.push_back(std::move(r));
  }
  return rules;
}

// kind: mcp: the session table and the plan that masks tool arguments (redacted, no detectors:
// only the configured paths).
Status prepareMcp(HttpResourceRuntime& res, const HttpResourceConfig& h) {
  if (!h.mcp) {
    return Status::ok();
  }
  res.mcp_sessions = std::make_shared<McpSessions>(h.mcp->max_sessions);
  if (h.mcp->mask_arguments.empty()) {
    return Status::ok();
  }
  std::vector<mask::JsonPathRule> rules;
  for (const auto& p : h.mcp->mask_arguments) {
    rules.push_back(mask::JsonPathRule{.path = p});
  }
  auto plan = mask::BodyPlan::compile(nullptr, std::move(rules), {}, std::nullopt);
  if (!plan) {
    return Status::error(Code::kInvalidArgument, "mcp.mask_arguments: " + plan.status().message());
  }
  res.argument_plan = *plan;
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const mask::BodyPlan>> HttpResourceRuntime::plan(
    const std::string& items_path) const {
  std::lock_guard lock(mu_);
  if (auto it = plans_.find(items_path); it != plans_.end()) {
    return it->second;
  }
  std::optional<std::string> items;
  if (!items_path.empty()) {
    items = items_path;
  }
  auto compiled = mask::BodyPlan::compile(profile, rules, document_paths, items);
  if (!compiled) {
    return compiled.status();
  }
  plans_.emplace(items_path, *compiled);
  return *compiled;
}

HttpFrontEnd::HttpFrontEnd(SessionServices& services,
                           std::function<asio::io_context&()> next_context,
                           std::shared_ptr<const creds::TokenIssuer> token_issuer,
                           std::function<void()> on_connection_ended)
    : services_(services),
      next_context_(std::move(next_context)),
      token_issuer_(std::move(token_issuer)),
      on_connection_ended_(std::move(on_connection_ended)) {}

HttpFrontEnd::~HttpFrontEnd() = default;

Result<std::shared_ptr<const HttpRuntime>> makeHttpRuntime(
    std::shared_ptr<const Runtime> rt, std::shared_ptr<const creds::TokenIssuer> token_issuer,
    bool require_token_issuer) {
  auto out = std::make_shared<HttpRuntime>();
  out->runtime = rt;
  out->engine = rt->mask_engine;
  if (!out->engine) {
    auto counting = mask::Engine::create(mask::Settings{}, "");
    if (!counting) {
      return counting.status();
    }
    out->engine = *counting;
  }
  std::vector<http::Mount> mounts;
  for (const auto& r : rt->config->resources) {
    if (!r.isHttp()) {
      continue;
    }
    const auto& h = *r.http;
    auto res = std::make_shared<HttpResourceRuntime>();
    res->resource = &r;
    std::shared_ptr<ssl::context> tls;
    if (h.upstream.tls) {
      auto ctx = makeHttpUpstreamTls(h.upstream);
      if (!ctx) {
        return invalidArgument(fmt::format("resource \"{}\": {}", r.name, ctx.status().message()));
      }
      tls = *ctx;
    }
    res->pool = std::make_shared<HttpPool>(h.upstream, tls);
    res->credential = std::make_shared<UpstreamCredential>(h.credential, r.name, token_issuer);
    if (h.credential.kind == HttpCredentialConfig::Kind::kJwt && !token_issuer &&
        require_token_issuer) {
      return invalidArgument(fmt::format(
          "resource \"{}\": jwt credentials need upstream_tokens.key_file and the admin "
          "listener (which publishes the keys)",
          r.name));
    }
    res->token = http::TokenSource{.header = h.token_header, .scheme = h.token_scheme};
    if (rt->mask_engine && h.masking.enabled) {
      res->profile = rt->mask_engine->profile(h.masking.profile);
      if (res->profile == nullptr) {
        return invalidArgument(fmt::format("resource \"{}\": unknown masking profile \"{}\"",
                                           r.name, h.masking.profile));
      }
      res->rules = pathRules(h.masking);
    }
    res->document_paths = h.document_paths;
    if (auto plan = res->plan(""); !plan) {
      return invalidArgument(fmt::format("resource \"{}\": {}", r.name, plan.status().message()));
    }
    if (Status st = prepareMcp(*res, h); !st) {
      return invalidArgument(fmt::format("resource \"{}\": {}", r.name, st.message()));
    }
    mounts.push_back(http::Mount{.resource = r.name, .prefix = h.mount, .host = h.host});
    out->resources.emplace(r.name, std::move(res));
  }
  out->router = std::make_unique<http::Router>(std::move(mounts));
  return std::shared_ptr<const HttpRuntime>(std::move(out));
}

Status HttpFrontEnd::start(asio::io_context& accept_context) {
  auto rt = services_.runtime();
  const auto& ep_cfg = rt->config->listen_http;
  if (ep_cfg.port == 0) {
    return Status::ok();
  }
  auto built = makeHttpRuntime(rt, token_issuer_);
  if (!built) {
    return built.status();
  }
  std::atomic_store(&http_, *built);
  refreshMcpSessionIds();
  error_code ec;
  auto addr = asio::ip::make_address(ep_cfg.host, ec);
  if (ec) {
    return invalidArgument(fmt::format("listen.http: invalid address \"{}\"", ep_cfg.host));
  }
  if (!rt->client_tls && !addr.is_loopback()) {
    return invalidArgument("listen.http needs tls.cert and tls.key unless it is on loopback");
  }
  asio::ip::tcp::endpoint ep(addr, ep_cfg.port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(accept_context);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) {
    acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    acceptor_->bind(ep, ec);
  }
  if (!ec) {
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Status::error(Code::kUnavailable,
                         fmt::format("cannot listen on {}: {}", ep_cfg.str(), ec.message()));
  }
  asio::co_spawn(accept_context, acceptLoop(), asio::detached);
  log::info("", "listening for HTTP clients on {} ({}; {} HTTP resources)", ep_cfg.str(),
            rt->client_tls ? "TLS" : "plain HTTP on loopback", http_->resources.size());
  return Status::ok();
}

Status HttpFrontEnd::reload() {
  if (!acceptor_) {
    return Status::ok();
  }
  auto built = makeHttpRuntime(services_.runtime(), token_issuer_);
  if (!built) {
    return built.status();
  }
  std::atomic_store(&http_, *built);
  refreshMcpSessionIds();
  return Status::ok();
}

void HttpFrontEnd::refreshMcpSessionIds() {
  const auto& mcp = services_.runtime()->config->mcp;
  if (!mcp) {
    std::atomic_store(&mcp_ids_, std::shared_ptr<const McpSessionIds>());
    return;
  }
  if (!std::atomic_load(&mcp_ids_) || mcp->session_key != mcp_key_) {
    mcp_key_ = mcp->session_key;
    std::atomic_store(&mcp_ids_, std::make_shared<const McpSessionIds>(mcp_key_));
  }
}

asio::awaitable<void> HttpFrontEnd::acceptLoop() {
  for (;;) {
    auto& ctx = next_context_();
    auto [ec, socket] = co_await acceptor_->async_accept(ctx, kAwait);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) {
        co_return;
      }
      log::warn("", "HTTP accept failed: {}", ec.message());
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? "?" : fmt::format("{}:{}", remote.address().to_string(), remote.port());
    auto stream = std::make_unique<HttpStream>(std::move(socket));
    auto conn = std::make_shared<HttpConnection>(
        *this, std::move(stream), httpRuntime()->runtime->client_tls,
        fmt::format("h{}", next_id_.fetch_add(1)), std::move(peer));
    {
      std::lock_guard lock(mu_);
      live_.insert(conn);
    }
    asio::co_spawn(ctx, HttpConnection::run(conn), [id = conn->id()](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error(id, "HTTP connection failed: {}", ex.what());
        }
      }
    });
  }
}

void HttpFrontEnd::stop() {
  stopping_ = true;
  if (acceptor_) {
    error_code ec;
    acceptor_->close(ec);
  }
  std::lock_guard lock(mu_);
  for (const auto& c : live_) {
    c->closeIfIdle();
  }
}

size_t HttpFrontEnd::connectionCount() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

void HttpFrontEnd::connectionEnded(HttpConnection* c) {
  std::shared_ptr<HttpConnection> ended;  // released outside the lock
  {
    std::lock_guard lock(mu_);
    for (auto it = live_.begin(); it != live_.end(); ++it) {
      if (it->get() == c) {
        ended = *it;
        live_.erase(it);
        break;
      }
    }
  }
  if (on_connection_ended_) {
    on_connection_ended_();
  }
}

bool HttpFrontEnd::tryBeginRequest() {
  size_t limit = httpRuntime()->runtime->config->http_limits.max_concurrent_requests;
  if (in_flight_.fetch_add(1) >= limit) {
    in_flight_.fetch_sub(1);
    return false;
  }
  return true;
}

void HttpMetrics::request(const std::string& resource, std::string_view decision, int status,
                          double seconds, uint64_t masked) {
  std::lock_guard lock(mu_);
  auto& r = resources_[resource];
  ++r.by_decision_status[{std::string(decision), status}];
  if (r.latency_buckets.empty()) {
    r.latency_buckets.assign(std::size(kLatencyBuckets), 0);
  }
  for (size_t i = 0; i < std::size(kLatencyBuckets); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++r.latency_buckets[i];
    }
  }
  r.latency_sum += seconds;
  ++r.latency_count;
  r.masked += masked;
}

void HttpMetrics::refused(std::string_view why) {
  std::lock_guard lock(mu_);
  ++refused_[std::string(why)];
}

std::string HttpMetrics::text() const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP jitgate_http_requests_total HTTP requests by resource, decision and status.\n"
      "# TYPE jitgate_http_requests_total counter\n";
  for (const auto& [res, r] : resources_) {
    for (const auto& [key, n] : r.by_decision_status) {
      out += fmt::format(
          "jitgate_http_requests_total{{resource=\"{}\",decision=\"{}\",status=\"{}\"}} {}\n", res,
          key.first, key.second, n);
    }
  }
  out +=
      "# HELP jitgate_http_request_seconds Time from request to the end of the response.\n"
      "# TYPE jitgate_http_request_seconds histogram\n";
  for (const auto& [res, r] : resources_) {
    for (size_t i = 0; i < r.latency_buckets.size(); ++i) {
      out += fmt::format("jitgate_http_request_seconds_bucket{{resource=\"{}\",le=\"{}\"}} {}\n",
                         res, kLatencyBuckets[i], r.latency_buckets[i]);
    }
    out += fmt::format(
        "jitgate_http_request_seconds_bucket{{resource=\"{}\",le=\"+Inf\"}} {}\n"
        "jitgate_http_request_seconds_sum{{resource=\"{}\"}} {}\n"
        "jitgate_http_request_seconds_count{{resource=\"{}\"}} {}\n",
        res, r.latency_count, res, r.latency_sum, res, r.latency_count);
  }
  out +=
      "# HELP jitgate_http_masked_values_total Values masked in HTTP responses.\n"
      "# TYPE jitgate_http_masked_values_total counter\n";
  for (const auto& [res, r] : resources_) {
    out += fmt::format("jitgate_http_masked_values_total{{resource=\"{}\"}} {}\n", res, r.masked);
  }
  out +=
      "# HELP jitgate_http_refused_total HTTP requests refused before routing, by cause.\n"
      "# TYPE jitgate_http_refused_total counter\n";
  for (const auto& [why, n] : refused_) {
    out += fmt::format("jitgate_http_refused_total{{cause=\"{}\"}} {}\n", why, n);
  }
  return out;
}

}  // namespace jg::server
