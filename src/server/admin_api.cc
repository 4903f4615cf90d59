#include "server/admin_api.h"

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <atomic>

#include "console/web.h"
#include "core/log.h"
#include "core/metrics.h"
#include "identity/verifier.h"
#include "server/admin_request.h"

namespace jg::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxBody = 64 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(30);

struct Route {
  AdminHandler handler;
  bool authenticated = true;
};

bool isApiPath(std::string_view path) {
  return path == "/api" || path.starts_with("/api/");
}

}  // namespace

struct AdminApi::Impl : std::enable_shared_from_this<AdminApi::Impl> {
  Impl(asio::io_context& io, AdminApiOptions o)
      : options(std::move(o)), acceptor(io), pool(std::max(1, options.worker_threads)) {}

  AdminApiOptions options;
  tcp::acceptor acceptor;
  asio::thread_pool pool;
  std::unique_ptr<access::Api> api;
  std::mutex mu;
  std::map<std::pair<http::verb, std::string>, Route> routes;
  std::map<std::pair<http::verb, std::string>, Route> prefix_routes;
  std::atomic<bool> stopped{false};

  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(tcp::socket socket);
  template <class Stream>
  asio::awaitable<void> serveStream(Stream& stream, const std::string& peer);
  static void conditional(const AdminRequest& req, AdminResponse& res);
  asio::awaitable<AdminResponse> respond(http::request<http::string_body>& req,
                                         const std::string& peer);
  static http::response<http::string_body> toHttp(AdminResponse res, unsigned version,
                                                  bool keep_alive);
  AdminResponse dispatch(AdminRequest& req, const std::string& authorization);
  std::optional<AdminResponse> authenticate(AdminRequest& req, const std::string& authorization);
};

std::optional<AdminResponse> AdminApi::Impl::authenticate(AdminRequest& req,
                                                          const std::string& authorization) {
  AdminResponse unauthorized = jsonError(401, "unauthorized", "");
  unauthorized.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"jitgate\"");
  const std::string token = bearerToken(authorization);
  if (token.empty() && options.authenticate_request) {
    if (auto who = options.authenticate_request(req)) {
      if (*who) {
        req.caller = std::move(**who);
        return std::nullopt;
      }
      if (who->status().code() == Code::kPermissionDenied) {
        return jsonError(403, "forbidden", who->status().message());
      }
      unauthorized.body = jsonError(401, "unauthorized", who->status().message()).body;
      return unauthorized;
    }
  }
  if (token.empty()) {
    metrics::authFailures().add({"admin", "no_token"});
    unauthorized.body = jsonError(401, "unauthorized",
                                  "an OIDC access token is required: Authorization: Bearer <token>")
                            .body;
    return unauthorized;
  }
  if (!options.authenticate) {
    return jsonError(503, "unavailable", "token verification is not configured");
  }
  auto who = options.authenticate(token);
  if (!who) {
    metrics::authFailures().add({"admin", who.status().code() == Code::kUnavailable
                                              ? "keys_unavailable"
                                              : "invalid_credential"});
    unauthorized.body = jsonError(401, "unauthorized", who.status().message()).body;
    unauthorized.headers.back().second += ", error=\"invalid_token\"";
    return unauthorized;
  }
  req.caller = std::move(*who);
  return std::nullopt;
}

