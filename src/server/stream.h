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
#include <vector>

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
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // TLS handshake as server (client side of the gateway) or as client (upstream side). The
  // context's verification settings (mode, callback) apply.
  asio::awaitable<error_code> handshake(ssl::context& ctx, ssl::stream_base::handshake_type type,
                                        const std::string& sni = {});
  // Reads what is available (at least one byte, or an error; asio::error::eof at the end).
  asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf);
  // Writes every buffer, in order. Over TLS, small buffers are gathered into records of up to
  // 16 KiB, so a batch of small messages costs one record and one send.
  asio::awaitable<std::tuple<error_code, size_t>> write(
      const std::vector<asio::const_buffer>& bufs);
  asio::awaitable<std::tuple<error_code, size_t>> write(asio::const_buffer buf);
  asio::awaitable<error_code> writeAll(std::string_view bytes);
  // Closes the socket (no TLS close_notify: the peer is told by a protocol message first).
  void close();
  bool isTls() const { return ssl_ != nullptr; }
  SSL* nativeTls() { return ssl_; }
  tcp::socket& socket() { return socket_; }
  // Peer address for logs and audit, e.g. "127.0.0.1:51234".
  std::string peer() const;

 private:
  // Writes `len` bytes as TLS records, waiting while the socket is full.
  asio::awaitable<error_code> tlsWrite(const char* data, size_t len);
  // Waits until the socket is ready for what OpenSSL asked (`ssl_error`: WANT_READ/WANT_WRITE);
  // any other result becomes the error to report.
  asio::awaitable<error_code> await(int ssl_result, int ssl_error);

  tcp::socket socket_;
  // TLS runs directly on the socket (OpenSSL's socket BIO, non-blocking): no intermediate
  // buffers or copies between the TLS engine and the kernel, and an idle session holds no
  // record buffers (SSL_MODE_RELEASE_BUFFERS on the contexts).
  SSL* ssl_ = nullptr;
  std::string gather_;  // small buffers of one write(), collected into one record
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
