#include "proto/pg/framer.h"

#include <fmt/format.h>

#include "core/bytes.h"

namespace jg::pg {

FrameStatus nextFrame(std::string_view buf, size_t max_size, Frame& out, std::string& error) {
  if (buf.size() < 5) {
    return FrameStatus::kNeedMore;
  }
  uint32_t len = loadU32(buf.data() + 1);
  if (len < 4) {
    error = fmt::format("invalid message length {} for message type '{}'", len,
                        static_cast<unsigned char>(buf[0]) >= 32 ? buf[0] : '?');
    return FrameStatus::kError;
  }
  if (static_cast<size_t>(len) + 1 > max_size) {
    error =
        fmt::format("message of {} bytes exceeds the limit of {} bytes", size_t{len} + 1, max_size);
    return FrameStatus::kError;
  }
  if (buf.size() < size_t{len} + 1) {
    return FrameStatus::kNeedMore;
  }
  out.type = buf[0];
  out.payload = buf.substr(5, len - 4);
  out.size = size_t{len} + 1;
  return FrameStatus::kReady;
}

FrameStatus nextStartupFrame(std::string_view buf, size_t max_size, Frame& out,
                             std::string& error) {
  if (buf.size() < 4) {
    return FrameStatus::kNeedMore;
  }
  uint32_t len = loadU32(buf.data());
  if (len < 8) {
    error = fmt::format("invalid startup packet length {}", len);
    return FrameStatus::kError;
  }
  if (len > max_size) {
    error = fmt::format("startup packet of {} bytes exceeds the limit of {} bytes", len, max_size);
    return FrameStatus::kError;
  }
  if (buf.size() < len) {
    return FrameStatus::kNeedMore;
  }
  out.type = 0;
  out.payload = buf.substr(4, len - 4);
  out.size = len;
  return FrameStatus::kReady;
}

size_t pendingFrameSize(std::string_view buf) {
  if (buf.size() < 5) {
    return 0;
  }
  return size_t{loadU32(buf.data() + 1)} + 1;
}

}  // namespace jg::pg
