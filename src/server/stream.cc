#include "server/stream.h"

#include <fmt/format.h>

namespace jg::server {

asio::awaitable<error_code> Stream::handshake(ssl::context& ctx,
                                              ssl::stream_base::handshake_type type,
                                              const std::string& sni) {
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, ctx);
  if (!sni.empty() && type == ssl::stream_base::client) {
    SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());
  }
  auto [ec] = co_await tls_->async_handshake(type, kNoThrow);
  co_return ec;
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

asio::awaitable<Result<pg::Frame>> MessageReader::next(Stream& stream, bool startup) {
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
