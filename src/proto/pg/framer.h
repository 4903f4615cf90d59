// Message framing: finds complete messages in a byte buffer.
//
// Regular messages are a type byte, an int32 length that counts itself, and a payload. Startup
// packets have no type byte. The framer only splits; it does not interpret payloads. A length
// below the minimum or above the caller's limit is an error, so a hostile peer cannot make the
// gateway buffer without bound. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jg::pg {

enum class FrameStatus { kNeedMore, kReady, kError };

struct Frame {
  char type = 0;             // 0 for startup packets
  std::string_view payload;  // the bytes after the length field
  size_t size = 0;           // the whole message including type byte and length
};

// Tries to take one typed message from the front of `buf`. On kReady, `out` is set. On kError,
// `error` says why (for the client and the log). `max_size` bounds the total message size.
FrameStatus nextFrame(std::string_view buf, size_t max_size, Frame& out, std::string& error);

// The same for a startup-phase packet (int32 length, then payload).
FrameStatus nextStartupFrame(std::string_view buf, size_t max_size, Frame& out, std::string& error);

// For kNeedMore: how many bytes the message at the front of `buf` needs in total, once its
// header is complete (0 if the header itself is incomplete). Used to size reads.
size_t pendingFrameSize(std::string_view buf);

}  // namespace jg::pg
