// Relaying a response body: decode (gzip/deflate), mask, record, and send it — buffered whole
// when it is small enough (so that a masking failure is a clean 502), streamed otherwise.
#include <fmt/format.h>

#include "core/log.h"
#include "mask/engine.h"
#include "mask/scanner.h"
#include "server/gateway.h"
#include "server/http_exchange.h"

namespace jg::server {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

// Media type without parameters, lower case.
std::string mediaType(std::string_view ct) {
  std::string out(ct.substr(0, ct.find(';')));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
    out.pop_back();
  }
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool allowedUnmasked(const std::vector<std::string>& globs, const std::string& media) {
  for (const auto& g : globs) {
    if (g == media || (g.size() > 2 && g.ends_with("/*") &&
                       media.starts_with(std::string_view(g).substr(0, g.size() - 1)))) {
      return true;
    }
  }
  return false;
}

bool hasNoBody(int status, bhttp::verb method) {
  return method == bhttp::verb::head || status == 204 || status == 304 ||
         (status >= 100 && status < 200);
}

std::map<std::string, uint64_t> maskedByLabel(const mask::BodyMasker* m) {
  std::map<std::string, uint64_t> out;
  if (m != nullptr) {
    for (const auto& [label, n] : m->counters().by_label) {
      out.emplace(label, n);
    }
  }
  return out;
}

// One piece of the response body, up to kReadChunk bytes into `buf`: waits (with the response
// timeout) for the first bytes, then takes what is already readable without waiting. One read of
// a TLS stream returns at most one record (16 KB), so a piece gathers several records and the
// relay runs one decode → mask → record → write cycle per piece, not per record.
using BodyParser = bhttp::response_parser<bhttp::buffer_body>;
asio::awaitable<std::pair<error_code, size_t>> readPiece(HttpStream& up, BodyParser& parser,
                                                         beast::flat_buffer& upbuf, char* buf,
                                                         std::chrono::milliseconds timeout) {
  constexpr size_t kMinRoom = 16 * 1024;
  size_t got = 0;
  error_code ec;
  up.expiresAfter(timeout);
  do {
    parser.get().body().data = buf + got;
    parser.get().body().size = kReadChunk - got;
    auto [rec, n] = co_await readSomeParsed(up, upbuf, parser);
    got = kReadChunk - parser.get().body().size;
    ec = rec == bhttp::error::need_buffer ? error_code{} : rec;
  } while (!ec && !parser.is_done() && kReadChunk - got >= kMinRoom &&
           (upbuf.size() > 0 || up.readableNow() > 0));
  co_return std::pair{ec, got};
}

}  // namespace

// Chooses how the body is handled: untouched (no masking for this resource, or a media type
// allowed unmasked), or decoded and masked by its kind. An error: the body cannot be masked.
Status HttpConnection::prepareMasking(Relay& r, const std::string& content_type) {
  const auto& res = *r.x.res;
  const auto& v = r.x.verdict;
  if (res.mcp_sessions) {
    return prepareMcpFilter(r, content_type);
  }
  if (!res.masks() && v.max_items == 0) {
    return Status::ok();
  }
  std::string media = mediaType(content_type);
  if (allowedUnmasked(res.resource->http->masking.allow_unmasked, media)) {
    r.unmasked_binary = true;
    return Status::ok();
  }
  auto kind = mask::bodyKindOf(content_type);
  if (!kind) {
    return Status::error(Code::kInvalidArgument,
                         fmt::format("the upstream answered with a body of type \"{}\", which the "
                                     "gateway cannot mask",
                                     media.empty() ? "(none)" : media));
  }
  r.kind = *kind;
  auto ce = sv(r.parser.get()[bhttp::field::content_encoding]);
  if (!http::isIdentityEncoding(ce)) {
    auto format = http::Inflater::formatOf(ce);
    if (!format) {
      return Status::error(Code::kInvalidArgument,
                           fmt::format("the upstream body is encoded as \"{}\", which the gateway "
                                       "cannot decode to mask it",
                                       ce));
    }
    r.inflater.emplace(*format, rt_->runtime->config->http_limits.max_decoded_body_bytes);
  }
  auto plan = res.plan(std::string(v.items_path));
  if (!plan) {
    return plan.status();
  }
  if (!scanner_) {
    scanner_ = std::make_unique<mask::Scanner>(rt_->engine);
  }
  r.masker =
      mask::makeBodyMasker(*kind, **plan, *scanner_, mask::BodyLimits{.max_items = v.max_items});
  return Status::ok();
}

asio::awaitable<error_code> HttpConnection::send(Relay& r, std::string_view bytes) {
  stream_->expiresAfter(rt_->runtime->config->http_limits.idle);
  error_code ec = co_await stream_->write(r.head, bytes);
  stream_->expiresNever();
  r.head.clear();
  co_return ec;
}

