// Stream: a TCP connection that may have been upgraded to TLS, with coroutine read/write that
// report errors as values. Owned by one session and used from its executor only.
//
// MessageReader frames protocol messages from a Stream for the phases where throughput does not
// matter (startup, authentication); the relay uses its own buffers (see relay.h).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>
#include <tuple>

#include "core/status.h"
#include "proto/pg/framer.h"

namespace jg::server {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}

  // TLS handshake as server (client side of the gateway) or as client (upstream side).
  asio::awaitable<error_code> handshake(ssl::context& ctx, ssl::stream_base::handshake_type type,
                                        const std::string& sni = {});

  asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf) {
    if (tls_) {
      co_return co_await tls_->async_read_some(buf, kNoThrow);
    }
    co_return co_await socket_.async_read_some(buf, kNoThrow);
  }

  template <typename Buffers>
  asio::awaitable<std::tuple<error_code, size_t>> write(const Buffers& bufs) {
    if (tls_) {
      co_return co_await asio::async_write(*tls_, bufs, kNoThrow);
    }
    co_return co_await asio::async_write(socket_, bufs, kNoThrow);
  }

  asio::awaitable<error_code> writeAll(std::string_view bytes) {
    auto [ec, n] = co_await write(asio::buffer(bytes.data(), bytes.size()));
    co_return ec;
  }

  // Closes the socket (no TLS close_notify: the peer is told by a protocol message first).
  void close();
  bool isTls() const { return tls_ != nullptr; }
  SSL* nativeTls() { return tls_ ? tls_->native_handle() : nullptr; }
  tcp::socket& socket() { return socket_; }
  // Peer address for logs and audit, e.g. "127.0.0.1:51234".
  std::string peer() const;

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
};

class MessageReader {
 public:
  explicit MessageReader(size_t max_size) : max_size_(max_size) {}
  // Reads one typed message (or, with startup=true, one startup packet). The frame's payload
  // stays valid until the next call.
  asio::awaitable<Result<pg::Frame>> next(Stream& stream, bool startup = false);
  // Bytes already received but not yet returned (pipelined by the client after startup).
  std::string_view leftover() const { return std::string_view(buf_).substr(start_); }
  void clearLeftover() {
    buf_.clear();
    start_ = 0;
  }

 private:
  std::string buf_;
  size_t start_ = 0;
  size_t max_size_;
};

}  // namespace jg::server