AdminResponse AdminApi::Impl::dispatch(AdminRequest& req, const std::string& authorization) {
  std::optional<Route> route;
  bool other_method = false;
  {
    std::lock_guard lk(mu);
    if (auto it = routes.find({req.method, req.path}); it != routes.end()) {
      route = it->second;
    }
    for (const auto& [key, r] : routes) {
      other_method = other_method || key.second == req.path;
    }
    size_t best = 0;
    for (const auto& [key, r] : prefix_routes) {
      if (route.has_value() && best == 0) {
        break;  // an exact route wins over every prefix
      }
      if (!req.path.starts_with(key.second)) {
        continue;
      }
      other_method = other_method || key.first != req.method;
      if (key.first == req.method && key.second.size() > best) {
        best = key.second.size();
        route = r;
      }
    }
  }
  if ((route && route->authenticated) || (!route && isApiPath(req.path))) {
    if (auto refused = authenticate(req, authorization)) {
      return *refused;
    }
  }
  if (route) {
    return route->handler(req);
  }
  if (api && req.caller) {
    access::ApiRequest ar{std::string(http::to_string(req.method)), req.path, req.query, req.body,
                          access::ClientInfo{req.client_addr, req.application}};
    if (auto reply = api->handle(ar, *req.caller)) {
      return fromReply(*reply);
    }
  }
  if (other_method) {
    return jsonError(405, "method_not_allowed",
                     std::string(http::to_string(req.method)) + " is not allowed on " + req.path);
  }
  return jsonError(404, "not_found", "no such resource: " + req.path);
}

