// The pumps' buffers (relay.cc).
//
// ReadBuffer: what a pump has read and not yet consumed. Read sizes adapt: a session starts
// small (idle sessions cost little memory) and doubles its read size while reads fill the buffer
// (large results stream in big reads). Memory follows the bytes received, never an announced
// length: a client that announces a 250 MB message and sends nothing more pins kilobytes.
//
// Batch: the output of one pass over the buffer, as slices of the read buffer (messages passed
// through unchanged, no copy) and of `extra` (messages the gateway rewrote), written in one
// gather write.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/stream.h"

namespace jg::server {

class ReadBuffer {
 public:
  explicit ReadBuffer(std::string pending);
  std::string_view from(size_t pos) const { return std::string_view(buf_.data() + pos, used_ - pos); }
  const std::string& data() const { return buf_; }
  // Drops the first `consumed` bytes and makes room for the next read.
  void consume(size_t consumed);
  asio::mutable_buffer space() { return asio::buffer(buf_.data() + used_, buf_.size() - used_); }
  // Counts `n` bytes read into space().
  void commit(size_t n);

 private:
  std::string buf_;
  size_t used_ = 0;
  size_t chunk_;
};

class Batch {
 public:
  void forward(size_t off, size_t len) {
    if (!pieces_.empty() && !pieces_.back().extra &&
        pieces_.back().off + pieces_.back().len == off) {
      pieces_.back().len += len;
      return;
    }
    pieces_.push_back({false, off, len});
  }
  std::string& beginExtra(size_t& mark) {
    mark = extra_.size();
    return extra_;
  }
  void endExtra(size_t mark) {
    if (extra_.size() > mark) {
      pieces_.push_back({true, mark, extra_.size() - mark});
    }
  }
  // Forgets what was appended to `extra` since `mark` (nothing of it is sent).
  void dropExtra(size_t mark) { extra_.resize(mark); }
  std::string_view extraFrom(size_t off) const { return std::string_view(extra_).substr(off); }
  // Appends a message the gateway made.
  void add(std::string_view bytes) {
    size_t mark;
    beginExtra(mark) += bytes;
    endExtra(mark);
  }
  bool empty() const { return pieces_.empty(); }
  // The batch as buffers over `in` (the read buffer the slices refer to).
  const std::vector<asio::const_buffer>& buffers(const std::string& in);
  void clear() {
    pieces_.clear();
    extra_.clear();
  }

 private:
  struct Piece {
    bool extra;
    size_t off, len;
  };
  std::vector<Piece> pieces_;
  std::string extra_;
  std::vector<asio::const_buffer> bufs_;
};

}  // namespace jg::server
