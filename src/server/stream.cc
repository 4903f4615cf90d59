#include "server/stream.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace jg::server {

namespace {

constexpr size_t kRecordBytes = 16 * 1024;  // the TLS maximum record payload
// Ciphertext input buffer: an idle session holds the small size, a stream of large records
// grows it up to the large one (several records per read), and a run of small reads shrinks it.
constexpr size_t kInLarge = 64 * 1024;
constexpr unsigned kShrinkAfter = 8;

error_code sslError(unsigned long code) {
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

// `buf` resized to `size`, with its unread bytes [pos, end) moved to the front.
void resizeInput(std::vector<char>& buf, size_t& pos, size_t& end, size_t size) {
  std::vector<char> next(size);
  std::copy(buf.begin() + pos, buf.begin() + end, next.begin());
  end -= pos;
  pos = 0;
  buf.swap(next);
}

}  // namespace

// The read BIO: hands OpenSSL the bytes asio read into Stream::in_; "retry" when there are none
// (OpenSSL reports WANT_READ, and the stream fills), EOF once the peer closed and all is read.
struct StreamInput {
  static int read(BIO* bio, char* out, size_t len, size_t* got) {
    auto* s = static_cast<Stream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    size_t avail = s->in_end_ - s->in_pos_;
    if (avail == 0) {
      if (!s->in_eof_) {
        BIO_set_retry_read(bio);
      }
      *got = 0;
      return 0;
    }
    size_t n = std::min(avail, len);
    std::memcpy(out, s->in_.data() + s->in_pos_, n);
    s->in_pos_ += n;
    *got = n;
    return 1;
  }

  static long ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    auto* s = static_cast<Stream*>(BIO_get_data(bio));
    switch (cmd) {
      case BIO_CTRL_PENDING:
        return static_cast<long>(s->in_end_ - s->in_pos_);
      case BIO_CTRL_EOF:
        return s->in_eof_ && s->in_pos_ == s->in_end_ ? 1 : 0;
      case BIO_CTRL_FLUSH:
        return 1;
      default:
        return 0;
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "jitgate-in");
      BIO_meth_set_read_ex(meth, &StreamInput::read);
      BIO_meth_set_ctrl(meth, &StreamInput::ctrl);
      BIO_meth_set_create(meth, &StreamInput::create);
      return meth;
    }();
    return m;
  }
};

Stream::~Stream() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
  }
}

asio::awaitable<error_code> Stream::fill() {
  if (in_pos_ == in_end_) {
    in_pos_ = in_end_ = 0;
  }
  size_t want = in_.empty() ? in_min_ : in_.size();
  if (small_reads_ >= kShrinkAfter && in_.size() > in_min_ && in_pos_ == in_end_) {
    want = in_min_;
  }
  if (want != in_.size()) {
    resizeInput(in_, in_pos_, in_end_, want);
    small_reads_ = 0;
  }
  filling_ = true;
  if (yield_before_read_) {
    co_await asio::post(socket_.get_executor(), asio::use_awaitable);
  }
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(in_.data() + in_end_, in_.size() - in_end_), kNoThrow);
  filling_ = false;
  if (ec == asio::error::eof) {
    in_eof_ = true;  // OpenSSL reads the end through the BIO, after what it has
    co_return error_code();
  }
  if (ec) {
    co_return ec;
  }
  bool full = in_end_ + n == in_.size();
  in_end_ += n;
  small_reads_ = n * 4 < in_.size() ? small_reads_ + 1 : 0;
  if (full && in_.size() < kInLarge) {
    resizeInput(in_, in_pos_, in_end_, std::min(in_.size() * 4, kInLarge));
  }
  co_return error_code();
}

asio::awaitable<error_code> Stream::await(int ssl_result, int ssl_error) {
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ: {
      if (!filling_) {
        co_return co_await fill();
      }
      // The other direction is already reading (a write that needs the peer's bytes while the
      // reader waits for them; with renegotiation off only a handshake message can cause it):
      // let that read land, then retry.
      asio::steady_timer pause(socket_.get_executor(), std::chrono::milliseconds(1));
      co_await pause.async_wait(kNoThrow);
      co_return error_code();
    }
    case SSL_ERROR_WANT_WRITE: {
      auto [ec] = co_await socket_.async_wait(tcp::socket::wait_write, kNoThrow);
      co_return ec;
    }
    case SSL_ERROR_ZERO_RETURN:
      co_return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      unsigned long e = ERR_get_error();
      if (e != 0) {
        co_return sslError(e);
      }
      co_return errno != 0 && ssl_result < 0 ? error_code(errno, asio::error::get_system_category())
                                             : error_code(asio::error::eof);
    }
    default: {
      unsigned long e = ERR_get_error();
      co_return e != 0 ? sslError(e) : error_code(asio::error::connection_aborted);
    }
  }
}

asio::awaitable<error_code> Stream::handshake(ssl::context& ctx,
                                              ssl::stream_base::handshake_type type,
                                              const std::string& sni) {
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) {
    co_return ec;
  }
  ssl_ = SSL_new(ctx.native_handle());
  if (ssl_ == nullptr) {
    co_return sslError(ERR_get_error());
  }
  BIO* in = BIO_new(StreamInput::method());
  BIO* out = BIO_new_socket(static_cast<int>(socket_.native_handle()), BIO_NOCLOSE);
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    co_return sslError(ERR_get_error());
  }
  BIO_set_data(in, this);
  SSL_set_bio(ssl_, in, out);
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Records come out of `in_` whole where they can (one BIO call for several records).
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
  // Unless the protocol needs it, a peer that closes the TCP connection without close_notify
  // ends the stream like EOF; the PostgreSQL protocol frames every message and ends with
  // Terminate, so truncation is seen there.
  if (!require_close_notify_) {
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  }
  if (type == ssl::stream_base::client) {
    if (!sni.empty()) {
      SSL_set_tlsext_host_name(ssl_, sni.c_str());
    }
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      co_return error_code();
    }
    int err = SSL_get_error(ssl_, r);
    if (ec = co_await await(r, err); ec) {
      co_return ec;
    }
  }
}

