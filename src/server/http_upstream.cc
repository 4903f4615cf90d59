#include "server/http_upstream.h"

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "creds/token_issuer.h"
#include "net/http.h"

namespace jg::server {
namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string formComponent(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

Result<std::shared_ptr<ssl::context>> makeHttpUpstreamTls(const HttpUpstreamConfig& u) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1);
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  if (!u.verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  error_code ec;
  if (u.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(u.ca_file, ec);
  }
  if (ec) {
    return invalidArgument(fmt::format("cannot load the CA file {}: {}",
                                       u.ca_file.empty() ? "(system)" : u.ca_file, ec.message()));
  }
  ctx->set_verify_mode(ssl::verify_peer);
  ctx->set_verify_callback(ssl::host_name_verification(u.host));
  return ctx;
}

asio::awaitable<Result<std::unique_ptr<HttpStream>>> HttpPool::acquire() {
  auto ex = co_await asio::this_coro::executor;
  const void* key = &asio::query(ex, asio::execution::context);
  for (;;) {
    std::unique_ptr<HttpStream> s;
    {
      std::lock_guard lock(mu_);
      auto& list = idle_[key];
      if (list.empty()) {
        break;
      }
      s = std::move(list.back());
      list.pop_back();
    }
    // A connection the upstream closed while idle reads as ready with EOF: skip it.
    char probe;
    ssize_t n = ::recv(s->socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      co_return std::move(s);
    }
    // Data or EOF on an idle connection: it is unusable.
  }
  co_return co_await connect();
}

asio::awaitable<Result<std::unique_ptr<HttpStream>>> HttpPool::connect() {
  auto ex = co_await asio::this_coro::executor;
  auto unavailable = [&](std::string_view what, const error_code& ec) {
    return Status::error(Code::kUnavailable,
                         fmt::format("upstream {}: {}: {}", config_.url, what, ec.message()));
  };
  asio::ip::tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(config_.host, std::to_string(config_.port), kAwait);
  if (rec) {
    co_return unavailable("cannot resolve the host", rec);
  }
  auto s = std::make_unique<HttpStream>(tcp::socket(ex));
  s->expiresAfter(config_.connect_timeout);
  if (auto cec = co_await s->connect(results)) {
    co_return unavailable("cannot connect", cec);
  }
  error_code ec;
  s->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (config_.tls) {
    if (auto hec = co_await s->handshake(*tls_, ssl::stream_base::client, config_.host)) {
      co_return unavailable("TLS handshake failed", hec);
    }
  }
  s->expiresNever();
  co_return std::move(s);
}

void HttpPool::release(std::unique_ptr<HttpStream> s) {
  s->expiresNever();
  const void* key = &asio::query(s->executor(), asio::execution::context);
  std::lock_guard lock(mu_);
  auto& list = idle_[key];
  if (list.size() < config_.max_idle_connections) {
    list.push_back(std::move(s));
  }
}

Result<std::optional<std::pair<std::string, std::string>>> UpstreamCredential::header(
    const identity::Identity& caller) {
  using Kind = HttpCredentialConfig::Kind;
  auto withScheme = [&](const std::string& v) {
    return std::make_optional(std::make_pair(
        config_.header, config_.scheme.empty() ? v : fmt::format("{} {}", config_.scheme, v)));
  };
  switch (config_.kind) {
    case Kind::kNone:
      return std::optional<std::pair<std::string, std::string>>();
    case Kind::kHeader:
      return withScheme(config_.value);
    case Kind::kJwt: {
      if (!issuer_) {
        return Status::error(Code::kInvalidArgument,
                             "upstream_tokens.key_file is required for jwt credentials");
      }
      auto token = issuer_->sign(caller.subject.empty() ? "anonymous" : caller.subject,
                                 config_.audience, config_.ttl);
      if (!token) {
        return token.status();
      }
      return withScheme(*token);
    }
    case Kind::kOAuth2: {
      auto token = oauthToken();
      if (!token) {
        return token.status();
      }
      return withScheme(*token);
    }
  }
  return Status::error(Code::kInternal, "unknown credential kind");
}

// Client credentials (RFC 6749 §4.4) with client_secret_basic; the token is reused until 30 s
// before its expires_in (at most an hour when the server gives none).
Result<std::string> UpstreamCredential::oauthToken() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!cached_.empty() && now < cached_until_) {
    return cached_;
  }
  net::HttpClient client(net::HttpClient::Options{.ca_file = config_.ca_file});
  net::HttpRequest req;
  req.method = "POST";
  req.url = config_.token_url;
  std::vector<std::pair<std::string, std::string>> form{{"grant_type", "client_credentials"}};
  if (!config_.scope.empty()) {
    form.emplace_back("scope", config_.scope);
  }
  if (!config_.resource.empty()) {
    form.emplace_back("resource", config_.resource);
  }
  req.body = net::formEncode(form);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"},
                 {"Authorization", "Basic " + base64(formComponent(config_.client_id) + ":" +
                                                     formComponent(config_.client_secret))}};
  auto resp = client.send(req, std::chrono::seconds(10));
  if (!resp) {
    return resp.status();
  }
  boost::system::error_code ec;
  auto doc = boost::json::parse(resp->body, ec);
  const auto* obj = ec ? nullptr : doc.if_object();
  const auto* tok = obj ? obj->if_contains("access_token") : nullptr;
  if (resp->status != 200 || tok == nullptr || !tok->is_string()) {
    return Status::error(Code::kUnavailable,
                         fmt::format("the token endpoint {} answered {} without an access_token",
                                     config_.token_url, resp->status));
  }
  int64_t ttl = 3600;
  if (const auto* exp = obj->if_contains("expires_in"); exp && exp->is_int64()) {
    ttl = exp->as_int64();
  }
  cached_ = std::string(tok->as_string());
  cached_until_ = now + std::chrono::seconds(std::max<int64_t>(ttl - 30, 0));
  return cached_;
}

}  // namespace jg::server