// Decides the status line and headers, kept in r.head for the first write: with the length of
// the whole body when it is known (`whole`: everything is in `pending`, or the body passes
// untouched with its own length), chunked otherwise.
void HttpConnection::commit(Relay& r, bool whole) {
  const auto& up = r.parser.get();
  bool rewritten = r.masker || r.inflater;
  bhttp::response<bhttp::empty_body> head{up.result(), 11};
  http::copyResponseHeaders(up.base(), head.base(), rewritten);
  if (whole && rewritten) {
    head.content_length(r.pending.size());
  } else if (!rewritten && up.has_content_length()) {
    head.content_length(*r.parser.content_length());
  } else if (!hasNoBody(up.result_int(), r.x.req.method())) {
    head.chunked(true);
    r.chunked = true;
  }
  head.keep_alive(r.x.req.keep_alive());
  r.committed = true;
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  error_code ec;
  while (!ec && !sr.is_header_done()) {
    sr.next(ec, [&](error_code&, const auto& buffers) {
      for (asio::const_buffer b : beast::buffers_range_ref(buffers)) {
        r.head.append(static_cast<const char*>(b.data()), b.size());
      }
      sr.consume(beast::buffer_bytes(buffers));
    });
  }
}

// One piece of the upstream body: decoded, checked against the size limit, masked, recorded,
// and sent when the response is committed (kept in `pending` until then).
asio::awaitable<Status> HttpConnection::pushBody(Relay& r, std::string_view raw) {
  std::string decoded;
  std::string_view in = raw;
  if (r.inflater) {
    if (Status st = r.inflater->write(raw, decoded); !st) {
      co_return st;
    }
    in = decoded;
  }
  r.upstream_bytes += in.size();
  if (r.limit_bytes != 0 && r.upstream_bytes > r.limit_bytes) {
    co_return Status::error(Code::kResourceExhausted,
                            fmt::format("the response is larger than the {} bytes this request "
                                        "may receive",
                                        r.limit_bytes));
  }
  std::string masked;
  std::string_view sent = in;
  std::vector<std::string> ids;
  if (r.masker) {
    if (Status st = r.masker->write(in, masked); !st) {
      co_return st;
    }
    sent = masked;
    ids = r.masker->takeDocumentIds();
  }
  if (r.mcp) {
    recordMcpNotes(r);
  }
  if (r.record) {
    r.record->body(sent, in, std::move(ids));
  }
  r.pending.append(sent);
  if (!r.committed &&
      (r.kind == mask::BodyKind::kSse || !r.masker ||
       r.pending.size() > rt_->runtime->config->http_limits.buffer_response_bytes)) {
    commit(r, false);
  }
  if (r.committed && !r.pending.empty()) {
    std::string frame = r.chunked ? fmt::format("{:x}\r\n{}\r\n", r.pending.size(), r.pending)
                                  : std::move(r.pending);
    r.pending.clear();
    if (error_code ec = co_await send(r, frame); ec) {
      co_return Status::error(Code::kUnavailable, "client: " + ec.message());
    }
  }
  co_return Status::ok();
}

asio::awaitable<bool> HttpConnection::relayResponse(Relay& r, beast::flat_buffer& upbuf) {
  Exchange& x = r.x;
  auto& head = r.parser.get();
  x.status = head.result_int();
  std::string ct(sv(head[bhttp::field::content_type]));
  if (audit_) {
    r.record.emplace(*audit_, x.request_id);
    r.record->start(x.status, http::recordedHeaders(head.base(), x.res->token), ct);
  }
  r.limit_bytes = x.verdict.max_response_bytes > 0
                      ? static_cast<size_t>(x.verdict.max_response_bytes)
                      : x.res->resource->http->max_response_bytes;
  const bool no_body = hasNoBody(x.status, x.req.method()) || r.parser.is_done();
  if (!no_body) {
    if (Status st = prepareMasking(r, ct); !st) {
      if (!failRelay(r, "masking-failed", st)) {
        co_return false;
      }
      co_return co_await sendReply();
    }
  }
  if (no_body || (!r.masker && !r.inflater)) {
    commit(r, no_body);  // sent with the first piece of the body
  }
  co_return co_await relayBody(r, upbuf);
}

