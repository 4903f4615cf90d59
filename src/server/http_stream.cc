#include "server/http_stream.h"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/read_size.hpp>

#include <array>

namespace jg::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCloseDrainTime = std::chrono::milliseconds(500);
constexpr size_t kCloseDrainBytes = 256 * 1024;

}  // namespace

// One timer per connection. Setting the deadline later leaves the timer alone; when it fires
// before the deadline it re-arms for it. The state outlives the stream while a wait is pending.
struct HttpStream::Deadline {
  explicit Deadline(const tcp::socket::executor_type& ex) : timer(ex) {}

  asio::steady_timer timer;
  Clock::time_point at = Clock::time_point::max();
  bool armed = false;
  bool expired = false;
  Stream* stream = nullptr;  // null once the HttpStream is gone

  static void arm(const std::shared_ptr<Deadline>& d) {
    d->armed = true;
    d->timer.expires_at(d->at);
    d->timer.async_wait([d](const error_code& ec) {
      if (ec == asio::error::operation_aborted) {
        return;  // re-armed (a newer wait is pending) or the stream is gone
      }
      d->armed = false;
      if (ec || d->stream == nullptr || d->at == Clock::time_point::max()) {
        return;
      }
      if (Clock::now() < d->at) {
        arm(d);  // the deadline moved later while the timer waited
        return;
      }
      d->expired = true;
      d->stream->cancel();
    });
  }
};

HttpStream::HttpStream(tcp::socket socket, size_t min_input)
    : stream_(std::move(socket), min_input), deadline_(std::make_shared<Deadline>(executor())) {
  deadline_->stream = &stream_;
  stream_.yieldBeforeReads();
}

HttpStream::~HttpStream() {
  deadline_->stream = nullptr;
  deadline_->timer.cancel();
}

void HttpStream::expiresAfter(Clock::duration d) {
  auto& dl = *deadline_;
  dl.at = Clock::now() + d;
  dl.expired = false;
  if (dl.armed && dl.timer.expiry() <= dl.at) {
    return;
  }
  Deadline::arm(deadline_);
}

void HttpStream::expiresNever() {
  deadline_->at = Clock::time_point::max();
  deadline_->expired = false;
}

error_code HttpStream::timedOut(const error_code& ec) const {
  if (deadline_->expired && (ec == asio::error::operation_aborted || !ec)) {
    return beast::error::timeout;
  }
  return ec;
}

asio::awaitable<error_code> HttpStream::connect(const tcp::resolver::results_type& endpoints) {
  if (deadline_->expired) {
    co_return beast::error::timeout;
  }
  auto [ec, ep] = co_await asio::async_connect(socket(), endpoints, kNoThrow);
  co_return timedOut(ec);
}

asio::awaitable<error_code> HttpStream::handshake(ssl::context& ctx,
                                                  ssl::stream_base::handshake_type type,
                                                  const std::string& sni) {
  if (deadline_->expired) {
    co_return beast::error::timeout;
  }
  if (type == ssl::stream_base::client) {
    stream_.requireCloseNotify();
  }
  error_code ec = co_await stream_.handshake(ctx, type, sni);
  co_return timedOut(ec);
}

asio::awaitable<std::tuple<error_code, size_t>> HttpStream::readSome(asio::mutable_buffer buf) {
  if (deadline_->expired) {
    co_return std::tuple<error_code, size_t>{beast::error::timeout, 0};
  }
  auto [ec, n] = co_await stream_.readSome(buf);
  co_return std::tuple<error_code, size_t>{timedOut(ec), n};
}

asio::awaitable<error_code> HttpStream::write(std::string_view head, std::string_view body) {
  if (deadline_->expired) {
    co_return beast::error::timeout;
  }
  parts_.clear();
  for (std::string_view part : {head, body}) {
    if (!part.empty()) {
      parts_.push_back(asio::buffer(part.data(), part.size()));
    }
  }
  error_code ec;
  if (parts_.size() == 1) {
    auto [wec, n] = co_await stream_.write(parts_.front());
    ec = wec;
  } else if (parts_.size() == 2) {
    auto [wec, n] = co_await stream_.write(parts_);
    ec = wec;
  }
  co_return timedOut(ec);
}

