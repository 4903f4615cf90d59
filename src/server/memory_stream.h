// MemoryStream: two ends of a byte stream joined in memory, on one executor.
//
// A session runs over them exactly as over sockets (ByteStream), which lets tests play the
// client and the upstream server byte by byte without a socket or a second thread. Both ends
// must be used from the executor they were made on.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "server/stream.h"

namespace jg::server {

class MemoryStream : public ByteStream {
 public:
  struct Pipe;  // one direction: bytes written at one end, read at the other

  MemoryStream(asio::any_io_executor ex, std::shared_ptr<Pipe> in, std::shared_ptr<Pipe> out);
  ~MemoryStream() override;

  asio::awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf) override;
  asio::awaitable<std::tuple<error_code, size_t>> write(
      const std::vector<asio::const_buffer>& bufs) override;
  asio::awaitable<std::tuple<error_code, size_t>> write(asio::const_buffer buf) override;
  asio::awaitable<error_code> acceptTls(ssl::context&) override;
  void cancel() override;
  // Closes both directions: the peer reads what was written, then EOF; its writes fail.
  void close() override;
  bool isTls() const override { return false; }
  SSL* nativeTls() override { return nullptr; }
  bool peerIsLoopback() const override { return true; }
  std::string peer() const override { return "memory"; }

  // Bytes written to this end that the peer has not read yet.
  size_t unread() const;

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<Pipe> in_, out_;
  bool cancel_pending_ = false;
};

// Two connected ends: what one writes, the other reads.
std::pair<std::unique_ptr<MemoryStream>, std::unique_ptr<MemoryStream>> memoryStreamPair(
    asio::any_io_executor ex);

}  // namespace jg::server
