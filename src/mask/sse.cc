// The server-sent events masker (text/event-stream, WHATWG HTML "Server-sent events").
//
// Lines end in CRLF, LF or CR; a blank line ends an event. An event is held until it is complete,
// then written out masked: its `data` lines are joined with `\n` as the spec says, masked as
// JSON when they parse as one JSON value (path rules relative to that document) and as free
// text otherwise, and written back as `data: ` lines (JSON data on one line). `event`, `id` and
// `retry` lines pass through in place; comments are masked as free text and kept (a comment
// outside an event is written at once, so keep-alive comments still flow); fields the spec does
// not define are dropped. Output lines end in `\n`.
#include <string>
#include <string_view>

#include "mask/body_maskers.h"
#include "mask/json_stream.h"

namespace jg::mask {
namespace {

class SseMasker final : public BodyMasker {
 public:
  SseMasker(const BodyPlan& plan, Scanner& scanner, BodyLimits limits)
      : plan_(plan),
        scanner_(scanner),
        limits_(limits),
        json_(plan, scanner, limits, data_stats_, /*item_limit=*/false) {}

  Status write(std::string_view chunk, std::string& out) override {
    return stickyStep(failure_, out, [&] { return consume(chunk, out); });
  }

  Status finish(std::string& out) override {
    if (failure_.isOk() && (!line_.empty() || eventOpen())) {
      failure_ = invalidArgument("event stream ends inside an event");
    }
    (void)out;
    return failure_;
  }

 private:
  bool eventOpen() const { return has_data_ || !head_.empty() || !tail_.empty(); }

  Status consume(std::string_view chunk, std::string& out) {
    while (!chunk.empty()) {
      if (cr_pending_) {
        cr_pending_ = false;
        if (chunk[0] == '\n') {
          chunk.remove_prefix(1);
          continue;
        }
      }
      size_t end = chunk.find_first_of("\r\n");
      std::string_view piece = chunk.substr(0, end);
      if (event_bytes_ + line_.size() + piece.size() > limits_.max_string_bytes) {
        return Status::error(
            Code::kResourceExhausted,
            "event exceeds the limit of " + std::to_string(limits_.max_string_bytes) + " bytes");
      }
      if (end == std::string_view::npos) {
        line_.append(piece);
        return Status::ok();
      }
      std::string_view line = piece;
      if (!line_.empty()) {
        line_.append(piece);
        line = line_;
      }
      cr_pending_ = chunk[end] == '\r';
      Status s = onLine(line, out);
      line_.clear();
      if (!s) {
        return s;
      }
      chunk.remove_prefix(end + 1);
    }
    return Status::ok();
  }

  Status onLine(std::string_view line, std::string& out) {
    if (line.empty()) {
      return dispatch(out);
    }
    event_bytes_ += line.size() + 1;
    std::string& fields = has_data_ ? tail_ : head_;
    if (line[0] == ':') {
      std::string& sink = eventOpen() ? fields : out;
      if (Status s = maskText(plan_, scanner_, line, scratch_, stats_.counters, sink); !s) {
        return s;
      }
      sink.push_back('\n');
      return Status::ok();
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
    if (name == "data") {
      if (has_data_) {
        data_.push_back('\n');
      }
      data_.append(value);
      has_data_ = true;
    } else if (name == "event" || name == "id" || name == "retry") {
      fields.append(line);
      fields.push_back('\n');
    }
    return Status::ok();
  }

  Status dispatch(std::string& out) {
    out.append(head_);
    if (has_data_) {
      if (Status s = maskData(out); !s) {
        return s;
      }
    }
    out.append(tail_);
    out.push_back('\n');
    head_.clear();
    tail_.clear();
    data_.clear();
    has_data_ = false;
    event_bytes_ = 0;
    return Status::ok();
  }

  // The event's data as `data: ` lines: JSON when it parses as JSON, else free text.
  Status maskData(std::string& out) {
    masked_.clear();
    json_.reset();
    data_stats_ = BodyStats();
    Status s = json_.write(data_, masked_);
    if (s) {
      s = json_.finish(masked_);
    }
    if (s) {
      // Only data that is JSON counts its JSON values and ids (text data is counted below).
      stats_.counters.add(data_stats_.counters);
      for (const std::string& id : data_stats_.document_ids) {
        stats_.addDocumentId(id);
      }
      out.append("data: ").append(masked_).push_back('\n');
      return Status::ok();
    }
    if (!json_.syntaxError()) {
      return s;
    }
    masked_.clear();
    if (Status t = maskText(plan_, scanner_, data_, scratch_, stats_.counters, masked_); !t) {
      return t;
    }
    std::string_view rest = masked_;
    while (true) {
      size_t nl = rest.find('\n');
      out.append("data: ").append(rest.substr(0, nl)).push_back('\n');
      if (nl == std::string_view::npos) {
        return Status::ok();
      }
      rest.remove_prefix(nl + 1);
    }
  }

  const BodyPlan& plan_;
  Scanner& scanner_;
  BodyLimits limits_;
  BodyStats data_stats_;  // what the JSON attempt on one event's data saw
  JsonStream json_;
  Status failure_;
  std::string line_;  // a line that spans chunks
  bool cr_pending_ = false;
  std::string head_;  // event/id/retry/comment lines before the first data line
  std::string tail_;  // and after it
  std::string data_;
  bool has_data_ = false;
  size_t event_bytes_ = 0;
  std::string masked_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<BodyMasker> makeSseMasker(const BodyPlan& plan, Scanner& scanner,
                                          BodyLimits limits) {
  return std::make_unique<SseMasker>(plan, scanner, limits);
}

}  // namespace jg::mask