// Reads the upstream body in pieces into the connection's read buffer and pushes each through
// pushBody; the upstream failing mid-body fails the relay.
asio::awaitable<bool> HttpConnection::relayBody(Relay& r, beast::flat_buffer& upbuf) {
  if (!read_chunk_) {
    read_chunk_ = std::make_unique_for_overwrite<char[]>(kReadChunk);  // once per connection
  }
  char* buf = read_chunk_.get();
  const auto timeout = r.x.res->pool->config().response_timeout;
  // A read takes at most the buffer's free capacity (512 bytes after a small header): room for a
  // whole piece makes each read take what the stream has.
  upbuf.reserve(kReadChunk);
  while (!r.parser.is_done()) {
    if (!r.head.empty() && upbuf.size() == 0 && r.up->readableNow() == 0) {
      // The body is not there yet (a stream that starts later): the head goes now.
      if (error_code ec = co_await send(r, {}); ec) {
        failRelay(r, "client-closed", Status::error(Code::kUnavailable, ec.message()));
        co_return false;
      }
    }
    auto [ec, got] = co_await readPiece(*r.up, r.parser, upbuf, buf, timeout);
    if (got > 0) {
      Status st = co_await pushBody(r, std::string_view(buf, got));
      if (!st) {
        bool client_gone = st.message().starts_with("client: ");
        if (!failRelay(r, client_gone ? "client-closed" : "masking-failed", st)) {
          co_return false;
        }
        co_return co_await sendReply();
      }
    }
    if (ec) {
      if (!failRelay(r, "upstream-closed",
                     Status::error(Code::kUnavailable,
                                   fmt::format("the upstream connection failed mid-body: {}",
                                               ec.message())))) {
        co_return false;
      }
      co_return co_await sendReply();
    }
  }
  co_return co_await finishRelay(r);
}

// The end of the body: the decoder and the masker must end cleanly; what the masker still held
// is added to what is pending.
Status HttpConnection::finishBody(Relay& r) {
  if (r.inflater) {
    if (Status st = r.inflater->finish(); !st) {
      return st;
    }
  }
  if (!r.masker) {
    return Status::ok();
  }
  std::string tail;
  if (Status st = r.masker->finish(tail); !st) {
    return st;
  }
  if (r.mcp) {
    recordMcpNotes(r);
  }
  if (r.record && !tail.empty()) {
    r.record->body(tail, "", r.masker->takeDocumentIds());
  }
  r.pending += tail;
  return Status::ok();
}

void HttpConnection::recordEnd(Relay& r) {
  if (r.record) {
    r.record->finish(r.masker && r.masker->truncated() ? "truncated" : "complete",
                     maskedByLabel(r.masker.get()), r.unmasked_binary);
  }
}

asio::awaitable<bool> HttpConnection::finishRelay(Relay& r) {
  if (Status st = finishBody(r); !st) {
    if (!failRelay(r, "masking-failed", st)) {
      co_return false;
    }
    co_return co_await sendReply();
  }
  if (!r.committed) {
    commit(r, true);
  }
  std::string frame = std::move(r.pending);
  if (r.chunked) {
    frame =
        frame.empty() ? "0\r\n\r\n" : fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", frame.size(), frame);
  }
  r.pending.clear();
  if (audit_ && audit_->strict()) {
    recordEnd(r);
    if (Status st = co_await audit_->durable(); !st) {
      co_return false;  // the end of the response is not sent unrecorded
    }
  }
  error_code ec = co_await send(r, frame);
  recordEnd(r);  // (already recorded in strict mode: finish() records once)
  if (r.masker) {
    r.x.masked = r.masker->counters().values_masked;
  }
  // Reused only when nothing beyond this response was read from it.
  if (r.parser.is_done() && r.parser.keep_alive() && upstream_buffer_.size() == 0) {
    r.x.res->pool->release(std::move(r.up));
  }
  co_return !ec && r.x.req.keep_alive();
}

// The body cannot be relayed. Before the status line went out the client gets a 502 (or 504)
// problem; after, the connection is cut without the final chunk, so the client sees an
// incomplete response and never an unmasked byte.
bool HttpConnection::failRelay(Relay& r, std::string_view outcome, const Status& why) {
  log::warn(id_, "response to {} {}: {} ({})", sv(r.x.req.method_string()), r.x.target.path,
            outcome, why.message());
  if (r.record) {
    r.record->finish(std::string(outcome), maskedByLabel(r.masker.get()), r.unmasked_binary);
  }
  r.up.reset();  // never reused: its state is unknown
  if ((r.committed && r.head.empty()) || outcome == "client-closed") {
    return false;  // the status line went out
  }
  r.head.clear();  // decided but never sent: the problem goes in its place
  bool too_large = why.code() == Code::kResourceExhausted;
  prepareProblem(&r.x,
                 http::Problem{.status = 502,
                               .title = "Bad Gateway",
                               .detail = why.message(),
                               .type = problemType(too_large ? "response-too-large" : outcome)});
  return true;
}

}  // namespace jg::server