size_t HttpStream::readableNow() {
  error_code ec;
  size_t n = socket().available(ec);
  return (ec ? 0 : n) + stream_.buffered();
}

asio::awaitable<void> HttpStream::close() {
  stream_.sendCloseNotify();
  error_code ec;
  socket().shutdown(tcp::socket::shutdown_send, ec);
  expiresAfter(kCloseDrainTime);
  std::array<char, 2048> sink{};
  for (size_t drained = 0; !ec && drained < kCloseDrainBytes;) {
    auto [rec, n] = co_await socket().async_read_some(asio::buffer(sink), kNoThrow);
    ec = rec;
    drained += n;
  }
  expiresNever();
  stream_.close();
}

template <bool isRequest>
asio::awaitable<std::tuple<error_code, size_t>> readSomeParsed(HttpStream& s,
                                                               beast::flat_buffer& buf,
                                                               bhttp::basic_parser<isRequest>& p) {
  using Out = std::tuple<error_code, size_t>;
  size_t used = 0;
  for (;;) {
    if (buf.size() > 0) {
      error_code ec;
      size_t n = p.put(buf.data(), ec);
      buf.consume(n);
      used += n;
      if (ec != bhttp::error::need_more) {
        co_return Out{ec, used};
      }
    }
    size_t room = beast::read_size(buf, 64 * 1024);
    if (room == 0) {
      co_return Out{bhttp::error::buffer_overflow, used};
    }
    auto [ec, n] = co_await s.readSome(buf.prepare(room));
    buf.commit(n);
    if (ec == asio::error::eof) {
      if (!p.got_some()) {
        co_return Out{bhttp::error::end_of_stream, used};
      }
      error_code eof_ec;
      p.put_eof(eof_ec);  // completes a body that ends with the connection, else partial
      co_return Out{eof_ec, used};
    }
    if (ec) {
      co_return Out{ec, used};
    }
  }
}

namespace {

// Parses until the head (`whole` = false) or the whole message is done.
template <bool isRequest>
asio::awaitable<error_code> readParsedUntil(HttpStream& s, beast::flat_buffer& buf,
                                            bhttp::basic_parser<isRequest>& p, bool whole) {
  p.eager(whole);
  while (whole ? !p.is_done() : !p.is_header_done()) {
    auto [ec, n] = co_await readSomeParsed(s, buf, p);
    if (ec) {
      co_return ec;
    }
  }
  co_return error_code();
}

}  // namespace

template <bool isRequest>
asio::awaitable<error_code> readHeaderParsed(HttpStream& s, beast::flat_buffer& buf,
                                             bhttp::basic_parser<isRequest>& p) {
  return readParsedUntil(s, buf, p, false);
}

template <bool isRequest>
asio::awaitable<error_code> readMessageParsed(HttpStream& s, beast::flat_buffer& buf,
                                              bhttp::basic_parser<isRequest>& p) {
  return readParsedUntil(s, buf, p, true);
}

template <bool isRequest>
std::string serialize(bhttp::message<isRequest, bhttp::string_body>& msg) {
  bhttp::serializer<isRequest, bhttp::string_body> sr(msg);
  std::string out;
  error_code ec;
  while (!ec && !sr.is_done()) {
    sr.next(ec, [&](error_code&, const auto& bufs) {
      for (auto b : beast::buffers_range_ref(bufs)) {
        out.append(static_cast<const char*>(b.data()), b.size());
      }
      sr.consume(beast::buffer_bytes(bufs));
    });
  }
  return out;
}

template asio::awaitable<std::tuple<error_code, size_t>> readSomeParsed<false>(
    HttpStream&, beast::flat_buffer&, bhttp::basic_parser<false>&);
template asio::awaitable<error_code> readHeaderParsed<false>(HttpStream&, beast::flat_buffer&,
                                                             bhttp::basic_parser<false>&);
template asio::awaitable<error_code> readMessageParsed<true>(HttpStream&, beast::flat_buffer&,
                                                             bhttp::basic_parser<true>&);
template asio::awaitable<error_code> readMessageParsed<false>(HttpStream&, beast::flat_buffer&,
                                                              bhttp::basic_parser<false>&);
template std::string serialize<true>(bhttp::request<bhttp::string_body>&);
template std::string serialize<false>(bhttp::response<bhttp::string_body>&);

}  // namespace jg::server
