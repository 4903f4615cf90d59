#include "server/memory_stream.h"

#include <algorithm>
#include <cstring>

namespace jg::server {

struct MemoryStream::Pipe {
  explicit Pipe(asio::any_io_executor ex) : wake(ex) {}
  std::string data;
  bool closed = false;
  asio::steady_timer wake;  // cancelled to wake the reader
  void notify() { wake.cancel(); }
};

MemoryStream::MemoryStream(asio::any_io_executor ex, std::shared_ptr<Pipe> in,
                           std::shared_ptr<Pipe> out)
    : ex_(std::move(ex)), in_(std::move(in)), out_(std::move(out)) {}

MemoryStream::~MemoryStream() {
  close();
}

asio::awaitable<std::tuple<error_code, size_t>> MemoryStream::readSome(asio::mutable_buffer buf) {
  while (in_->data.empty() && !in_->closed && !cancel_pending_) {
    in_->wake.expires_at(asio::steady_timer::time_point::max());
    co_await in_->wake.async_wait(kNoThrow);
  }
  if (cancel_pending_) {
    cancel_pending_ = false;
    co_return std::tuple<error_code, size_t>{asio::error::operation_aborted, 0};
  }
  if (in_->data.empty()) {
    co_return std::tuple<error_code, size_t>{asio::error::eof, 0};
  }
  size_t n = std::min(buf.size(), in_->data.size());
  std::memcpy(buf.data(), in_->data.data(), n);
  in_->data.erase(0, n);
  co_return std::tuple<error_code, size_t>{error_code(), n};
}

asio::awaitable<std::tuple<error_code, size_t>> MemoryStream::write(
    const std::vector<asio::const_buffer>& bufs) {
  if (out_->closed) {
    co_return std::tuple<error_code, size_t>{asio::error::broken_pipe, 0};
  }
  size_t n = 0;
  for (const auto& b : bufs) {
    out_->data.append(static_cast<const char*>(b.data()), b.size());
    n += b.size();
  }
  out_->notify();
  co_return std::tuple<error_code, size_t>{error_code(), n};
}

asio::awaitable<std::tuple<error_code, size_t>> MemoryStream::write(asio::const_buffer buf) {
  std::vector<asio::const_buffer> bufs{buf};
  co_return co_await write(bufs);
}

asio::awaitable<error_code> MemoryStream::acceptTls(ssl::context&) {
  co_return asio::error::operation_not_supported;
}

void MemoryStream::cancel() {
  cancel_pending_ = true;
  in_->notify();
}

void MemoryStream::close() {
  in_->closed = true;
  out_->closed = true;
  in_->notify();
  out_->notify();
}

size_t MemoryStream::unread() const {
  return out_->data.size();
}

std::pair<std::unique_ptr<MemoryStream>, std::unique_ptr<MemoryStream>> memoryStreamPair(
    asio::any_io_executor ex) {
  auto a_to_b = std::make_shared<MemoryStream::Pipe>(ex);
  auto b_to_a = std::make_shared<MemoryStream::Pipe>(ex);
  return {std::make_unique<MemoryStream>(ex, b_to_a, a_to_b),
          std::make_unique<MemoryStream>(ex, a_to_b, b_to_a)};
}

}  // namespace jg::server
