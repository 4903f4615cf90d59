// The forwarding half of an HTTP exchange: the upstream request (the resource's credential in
// place of the caller's token), and the response relayed through the body masker while it is
// recorded. A response is buffered (masked whole, so a failure is a clean 502) up to
// limits.http.buffer_response_bytes; beyond that, or for an event stream, it streams chunk by
// chunk and a masking failure aborts the connection before any unmasked byte is sent.
#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>

#include "core/log.h"
#include "mask/scanner.h"
#include "server/gateway.h"
#include "server/http_exchange.h"

namespace jg::server {
namespace {

constexpr size_t kUpstreamReadBytes = 64 * 1024;

// The path the upstream gets: the base path and the decided route, percent-encoded again.
std::string upstreamTarget(const HttpUpstreamConfig& up, const http::Target& t,
                           std::string_view route) {
  auto chars = boost::urls::pchars + '/';
  std::string target = up.base_path + boost::urls::encode(route, chars);
  if (!t.raw_query.empty()) {
    target += '?';
    target += t.raw_query;
  }
  return target;
}

}  // namespace

asio::awaitable<bool> HttpConnection::forward(Exchange& x) {
  const auto& res = *x.res;
  const auto& up = res.pool->config();
  using Header = std::optional<std::pair<std::string, std::string>>;
  auto cred_fn = [cred = res.credential, who = x.who] { return cred->header(who); };
  Result<Header> cred = Status::error(Code::kInternal, "unset");
  if (res.credential->mayBlock()) {
    cred = co_await offThread<Result<Header>>(front_.services().blockingPool(), cred_fn);
  } else {
    cred = cred_fn();
  }
  if (!cred) {
    log::warn(id_, "upstream credential for {}: {}", x.resource, cred.status().message());
    prepareProblem(&x, http::Problem{.status = 502,
                                     .title = "Bad Gateway",
                                     .detail = "the gateway could not obtain the "
                                               "upstream credential",
                                     .type = problemType("upstream-credential")});
    co_return co_await sendReply();
  }
  bhttp::request<bhttp::string_body> out{x.req.method(), upstreamTarget(up, x.target, x.route), 11};
  // A body the gateway masks is decoded by it (gzip, deflate); one it passes through keeps the
  // encodings the client accepts.
  const bool masks = res.masks() || x.verdict.max_items > 0 || res.mcp_sessions;
  http::copyForwardHeaders(x.req.base(), out.base(), res.token, /*decode_ok=*/masks);
  if (!masks) {
    auto accept = x.req[bhttp::field::accept_encoding];
    if (accept.empty()) {
      out.erase(bhttp::field::accept_encoding);
    } else {
      out.set(bhttp::field::accept_encoding, accept);
    }
  }
  out.set(bhttp::field::host,
          up.port == (up.tls ? 443 : 80) ? up.host : fmt::format("{}:{}", up.host, up.port));
  out.set("x-forwarded-for", peer_.substr(0, peer_.rfind(':')));
  out.set("x-forwarded-proto", stream_->tls() ? "https" : "http");
  out.set("x-request-id", fmt::format("{}-{}", id_, x.request_id));
  if (*cred) {
    out.set((*cred)->first, (*cred)->second);
  }
  if (res.mcp_sessions) {
    out.set(bhttp::field::accept_encoding, "identity");  // the MCP filter reads every message
  }
  out.body() = x.forward_body ? *x.forward_body : x.req.body();
  out.keep_alive(true);
  out.prepare_payload();
  co_return co_await exchangeUpstream(x, out);
}

asio::awaitable<bool> HttpConnection::exchangeUpstream(Exchange& x,
                                                       bhttp::request<bhttp::string_body>& out) {
  const auto& up = x.res->pool->config();
  Relay r{.x = x};
  const std::string request_bytes = serialize(out);
  for (int attempt = 0;; ++attempt) {
    auto conn = co_await x.res->pool->acquire();
    if (!conn) {
      prepareProblem(&x, http::Problem{.status = 502,
                                       .title = "Bad Gateway",
                                       .detail = conn.status().message(),
                                       .type = problemType("upstream-unavailable")});
      co_return co_await sendReply();
    }
    r.up = std::move(*conn);
    r.up->expiresAfter(up.response_timeout);
    error_code wec = co_await r.up->write(request_bytes);
    if (!wec) {
      break;
    }
    if (attempt == 0) {
      continue;  // a kept-alive connection the upstream had closed: one fresh try
    }
    prepareProblem(&x,
                   http::Problem{.status = 502,
                                 .title = "Bad Gateway",
                                 .detail = fmt::format("upstream {}: {}", up.url, wec.message()),
                                 .type = problemType("upstream-unavailable")});
    co_return co_await sendReply();
  }
  r.parser.body_limit(boost::none);
  r.parser.skip(x.req.method() == bhttp::verb::head);  // a HEAD response has no body
  beast::flat_buffer& upbuf = upstream_buffer_;
  upbuf.clear();
  // A read takes at most the buffer's free capacity, 512 bytes when it is empty: with room for
  // 64 KB the head and a small body come in one read instead of one per 512 bytes.
  upbuf.reserve(kUpstreamReadBytes);
  error_code hec = co_await readHeaderParsed(*r.up, upbuf, r.parser);
  if (hec) {
    bool timeout = hec == beast::error::timeout;
    prepareProblem(&x, http::Problem{.status = timeout ? 504 : 502,
                                     .title = timeout ? "Gateway Timeout" : "Bad Gateway",
                                     .detail = fmt::format("upstream {} did not answer: {}", up.url,
                                                           timeout ? "timed out" : hec.message()),
                                     .type = problemType("upstream-unavailable")});
    co_return co_await sendReply();
  }
  co_return co_await relayResponse(r, upbuf);
}

}  // namespace jg::server
