#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <optional>

#include "net/http.h"

namespace jg::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Deadline = std::chrono::steady_clock::time_point;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
  bool tls = false;
  std::string host;       // for DNS and certificate checks
  std::string host_port;  // for the Host header
  std::string port;
  std::string path_query;
};

Result<Target> parseTarget(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return invalidArgument("invalid URL '" + url + "'");
  }
  const auto& u = *parsed;
  Target t;
  if (u.scheme() == "https") {
    t.tls = true;
  } else if (u.scheme() != "http") {
    return invalidArgument("unsupported URL scheme in '" + url + "' (http or https)");
  }
  if (u.has_userinfo() || u.encoded_host().empty()) {
    return invalidArgument("URL '" + url + "' must name a host and no credentials");
  }
  t.host = std::string(u.encoded_host_address());
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_port = std::string(u.encoded_host());
  if (u.has_port()) {
    t.host_port += ":" + t.port;
  }
  t.path_query = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) {
    t.path_query += "?" + std::string(u.encoded_query());
  }
  return t;
}

Status transportError(const std::string& url, std::string_view step, const beast::error_code& ec) {
  std::string cause = ec == beast::error::timeout ? "timed out" : ec.message();
  return Status::error(Code::kUnavailable,
                       "cannot " + std::string(step) + " " + url + ": " + cause);
}

template <typename Stream>
asio::awaitable<Result<HttpResponse>> exchange(Stream& stream, const HttpRequest& request,
                                               const Target& target, size_t max_body,
                                               const std::string& user_agent, Deadline deadline) {
  http::request<http::string_body> req{http::string_to_verb(request.method), target.path_query, 11};
  if (req.method() == http::verb::unknown) {
    co_return invalidArgument("unsupported HTTP method " + request.method);
  }
  req.set(http::field::host, target.host_port);
  req.set(http::field::user_agent, user_agent);
  req.set(http::field::accept, "application/json, */*;q=0.5");
  for (const auto& [name, value] : request.headers) {
    req.set(name, value);
  }
  if (!request.body.empty() || req.method() == http::verb::post) {
    req.body() = request.body;
    req.prepare_payload();
  }
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [wec, written] = co_await http::async_write(stream, req, kTuple);
  if (wec) {
    co_return transportError(request.url, "send a request to", wec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  parser.header_limit(64 * 1024);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (rec == http::error::body_limit) {
    co_return Status::error(Code::kResourceExhausted, "response from " + request.url + " exceeds " +
                                                          std::to_string(max_body) + " bytes");
  }
  if (rec) {
    co_return transportError(request.url, "read the response from", rec);
  }
  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  co_return out;
}

}  // namespace

struct HttpClient::Tls {
  ssl::context context{ssl::context::tls_client};
  std::string error;  // set when the trust store could not be loaded
};

HttpClient::HttpClient(Options options)
    : options_(std::move(options)), tls_(std::make_shared<Tls>()) {
  beast::error_code ec;
  tls_->context.set_verify_mode(ssl::verify_peer, ec);
  if (options_.ca_file.empty()) {
    tls_->context.set_default_verify_paths(ec);
  } else {
    tls_->context.load_verify_file(options_.ca_file, ec);
  }
  if (ec) {
    tls_->error = "cannot load trusted CA certificates" +
                  (options_.ca_file.empty() ? std::string() : " from " + options_.ca_file) + ": " +
                  ec.message();
  }
  SSL_CTX_set_min_proto_version(tls_->context.native_handle(), TLS1_2_VERSION);
}

Result<HttpResponse> HttpClient::get(const std::string& url, std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.url = url;
  return send(request, timeout);
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request,
                                      std::chrono::milliseconds timeout) {
  auto target = parseTarget(request.url);
  if (!target) {
    return target.status();
  }
  if (target->tls && !tls_->error.empty()) {
    return Status::error(Code::kUnavailable, tls_->error);
  }
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<Result<HttpResponse>> out;
  asio::io_context ioc;

  auto run = [&]() -> asio::awaitable<Result<HttpResponse>> {
    tcp::resolver resolver(ioc);
    auto [dec, endpoints] = co_await resolver.async_resolve(target->host, target->port, kTuple);
    if (dec) {
      co_return transportError(request.url, "resolve the host of", dec);
    }
    beast::tcp_stream tcp_stream(ioc);
    tcp_stream.expires_at(deadline);
    auto [cec, endpoint] = co_await tcp_stream.async_connect(endpoints, kTuple);
    if (cec) {
      co_return transportError(request.url, "connect to", cec);
    }
    if (!target->tls) {
      co_return co_await exchange(tcp_stream, request, *target, options_.max_body_bytes,
                                  options_.user_agent, deadline);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls_->context);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), target->host.c_str())) {
      co_return Status::error(Code::kUnavailable, "cannot set TLS server name for " + request.url);
    }
    stream.set_verify_callback(ssl::host_name_verification(target->host));
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      co_return transportError(request.url, "establish TLS with", hec);
    }
    co_return co_await exchange(stream, request, *target, options_.max_body_bytes,
                                options_.user_agent, deadline);
  };
  auto store = [&]() -> asio::awaitable<void> { out.emplace(co_await run()); };
  // An exception (allocation failure) leaves `out` empty and is reported below.
  asio::co_spawn(ioc, store(), [](std::exception_ptr) {});
  // The stream deadlines cover connect and I/O; run_for also bounds name resolution.
  ioc.run_for(timeout + std::chrono::milliseconds(100));
  if (!out) {
    return Status::error(Code::kUnavailable, "cannot fetch " + request.url + ": timed out");
  }
  return std::move(*out);
}

std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) {
      out += '&';
    }
    out += boost::urls::encode(name, boost::urls::unreserved_chars);
    out += '=';
    out += boost::urls::encode(value, boost::urls::unreserved_chars);
  }
  return out;
}

}  // namespace jg::net