asio::awaitable<std::tuple<error_code, size_t>> Stream::readSome(asio::mutable_buffer buf) {
  if (ssl_ == nullptr) {
    if (yield_before_read_) {
      co_await asio::post(socket_.get_executor(), asio::use_awaitable);
    }
    co_return co_await socket_.async_read_some(buf, kNoThrow);
  }
  for (;;) {
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
    if (r == 1) {
      co_return std::tuple<error_code, size_t>{error_code(), n};
    }
    int err = SSL_get_error(ssl_, r);
    if (error_code ec = co_await await(r, err)) {
      co_return std::tuple<error_code, size_t>{ec, 0};
    }
  }
}

asio::awaitable<error_code> Stream::tlsWrite(const char* data, size_t len) {
  while (len > 0) {
    size_t chunk = std::min(len, kRecordBytes);
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(ssl_, data, chunk, &n);
    if (r == 1) {
      data += n;
      len -= n;
      continue;
    }
    int err = SSL_get_error(ssl_, r);
    if (error_code ec = co_await await(r, err)) {
      co_return ec;  // retried with the same bytes (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
    }
  }
  co_return error_code();
}

asio::awaitable<std::tuple<error_code, size_t>> Stream::write(asio::const_buffer buf) {
  if (ssl_ == nullptr) {
    co_return co_await asio::async_write(socket_, buf, kNoThrow);
  }
  error_code ec = co_await tlsWrite(static_cast<const char*>(buf.data()), buf.size());
  co_return std::tuple<error_code, size_t>{ec, ec ? 0 : buf.size()};
}

asio::awaitable<std::tuple<error_code, size_t>> Stream::write(
    const std::vector<asio::const_buffer>& bufs) {
  if (ssl_ == nullptr) {
    co_return co_await asio::async_write(socket_, bufs, kNoThrow);
  }
  if (bufs.size() == 1) {
    co_return co_await write(bufs.front());
  }
  size_t total = 0;
  gather_.clear();
  for (const auto& b : bufs) {
    const char* p = static_cast<const char*>(b.data());
    total += b.size();
    if (gather_.size() + b.size() <= kRecordBytes) {
      gather_.append(p, b.size());
      continue;
    }
    // Fill the pending record, send it, then send what is large directly.
    size_t fill = kRecordBytes - gather_.size();
    gather_.append(p, fill);
    if (error_code ec = co_await tlsWrite(gather_.data(), gather_.size())) {
      co_return std::tuple<error_code, size_t>{ec, 0};
    }
    gather_.clear();
    size_t rest = b.size() - fill;
    size_t direct = rest - rest % kRecordBytes;
    if (direct > 0) {
      if (error_code ec = co_await tlsWrite(p + fill, direct)) {
        co_return std::tuple<error_code, size_t>{ec, 0};
      }
    }
    gather_.append(p + fill + direct, rest - direct);
  }
  if (!gather_.empty()) {
    if (error_code ec = co_await tlsWrite(gather_.data(), gather_.size())) {
      co_return std::tuple<error_code, size_t>{ec, 0};
    }
  }
  if (gather_.capacity() > 4096) {
    std::string().swap(gather_);  // idle sessions keep no record-sized buffer
  }
  co_return std::tuple<error_code, size_t>{error_code(), total};
}

asio::awaitable<error_code> ByteStream::writeAll(std::string_view bytes) {
  auto result = co_await write(asio::buffer(bytes.data(), bytes.size()));
  co_return std::get<0>(result);
}

void Stream::sendCloseNotify() {
  if (ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1) {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);  // one non-blocking attempt: the peer's answer is not awaited
    ERR_clear_error();
  }
}

size_t Stream::buffered() const {
  size_t n = in_end_ - in_pos_;
  if (ssl_ != nullptr) {
    n += static_cast<size_t>(SSL_pending(ssl_));
    n += SSL_has_pending(ssl_) == 1 && SSL_pending(ssl_) == 0 ? 1 : 0;
  }
  return n;
}

void Stream::cancel() {
  error_code ec;
  socket_.cancel(ec);
}

bool Stream::peerIsLoopback() const {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return !ec && ep.address().is_loopback();
}

void Stream::close() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string Stream::peer() const {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

asio::awaitable<Result<pg::Frame>> MessageReader::next(ByteStream& stream, bool startup) {
  if (start_ > 0 && start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  }
  for (;;) {
    std::string_view avail = std::string_view(buf_).substr(start_);
    pg::Frame frame;
    std::string error;
    auto st = startup ? pg::nextStartupFrame(avail, max_size_, frame, error)
                      : pg::nextFrame(avail, max_size_, frame, error);
    if (st == pg::FrameStatus::kReady) {
      start_ += frame.size;
      co_return frame;
    }
    if (st == pg::FrameStatus::kError) {
      co_return protocolError(error);
    }
    if (start_ > 0) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + 8192);
    auto [ec, n] = co_await stream.readSome(asio::buffer(buf_.data() + old, 8192));
    buf_.resize(old + n);
    if (ec) {
      co_return Status::error(Code::kUnavailable,
                              ec == asio::error::eof ? "connection closed" : ec.message(), "08006");
    }
  }
}

}  // namespace jg::server
