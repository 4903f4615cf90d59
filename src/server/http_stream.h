// HttpStream: a client or upstream connection of the HTTP front end. The bytes go through the
// same lean Stream as the PostgreSQL path (stream.h: TLS writes straight to the socket, reads
// through one asio read into a buffer OpenSSL drains), and one deadline per connection bounds
// whatever operation is pending when it passes.
//
// The free functions below run Beast's HTTP parsers and serializers over it: Beast parses and
// serializes, the I/O is this stream's. Used from one executor at a time.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "server/stream.h"

namespace jg::server {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

class HttpStream {
 public:
  // Room for one whole TLS record in the input buffer: HTTP messages are often several KiB, and
  // a smaller buffer would take a record in several reads.
  static constexpr size_t kRecordInput = 17 * 1024;
  explicit HttpStream(tcp::socket socket, size_t min_input = kRecordInput);
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  tcp::socket& socket() { return stream_.socket(); }
  tcp::socket::executor_type executor() { return stream_.socket().get_executor(); }
  bool tls() const { return stream_.isTls(); }
  SSL* nativeTls() { return stream_.nativeTls(); }

  // Connects to the first endpoint that answers (an unconnected stream only).
  asio::awaitable<error_code> connect(const tcp::resolver::results_type& endpoints);
  // TLS as server (the client's side of the gateway) or as client (an upstream: `sni` names the
  // host, and a close without close_notify is a truncated stream, not an end).
  asio::awaitable<error_code> handshake(ssl::context& ctx, ssl::stream_base::handshake_type type,
                                        const std::string& sni = {});
  // Reads what is available; asio::error::eof at the end.
  asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf);
  // Writes `head` then `body` (either may be empty) in as few records and sends as they allow.
  asio::awaitable<error_code> write(std::string_view head, std::string_view body = {});

  // The deadline for the operations that follow: one pending when it passes ends with
  // beast::error::timeout, and so does every later one until the deadline is set again. Moving
  // the deadline later costs no timer operation (the timer wakes at the old time and re-arms).
  void expiresAfter(std::chrono::steady_clock::duration d);
  void expiresNever();

  // Bytes a read returns without waiting on the network (see Stream::buffered), plus what the
  // kernel holds for the socket.
  size_t readableNow();
  // Ends the pending operation with operation_aborted.
  void cancel() { stream_.cancel(); }
  // close_notify, then the end of sending; what the peer still sends is read and dropped for a
  // moment (so that a reply the peer has not read yet is not lost to a reset); then closes.
  asio::awaitable<void> close();

 private:
  struct Deadline;
  error_code timedOut(const error_code& ec) const;

  Stream stream_;
  std::shared_ptr<Deadline> deadline_;
  std::vector<asio::const_buffer> parts_;  // write(head, body), kept for its capacity
};

// Like Beast's http::async_read_some: parses what `buf` holds and reads when the parser needs
// more (at most 64 KiB and the buffer's free room at a time). The bytes the parser used.
template <bool isRequest>
asio::awaitable<std::tuple<error_code, size_t>> readSomeParsed(HttpStream& s,
                                                               beast::flat_buffer& buf,
                                                               bhttp::basic_parser<isRequest>& p);
// Until the head is parsed (the body is left to the caller).
template <bool isRequest>
asio::awaitable<error_code> readHeaderParsed(HttpStream& s, beast::flat_buffer& buf,
                                             bhttp::basic_parser<isRequest>& p);
// Until the whole message is parsed.
template <bool isRequest>
asio::awaitable<error_code> readMessageParsed(HttpStream& s, beast::flat_buffer& buf,
                                              bhttp::basic_parser<isRequest>& p);

// The message as it goes on the wire (head and body, chunked if it says so).
template <bool isRequest>
std::string serialize(bhttp::message<isRequest, bhttp::string_body>& msg);

}  // namespace jg::server
