// Server-sent events (text/event-stream) for MCP's Streamable HTTP transport: an incremental
// reader that turns bytes into events, and the writer of one event.
//
// The reader follows the WHATWG HTML "Server-sent events" parsing rules: lines end in CRLF, LF
// or CR (a CRLF split across two feeds is one line end); a leading UTF-8 BOM is skipped; lines
// starting with ':' are comments; "data" lines join with "\n"; a blank line ends an event, and
// an event without any data line is not dispatched. As in a browser, `id` is the last event ID
// (it carries over to later events until an `id` line changes it; an id containing NUL is
// ignored), `event` defaults to "message", and `retry` (digits only) is reported on the next
// dispatched event. Unknown fields are ignored.
//
// Bounded: the bytes held for one incomplete event (its partial line, data, type and id) never
// exceed max_event_bytes; going over is an error, and a reader in error accepts nothing more.
// This is the one event-stream parser of the code base; mask/sse.cc has its own line handling
// inside the masker and can move onto it. A reader is a per-stream value, not thread-safe;
// sseEventText is pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jg::mcp {

struct SseEvent {
  std::string id{}, event{}, data{};
  std::optional<int> retry{};
};

class SseReader {
 public:
  explicit SseReader(size_t max_event_bytes = 4u << 20);

  // Appends the complete events found in `bytes` to `out`; false on an error (now or earlier).
  [[nodiscard]] bool feed(std::string_view bytes, std::vector<SseEvent>& out);
  bool ok() const { return error_.empty(); }
  // Why the reader stopped ("" while ok()).
  const std::string& error() const { return error_; }
  // Bytes of an incomplete event held (0 at an event boundary: the stream may end here).
  size_t pending() const;

 private:
  bool onLine(std::string_view line, std::vector<SseEvent>& out);
  void onField(std::string_view name, std::string_view value);
  void dispatch(std::vector<SseEvent>& out);
  bool skipBom(std::string_view& bytes);
  bool fail(std::string why);

  size_t max_event_bytes_;
  std::string line_;  // a line not yet ended
  std::string data_, event_, last_id_;
  std::optional<int> retry_;
  bool data_seen_ = false;   // a data line was seen in this event
  bool cr_pending_ = false;  // the last byte was CR: a following LF belongs to it
  size_t bom_seen_ = 0;      // BOM bytes matched so far at the start of the stream
  bool started_ = false;     // past the place where a BOM may be
  std::string error_;
};

// One event as text: "event: ..\nid: ..\ndata: ..\n\n". Data is split into one data line per
// line (at LF, CRLF or CR), so the reader gives back `data` with LF line ends. An empty event or
// id leaves its line out; CR and LF in them are dropped (they would end the field).
std::string sseEventText(std::string_view data, std::string_view event = "message",
                         std::string_view id = {});

}  // namespace jg::mcp