asio::awaitable<void> AdminApi::Impl::acceptLoop() {
  auto self = shared_from_this();
  while (!stopped) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec) {
      if (stopped || ec == asio::error::operation_aborted) {
        co_return;
      }
      log::warn("", "admin API: accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminApi::Impl::serve(tcp::socket socket) {
  auto self = shared_from_this();
  beast::error_code peer_ec;
  auto endpoint = socket.remote_endpoint(peer_ec);
  const std::string peer =
      peer_ec ? std::string()
              : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  if (!options.tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serveStream(stream, peer);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *options.tls);
  beast::get_lowest_layer(stream).expires_after(kRequestTimeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (ec) {
    log::debug("", "admin API: TLS handshake failed: {}", ec.message());
    co_return;
  }
  co_await serveStream(stream, peer);
}

template <class Stream>
asio::awaitable<void> AdminApi::Impl::serveStream(Stream& stream, const std::string& peer) {
  beast::flat_buffer buffer;
  for (;;) {
    beast::get_lowest_layer(stream).expires_after(kRequestTimeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    AdminResponse res;
    bool keep_alive = false;
    unsigned version = 11;
    if (ec == http::error::body_limit) {
      res = jsonError(413, "too_large", "request bodies are limited to 64 KiB");
    } else if (ec) {
      break;
    } else {
      auto req = parser.release();
      keep_alive = req.keep_alive();
      version = req.version();
      AdminResponse answered = co_await respond(req, peer);  // named: see Session::offThread
      res = std::move(answered);
    }
    auto out = toHttp(std::move(res), version, keep_alive);
    auto [wec, wn] = co_await http::async_write(stream, out, kNoThrow);
    if (wec || !keep_alive) {
      break;
    }
  }
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// GET answers carry an ETag (the handler's, else one of the body); a matching If-None-Match
// turns the answer into 304 without a body.
void AdminApi::Impl::conditional(const AdminRequest& req, AdminResponse& res) {
  if (req.method != http::verb::get || res.status != 200) {
    return;
  }
  std::string etag;
  for (const auto& [k, v] : res.headers) {
    if (beast::iequals(k, "ETag")) {
      etag = v;
    }
  }
  if (etag.empty()) {
    etag = console::etagOf(res.body);
    res.headers.emplace_back("ETag", etag);
  }
  if (!req.if_none_match.empty() && console::etagMatches(req.if_none_match, etag)) {
    res.status = 304;
    res.body.clear();
  }
}

asio::awaitable<AdminResponse> AdminApi::Impl::respond(http::request<http::string_body>& req,
                                                       const std::string& peer) {
  AdminRequest ar;
  ar.method = req.method();
  ar.client_addr = peer;
  ar.application = clientApplication(req[kApplicationHeader], req[http::field::user_agent]);
  ar.body = std::move(req.body());
  if (!parseAdminTarget(req.target(), ar)) {
    co_return jsonError(400, "bad_request", "malformed request target");
  }
  const std::string authorization(req[http::field::authorization]);
  ar.cookie = std::string(req[http::field::cookie]);
  ar.origin = std::string(req[http::field::origin]);
  ar.csrf_token = std::string(req["X-CSRF-Token"]);
  ar.if_none_match = std::string(req[http::field::if_none_match]);
  // Verification and handlers may block: run them off the I/O thread.
  AdminResponse res = co_await asio::co_spawn(
      pool,
      [&]() -> asio::awaitable<AdminResponse> {
        try {
          AdminResponse r = dispatch(ar, authorization);
          conditional(ar, r);
          co_return r;
        } catch (const std::exception& e) {
          log::error("", "admin API: {} {} failed: {}", http::to_string(ar.method), ar.path,
                     e.what());
          co_return jsonError(500, "internal", "internal error");
        }
      },
      asio::use_awaitable);
  co_return res;
}

http::response<http::string_body> AdminApi::Impl::toHttp(AdminResponse res, unsigned version,
                                                         bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(res.status), version};
  out.set(http::field::server, "jitgate");
  out.set(http::field::content_type, res.content_type);
  out.set(http::field::cache_control, "no-store");
  out.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : res.headers) {
    if (beast::iequals(k, "Set-Cookie")) {
      out.insert(k, v);  // one header per cookie
    } else {
      out.set(k, v);
    }
  }
  out.keep_alive(keep_alive);
  out.body() = std::move(res.body);
  out.prepare_payload();
  return out;
}

Result<std::unique_ptr<AdminApi>> AdminApi::start(asio::io_context& io, AdminApiOptions options) {
  auto impl = std::make_shared<Impl>(io, std::move(options));
  beast::error_code ec;
  const auto& ep = impl->options.listen;
  auto addr = asio::ip::make_address(ep.host, ec);
  if (ec) {
    return invalidArgument(fmt::format("listen.admin: invalid address \"{}\"", ep.host));
  }
  tcp::endpoint endpoint(addr, ep.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    impl->acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Status::error(Code::kUnavailable, fmt::format("cannot listen on {} (admin API): {}",
                                                         ep.str(), ec.message()));
  }
  if (impl->options.broker) {
    impl->api = std::make_unique<access::Api>(impl->options.broker, impl->options.policy);
  }
  std::unique_ptr<AdminApi> api(new AdminApi(impl));
  api->addRoute(
      http::verb::get, "/healthz",
      [](const AdminRequest&) {
        return AdminResponse{200, "application/json", R"({"status":"ok"})", {}};
      },
      false);
  asio::co_spawn(impl->acceptor.get_executor(), impl->acceptLoop(), asio::detached);
  log::info("", "admin API listening on {}:{} ({})", ep.host, api->port(),
            impl->options.tls ? "TLS" : "plain HTTP on loopback, for development");
  return api;
}

Authenticator AdminApi::verifierAuthenticator(identity::Verifier* verifier) {
  return [verifier](std::string_view token) -> Result<identity::Identity> {
    if (verifier == nullptr) {
      return Status::error(Code::kUnavailable, "no identity issuer is configured");
    }
    return verifier->verify(token);
  };
}

AdminApi::~AdminApi() {
  stop();
  impl_->pool.stop();
  impl_->pool.join();
}

void AdminApi::addRoute(http::verb method, std::string path, AdminHandler handler,
                        bool authenticated) {
  std::lock_guard lk(impl_->mu);
  impl_->routes[{method, std::move(path)}] = Route{std::move(handler), authenticated};
}

void AdminApi::addPrefixRoute(http::verb method, std::string prefix, AdminHandler handler,
                              bool authenticated) {
  std::lock_guard lk(impl_->mu);
  impl_->prefix_routes[{method, std::move(prefix)}] = Route{std::move(handler), authenticated};
}

uint16_t AdminApi::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void AdminApi::stop() {
  if (impl_->stopped.exchange(true)) {
    return;
  }
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

}  // namespace jg::server
