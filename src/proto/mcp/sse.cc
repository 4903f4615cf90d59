// text/event-stream reader and writer (see sse.h).
#include "proto/mcp/sse.h"

#include <climits>
#include <utility>

namespace jg::mcp {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string withoutLineEnds(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '\r' && c != '\n') {
      out.push_back(c);
    }
  }
  return out;
}

// The value of a retry field: ASCII digits only, and small enough for an int.
std::optional<int> retryValue(std::string_view value) {
  if (value.empty() || value.size() > 9) {
    return std::nullopt;
  }
  int n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

SseReader::SseReader(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

size_t SseReader::pending() const {
  // A data line with an empty value still opens an event: count it as one byte.
  return (started_ ? 0 : bom_seen_) + line_.size() + data_.size() + event_.size() +
         (data_seen_ && data_.empty() ? 1 : 0);
}

bool SseReader::fail(std::string why) {
  if (error_.empty()) {
    error_ = std::move(why);
  }
  return false;
}

// Holds back a BOM that may be split across feeds; true once past it.
bool SseReader::skipBom(std::string_view& bytes) {
  while (!started_ && !bytes.empty()) {
    if (bytes[0] != kBom[bom_seen_]) {
      started_ = true;
      // A partial BOM followed by something else is text: give those bytes back.
      line_.append(kBom.substr(0, bom_seen_));
      return true;
    }
    bytes.remove_prefix(1);
    if (++bom_seen_ == kBom.size()) {
      started_ = true;
    }
  }
  return started_;
}

bool SseReader::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (!ok()) {
    return false;
  }
  if (!skipBom(bytes)) {
    return true;
  }
  while (!bytes.empty()) {
    if (cr_pending_) {
      cr_pending_ = false;
      if (bytes[0] == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    size_t end = bytes.find_first_of("\r\n");
    std::string_view piece = bytes.substr(0, end);
    if (pending() + piece.size() > max_event_bytes_) {
      return fail("an event exceeds the limit of " + std::to_string(max_event_bytes_) + " bytes");
    }
    if (end == std::string_view::npos) {
      line_.append(piece);
      return true;
    }
    cr_pending_ = bytes[end] == '\r';
    // The line leaves line_ before it is handled, so its bytes are not counted twice.
    std::string held = std::move(line_);
    line_.clear();
    if (!held.empty()) {
      held.append(piece);
      piece = held;
    }
    if (!onLine(piece, out)) {
      return false;
    }
    bytes.remove_prefix(end + 1);
  }
  return true;
}

bool SseReader::onLine(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    dispatch(out);
    return true;
  }
  if (line[0] == ':') {
    return true;
  }
  size_t colon = line.find(':');
  std::string_view name = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') {
      value.remove_prefix(1);
    }
  }
  onField(name, value);
  if (pending() > max_event_bytes_) {
    return fail("an event exceeds the limit of " + std::to_string(max_event_bytes_) + " bytes");
  }
  return true;
}

void SseReader::onField(std::string_view name, std::string_view value) {
  if (name == "data") {
    if (data_seen_) {
      data_.push_back('\n');
    }
    data_seen_ = true;
    data_.append(value);
  } else if (name == "event") {
    event_.assign(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_id_.assign(value);
    }
  } else if (name == "retry") {
    if (std::optional<int> ms = retryValue(value)) {
      retry_ = ms;
    }
  }
}

void SseReader::dispatch(std::vector<SseEvent>& out) {
  if (data_seen_) {
    out.push_back(SseEvent{.id = last_id_,
                           .event = event_.empty() ? std::string("message") : event_,
                           .data = std::move(data_),
                           .retry = retry_});
    retry_.reset();
  }
  data_.clear();
  event_.clear();
  data_seen_ = false;
}

std::string sseEventText(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!event.empty()) {
    out += "event: " + withoutLineEnds(event) + "\n";
  }
  if (!id.empty()) {
    out += "id: " + withoutLineEnds(id) + "\n";
  }
  while (true) {
    size_t end = data.find_first_of("\r\n");
    out += "data: ";
    out.append(data.substr(0, end));
    out.push_back('\n');
    if (end == std::string_view::npos) {
      break;
    }
    bool crlf = data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n';
    data.remove_prefix(end + (crlf ? 2 : 1));
  }
  out.push_back('\n');
  return out;
}

}  // namespace jg::mcp
