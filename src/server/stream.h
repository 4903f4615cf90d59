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

// A byte stream as a session sees it: the client's connection or the upstream's. Stream is the
// TCP/TLS one; MemoryStream (memory_stream.h) joins two ends in memory, for sessions driven by
// tests without sockets.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads what is available (at least one byte, or an error; asio::error::eof at the end).
  virtual asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf) = 0;
  // Writes every buffer, in order.
  virtual asio::awaitable<std::tuple<error_code, size_t>> write(
      const std::vector<asio::const_buffer>& bufs) = 0;
  virtual asio::awaitable<std::tuple<error_code, size_t>> write(asio::const_buffer buf) = 0;
  asio::awaitable<error_code> writeAll(std::string_view bytes);
  // Server-side TLS handshake on this stream (the client asked with SSLRequest).
  virtual asio::awaitable<error_code> acceptTls(ssl::context& ctx) = 0;
  // Ends the pending read and write with operation_aborted (the stream stays usable).
  virtual void cancel() = 0;
  // Closes the stream (no TLS close_notify: the peer is told by a protocol message first).
  virtual void close() = 0;
  virtual bool isTls() const = 0;
  virtual SSL* nativeTls() = 0;
  // True when the peer is on this host (plaintext passwords may be allowed there).
  virtual bool peerIsLoopback() const = 0;
  // Peer address for logs and audit, e.g. "127.0.0.1:51234".
  virtual std::string peer() const = 0;
};

class Stream : public ByteStream {
 public:
  // The TLS input buffer never shrinks below `min_input` bytes (see in_ below).
  static constexpr size_t kSmallInput = 1024;
  explicit Stream(tcp::socket socket, size_t min_input = kSmallInput)
      : socket_(std::move(socket)), in_min_(min_input) {}
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // TLS handshake as server (client side of the gateway) or as client (upstream side). The
  // context's verification settings (mode, callback) apply.
  asio::awaitable<error_code> handshake(ssl::context& ctx, ssl::stream_base::handshake_type type,
                                        const std::string& sni = {});
  asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf) override;
  // Over TLS, small buffers are gathered into records of up to 16 KiB, so a batch of small
  // messages costs one record and one send.
  asio::awaitable<std::tuple<error_code, size_t>> write(
      const std::vector<asio::const_buffer>& bufs) override;
  asio::awaitable<std::tuple<error_code, size_t>> write(asio::const_buffer buf) override;
  asio::awaitable<error_code> acceptTls(ssl::context& ctx) override {
    return handshake(ctx, ssl::stream_base::server);
  }
  void cancel() override;
  void close() override;
  bool isTls() const override { return ssl_ != nullptr; }
  SSL* nativeTls() override { return ssl_; }
  // Call before handshake(): a peer that closes the TCP connection without close_notify is then
  // an error (a truncated stream), not an end. For protocols that may end a message by closing.
  void requireCloseNotify() { require_close_notify_ = true; }
  // Sends TLS close_notify without waiting for the peer's (nothing on a plain stream).
  void sendCloseNotify();
  // Lets the executor's other work run before each read that goes to the socket. asio tries a
  // read at once, before waiting, and a read issued right after a write (which completes at
  // once here) usually finds nothing yet: a wasted system call per exchange. A request/response
  // protocol under load has the answer by the time the other connections have had their turn.
  void yieldBeforeReads() { yield_before_read_ = true; }
  // Bytes a read may return without waiting on the socket: received, not yet read (plaintext
  // OpenSSL holds, ciphertext in its or this stream's buffers; a partial record counts too).
  size_t buffered() const;
  bool peerIsLoopback() const override;
  std::string peer() const override;
  tcp::socket& socket() { return socket_; }

 private:
  // Writes `len` bytes as TLS records, waiting while the socket is full.
  asio::awaitable<error_code> tlsWrite(const char* data, size_t len);
  // Waits until the socket is ready for what OpenSSL asked (`ssl_error`: WANT_READ/WANT_WRITE);
  // any other result becomes the error to report.
  asio::awaitable<error_code> await(int ssl_result, int ssl_error);
  // Reads what the socket has into `in_` for OpenSSL (see below).
  asio::awaitable<error_code> fill();
  friend struct StreamInput;

  tcp::socket socket_;
  // TLS writes go straight to the socket (OpenSSL's socket BIO, non-blocking). Reads go through
  // asio into `in_`, which OpenSSL drains through a BIO over it; asio waits for the next
  // readiness edge without re-arming epoll, so a message costs one read() and no epoll_ctl,
  // plus a failed read when it is issued before the bytes are there (asio tries every read at
  // once; see yieldBeforeReads). `in_` starts small
  // (an idle session holds ~1 KiB per side), grows while reads fill it and shrinks back after a
  // run of small reads (a stream that expects messages of several KiB starts with room for a
  // whole record instead); OpenSSL releases its own record buffers when idle
  // (SSL_MODE_RELEASE_BUFFERS).
  SSL* ssl_ = nullptr;
  std::vector<char> in_;
  size_t in_min_;
  size_t in_pos_ = 0;
  size_t in_end_ = 0;
  unsigned small_reads_ = 0;
  bool in_eof_ = false;
  bool filling_ = false;
  bool require_close_notify_ = false;
  bool yield_before_read_ = false;
  std::string gather_;  // small buffers of one write(), collected into one record
};

class MessageReader {
 public:
  explicit MessageReader(size_t max_size) : max_size_(max_size) {}
  // Reads one typed message (or, with startup=true, one startup packet). The frame's payload
  // stays valid until the next call.
  asio::awaitable<Result<pg::Frame>> next(ByteStream& stream, bool startup = false);
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
