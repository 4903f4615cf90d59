#include "server/relay_io.h"

#include <algorithm>
#include <cstring>

#include "proto/pg/framer.h"

namespace jg::server {
namespace {

// An idle session holds two buffers of the minimum (client and upstream side); a read that
// fills its room doubles the room for the next, so a large result reaches kMaxChunk in 7 reads.
constexpr size_t kMinChunk = 2 * 1024;
constexpr size_t kMaxChunk = 256 * 1024;
constexpr size_t kShrinkAbove = 1 << 20;

}  // namespace

ReadBuffer::ReadBuffer(std::string pending)
    : buf_(std::move(pending)), used_(buf_.size()), chunk_(kMinChunk) {
  buf_.resize(std::max(kMinChunk, used_));
}

void ReadBuffer::consume(size_t consumed) {
  if (consumed > 0) {
    std::memmove(buf_.data(), buf_.data() + consumed, used_ - consumed);
    used_ -= consumed;
  }
  if (buf_.size() > kShrinkAbove && used_ < kMinChunk) {
    buf_.resize(kMinChunk);
    buf_.shrink_to_fit();
  }
  // Room for `chunk_` more bytes, and for a message announced larger than that, room that
  // doubles with what has arrived.
  size_t need = used_ + chunk_;
  size_t pending = pg::pendingFrameSize(std::string_view(buf_.data(), used_));
  if (pending > need) {
    need = std::min(pending, std::max(need, 2 * used_));
  }
  if (buf_.size() < need) {
    buf_.resize(need);
  }
}

void ReadBuffer::commit(size_t n) {
  chunk_ = n == buf_.size() - used_ ? std::min(chunk_ * 2, kMaxChunk) : chunk_;
  used_ += n;
}

const std::vector<asio::const_buffer>& Batch::buffers(const std::string& in) {
  bufs_.clear();
  for (const auto& p : pieces_) {
    const std::string& src = p.extra ? extra_ : in;
    bufs_.emplace_back(src.data() + p.off, p.len);
  }
  return bufs_;
}

}  // namespace jg::server
