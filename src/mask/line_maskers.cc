// The line-oriented body maskers: NDJSON (one JSON document per line) and text.
#include <string>
#include <string_view>

#include "mask/body_maskers.h"
#include "mask/json_stream.h"

namespace jg::mask {
namespace {

Status lineTooLong(size_t limit) {
  return Status::error(Code::kResourceExhausted,
                       "body line exceeds the limit of " + std::to_string(limit) + " bytes");
}

// Text: each line (up to `\n`) masked with the detectors as free text, buffered only when it
// spans chunks. The line ending is kept as it was.
class TextMasker final : public BodyMasker {
 public:
  TextMasker(const BodyPlan& plan, Scanner& scanner, BodyLimits limits)
      : plan_(plan), scanner_(scanner), limits_(limits) {}

  Status write(std::string_view chunk, std::string& out) override {
    return stickyStep(failure_, out, [&] { return consume(chunk, out); });
  }

  Status finish(std::string& out) override {
    if (line_.empty()) {
      return failure_;
    }
    return stickyStep(failure_, out, [&] {
      Status st = maskText(plan_, scanner_, line_, scratch_, stats_.counters, out);
      line_.clear();
      return st;
    });
  }

 private:
  Status consume(std::string_view chunk, std::string& out) {
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      if (line_.size() + piece.size() > limits_.max_string_bytes) {
        return lineTooLong(limits_.max_string_bytes);
      }
      if (nl == std::string_view::npos) {
        line_.append(piece);
        return Status::ok();
      }
      std::string_view line = piece;
      if (!line_.empty()) {
        line_.append(piece);
        line = line_;
      }
      if (Status s = maskText(plan_, scanner_, line, scratch_, stats_.counters, out); !s) {
        return s;
      }
      out.push_back('\n');
      line_.clear();
      chunk.remove_prefix(nl + 1);
    }
    return Status::ok();
  }

  const BodyPlan& plan_;
  Scanner& scanner_;
  BodyLimits limits_;
  Status failure_;
  std::string line_;  // the start of a line that spans chunks
  std::string scratch_;
};

bool isBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

// NDJSON: each line streams into a JsonStream; blank lines are kept, every line ends in `\n`.
// max_items counts the non-blank lines; later ones are dropped (not parsed).
class NdjsonMasker final : public BodyMasker {
 public:
  NdjsonMasker(const BodyPlan& plan, Scanner& scanner, BodyLimits limits)
      : limits_(limits), stream_(plan, scanner, limits, stats_, /*item_limit=*/false) {}

  Status write(std::string_view chunk, std::string& out) override {
    return stickyStep(failure_, out, [&] { return consume(chunk, out); });
  }

  Status finish(std::string& out) override {
    if (blank_ || dropped_) {
      return failure_;
    }
    return stickyStep(failure_, out, [&] { return stream_.finish(out); });
  }

 private:
  Status consume(std::string_view chunk, std::string& out) {
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      if (Status s = feed(piece, out); !s) {
        return s;
      }
      if (nl == std::string_view::npos) {
        return Status::ok();
      }
      if (Status s = endLine(out); !s) {
        return s;
      }
      chunk.remove_prefix(nl + 1);
    }
    return Status::ok();
  }

  Status feed(std::string_view piece, std::string& out) {
    line_bytes_ += piece.size();
    if (line_bytes_ > limits_.max_string_bytes) {
      return lineTooLong(limits_.max_string_bytes);
    }
    if (blank_) {
      if (isBlank(piece)) {
        return Status::ok();
      }
      blank_ = false;
      ++stats_.items;
      if (limits_.max_items > 0 && stats_.items > limits_.max_items) {
        stats_.truncated = true;
        dropped_ = true;
      }
    }
    return dropped_ ? Status::ok() : stream_.write(piece, out);
  }

  Status endLine(std::string& out) {
    if (!blank_ && !dropped_) {
      if (Status s = stream_.finish(out); !s) {
        return s;
      }
    }
    if (!dropped_) {
      out.push_back('\n');
    }
    stream_.reset();
    blank_ = true;
    dropped_ = false;
    line_bytes_ = 0;
    return Status::ok();
  }

  BodyLimits limits_;
  JsonStream stream_;
  Status failure_;
  size_t line_bytes_ = 0;
  bool blank_ = true;     // nothing but white space on the current line so far
  bool dropped_ = false;  // the current line is beyond max_items
};

}  // namespace

std::unique_ptr<BodyMasker> makeTextMasker(const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits) {
  return std::make_unique<TextMasker>(plan, scanner, limits);
}

std::unique_ptr<BodyMasker> makeNdjsonMasker(const BodyPlan& plan, Scanner& scanner,
                                             BodyLimits limits) {
  return std::make_unique<NdjsonMasker>(plan, scanner, limits);
}

}  // namespace jg::mask
