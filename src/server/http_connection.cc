#include "server/http_connection.h"

#include <fmt/format.h>
#include <boost/beast/http.hpp>

#include "core/log.h"
#include "server/gateway.h"
#include "server/http_exchange.h"

namespace jg::server {
HttpConnection::HttpConnection(HttpFrontEnd& front, std::unique_ptr<HttpStream> stream,
                               std::shared_ptr<ssl::context> tls, std::string id, std::string peer)
    : front_(front),
      stream_(std::move(stream)),
      tls_(std::move(tls)),
      id_(std::move(id)),
      peer_(std::move(peer)) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::closeIfIdle() {
  auto self = shared_from_this();
  asio::post(stream_->executor(), [self] {
    if (self->idle_) {
      self->stream_->cancel();
    }
  });
}

template <class Msg>
asio::awaitable<error_code> HttpConnection::write(Msg& msg) {
  stream_->expiresAfter(front_.httpRuntime()->runtime->config->http_limits.idle);
  std::string bytes = serialize(msg);
  error_code ec = co_await stream_->write(bytes);
  stream_->expiresNever();
  co_return ec;
}
template asio::awaitable<error_code> HttpConnection::write(bhttp::response<bhttp::string_body>&);

asio::awaitable<void> HttpConnection::run(std::shared_ptr<HttpConnection> self) {
  self->rt_ = self->front_.httpRuntime();
  if (co_await self->handshake()) {
    for (bool first = true; !self->front_.stopping(); first = false) {
      std::optional<HttpRequestMsg> req = co_await self->readRequest(first);
      if (!req) {
        break;
      }
      bool go_on = co_await self->serve(*req);
      if (!go_on || !req->keep_alive()) {
        break;
      }
    }
  }
  self->endAudit(self->front_.stopping() ? "shutdown" : "client-closed");
  co_await self->stream_->close();
  self->front_.connectionEnded(self.get());
}

asio::awaitable<bool> HttpConnection::handshake() {
  if (!tls_) {
    co_return true;
  }
  stream_->expiresAfter(rt_->runtime->config->http_limits.first_byte);
  error_code ec = co_await stream_->handshake(*tls_, ssl::stream_base::server);
  stream_->expiresNever();
  if (ec) {
    log::info(id_, "TLS handshake with {} failed: {}", peer_, ec.message());
    front_.metrics().refused("tls");
    co_return false;
  }
  co_return true;
}

namespace {

// The problem for a request head that did not arrive whole.
http::Problem headProblem(HttpConnection::HeadRead head, size_t max_header_bytes) {
  if (head == HttpConnection::HeadRead::kTimeout) {
    return http::Problem{.status = 408,
                         .title = "Request Timeout",
                         .detail = "the request header did not arrive in time"};
  }
  return http::Problem{.status = 431,
                       .title = "Request Header Fields Too Large",
                       .detail = fmt::format("the request header is larger than "
                                             "limits.http.max_header_bytes ({})",
                                             max_header_bytes)};
}

http::Problem bodyProblem(const error_code& ec, size_t max_body_bytes) {
  int status = ec == beast::error::timeout ? 408 : http::statusForParseError(ec);
  if (status == 413) {
    return http::Problem{.status = 413,
                         .title = "Content Too Large",
                         .detail = fmt::format("the request body is larger than "
                                               "limits.http.max_body_bytes ({})",
                                               max_body_bytes)};
  }
  return http::Problem{
      .status = status,
      .title = status == 408 ? "Request Timeout" : "Bad Request",
      .detail = fmt::format("the request body could not be read: {}", ec.message())};
}

}  // namespace

asio::awaitable<void> HttpConnection::refuseRequest(std::string_view cause,
                                                    const http::Problem& p) {
  front_.metrics().refused(cause);
  prepareProblem(nullptr, p, false);
  co_await sendReply();
}

// Reads the head (idle timeout before the first byte of a later request, the first-byte timeout
// for the first), checks its bytes and its framing, then the body within the body limit. A
// refused request is answered here and ends the connection (nullopt).
asio::awaitable<std::optional<HttpRequestMsg>> HttpConnection::readRequest(bool first) {
  const auto& limits = rt_->runtime->config->http_limits;
  HeadRead head = co_await readHead(first);
  if (head == HeadRead::kClosed) {
    co_return std::nullopt;  // closed, or idle past the timeout: nothing to answer
  }
  if (head != HeadRead::kComplete) {
    http::Problem p = headProblem(head, limits.max_header_bytes);
    co_await refuseRequest(head == HeadRead::kTimeout ? "timeout" : "header-too-large", p);
    co_return std::nullopt;
  }
  auto bytes = buffer_.data();
  if (auto bad = http::checkHeadBytes(
          std::string_view(static_cast<const char*>(bytes.data()), bytes.size()))) {
    http::Problem p = http::problemOf(*bad);
    co_await refuseRequest("framing", p);
    co_return std::nullopt;
  }
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  // The whole head is in the buffer (readHead): it is parsed from there, with no I/O.
  error_code ec;
  buffer_.consume(parser.put(buffer_.data(), ec));
  if (!ec && !parser.is_header_done()) {
    ec = bhttp::error::partial_message;  // cannot happen after readHead; never read past it
  }
  if (ec == bhttp::error::body_limit) {  // a Content-Length over the limit: refused unread
    http::Problem p = bodyProblem(ec, limits.max_body_bytes);
    co_await refuseRequest("body-too-large", p);
    co_return std::nullopt;
  }
  std::optional<http::Refusal> bad;
  if (ec) {
    bad = http::refusalForParseError(ec);
  } else {
    bad = http::checkFraming(parser.get().base());
  }
  if (bad) {
    http::Problem p = http::problemOf(*bad);
    co_await refuseRequest(bad->status == 431 ? "header-too-large" : "framing", p);
    co_return std::nullopt;
  }
  co_return co_await readBody(parser);
}

// What the buffer already holds of the body, parsed without I/O (a small body usually comes in
// the same read as its head). Wanting more is not an error.
error_code HttpConnection::takeBufferedBody(bhttp::request_parser<bhttp::string_body>& parser) {
  error_code ec;
  if (!parser.is_done() && buffer_.size() > 0) {
    parser.eager(true);
    buffer_.consume(parser.put(buffer_.data(), ec));
  }
  return ec == bhttp::error::need_more ? error_code{} : ec;
}

// Reads the rest of the body within the first-byte timeout.
asio::awaitable<error_code> HttpConnection::awaitBody(
    bhttp::request_parser<bhttp::string_body>& parser) {
  const auto& limits = rt_->runtime->config->http_limits;
  if (parser.get()[bhttp::field::expect] == "100-continue") {
    stream_->expiresAfter(limits.idle);
    co_await stream_->write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  // One deadline for the whole body.
  stream_->expiresAfter(limits.first_byte);
  error_code ec = co_await readMessageParsed(*stream_, buffer_, parser);
  stream_->expiresNever();
  co_return ec;
}

asio::awaitable<std::optional<HttpRequestMsg>> HttpConnection::readBody(
    bhttp::request_parser<bhttp::string_body>& parser) {
  error_code ec = takeBufferedBody(parser);
  if (!ec && !parser.is_done()) {
    ec = co_await awaitBody(parser);
  }
  if (ec) {
    http::Problem p = bodyProblem(ec, rt_->runtime->config->http_limits.max_body_bytes);
    co_await refuseRequest(p.status == 413 ? "body-too-large" : "malformed", p);
    co_return std::nullopt;
  }
  co_return parser.release();
}

// Reads until the buffer holds a whole request head (up to the empty line), so that its bytes
// can be checked before the parser unfolds them. Idle timeout before the first byte of a later
// request, first-byte timeout for the first request and once a head has begun.
asio::awaitable<HttpConnection::HeadRead> HttpConnection::readHead(bool first) {
  const auto& limits = rt_->runtime->config->http_limits;
  // One deadline for the whole head: a client sending a byte at a time gets no more time.
  bool begun = first || buffer_.size() > 0;
  stream_->expiresAfter(begun ? limits.first_byte : limits.idle);
  HeadRead result = HeadRead::kClosed;
  for (;;) {
    auto data = buffer_.data();
    std::string_view have(static_cast<const char*>(data.data()), data.size());
    if (have.find("\r\n\r\n") != std::string_view::npos) {
      result = HeadRead::kComplete;
      break;
    }
    if (have.size() > limits.max_header_bytes) {
      result = HeadRead::kTooLarge;
      break;
    }
    if (!begun && !have.empty()) {
      begun = true;
      stream_->expiresAfter(limits.first_byte);
    }
    idle_ = have.empty();
    auto space = buffer_.prepare(std::min<size_t>(16 * 1024, limits.max_header_bytes + 4));
    auto [ec, n] = co_await stream_->readSome(space);
    idle_ = false;
    buffer_.commit(n);
    if (ec) {  // closed, cancelled, or timed out (408 only once the head has begun)
      bool timeout = ec == beast::error::timeout && buffer_.size() > 0;
      result = timeout ? HeadRead::kTimeout : HeadRead::kClosed;
      break;
    }
  }
  stream_->expiresNever();
  co_return result;
}

asio::awaitable<bool> HttpConnection::serve(HttpRequestMsg& req) {
  Exchange x(req);
  x.request_id = ++requests_;
  if (!front_.tryBeginRequest()) {
    front_.metrics().refused("busy");
    prepareProblem(
        &x,
        http::Problem{.status = 503,
                      .title = "Service Unavailable",
                      .detail = "the gateway is at limits.http.max_concurrent_requests; retry"},
        false, {{"Retry-After", "1"}});
    co_return co_await sendReply();
  }
  bool go_on = co_await exchange(x);
  front_.endRequest();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count();
  if (!x.resource.empty()) {
    front_.metrics().request(x.resource, x.decision, x.status, seconds, x.masked);
  }
  co_return go_on;
}

void HttpConnection::prepareProblem(
    Exchange* x, const http::Problem& p, bool keep_alive,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  reply_ = bhttp::response<bhttp::string_body>{static_cast<bhttp::status>(p.status), 11};
  auto& res = reply_;
  res.set(bhttp::field::content_type, http::kProblemContentType);
  res.set(bhttp::field::cache_control, "no-store");
  for (auto& [name, value] : headers) {
    res.set(name, value);
  }
  res.body() = http::problemJson(p);
  res.keep_alive(keep_alive && (x == nullptr || x->req.keep_alive()));
  res.prepare_payload();
  HttpAudit* audit = audit_ ? &*audit_ : auditFor("");
  if (x != nullptr) {
    x->status = p.status;
    if (audit && x->request_recorded) {
      ResponseRecord rec(*audit, x->request_id);
      rec.start(p.status, {{"content-type", std::string(http::kProblemContentType)}},
                std::string(http::kProblemContentType));
      rec.body(res.body(), res.body(), {});
      rec.finish("gateway-error", {}, false);
    }
  }
  if (audit && (x == nullptr || !x->request_recorded)) {
    audit::ErrorEvent e;
    e.statement_id = x ? x->request_id : 0;
    e.source = "gateway";
    e.severity = "ERROR";
    e.message = p.detail;
    e.http_status = p.status;
    audit->record(std::move(e));
  }
  log::info(id_, "{} {}: {}", p.status, p.title, p.detail);
}

asio::awaitable<bool> HttpConnection::sendReply() {
  error_code ec = co_await write(reply_);
  co_return !ec && reply_.keep_alive();
}

HttpAudit* HttpConnection::auditFor(std::string_view resource, std::string_view protocol) {
  const auto& recorder = front_.services().recorder();
  if (!recorder) {
    return nullptr;
  }
  if (audit_ && audit_resource_ == resource && audit_->protocol() == protocol) {
    return &*audit_;
  }
  endAudit("resource-changed");
  std::string sid = audit_sessions_++ == 0 ? id_ : fmt::format("{}.{}", id_, audit_sessions_);
  audit_.emplace(recorder, std::move(sid), stream_->executor(), std::string(protocol));
  audit_resource_ = std::string(resource);
  audit_requests_ = 0;
  audit::ConnectEvent c;
  c.client_addr = peer_;
  c.resource = audit_resource_;
  c.protocol = audit_->protocol();
  if (SSL* ssl = stream_->nativeTls()) {
    c.tls_version = SSL_get_version(ssl);
    c.tls_cipher = SSL_get_cipher_name(ssl);
  }
  audit_->record(std::move(c));
  auth_token_hash_.clear();
  return &*audit_;
}

void HttpConnection::endAudit(std::string reason) {
  if (audit_) {
    audit::SessionEndEvent end;
    end.reason = std::move(reason);
    end.statements = audit_requests_;
    audit_->record(std::move(end));
    audit_.reset();
  }
}

}  // namespace jg::server
