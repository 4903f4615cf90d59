// JsonStream: one JSON document masked as it streams, the kernel of the JSON, NDJSON and SSE
// body maskers (body.h).
//
// Boost.JSON's incremental basic_parser reads the bytes and calls a SAX handler; the handler
// follows the plan's paths (json_path.h) and writes the masked document, compact, into the
// caller's buffer: keys in order, numbers as spelled in the source, each string re-escaped.
// Per value: inside an item beyond max_items nothing is written; a value at a rule's path is
// masked whole (a container is first serialized, bounded by max_string_bytes); any other key,
// string or number goes through Scanner::maskJsonToken. Short tokens (keys, numbers, short
// strings) are prefiltered in batches and rewritten only when their batch hits; the batch is
// settled before write() returns, so everything written is final.
//
// Errors are sticky: after one, every call fails. Not thread-safe; one per body (or per NDJSON
// line / SSE event, through reset()).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "mask/body.h"

namespace jg::mask {

class JsonStream {
 public:
  // `item_limit`: count the items of the plan's item-limit array and apply limits.max_items.
  // REQUIRES: plan, scanner and stats outlive the stream.
  JsonStream(const BodyPlan& plan, Scanner& scanner, const BodyLimits& limits, BodyStats& stats,
             bool item_limit);
  ~JsonStream();
  JsonStream(const JsonStream&) = delete;
  JsonStream& operator=(const JsonStream&) = delete;

  // Parses `chunk`, appending the masked output of every complete token to `out`. Bytes after
  // the end of the document other than whitespace are an error (one value per document).
  [[nodiscard]] Status write(std::string_view chunk, std::string& out);
  // Ends the document: an error when it is incomplete.
  [[nodiscard]] Status finish(std::string& out);
  // Ready for a new document.
  void reset();
  // True when the last error was a JSON syntax error (not a limit or a masking failure).
  bool syntaxError() const { return syntax_error_; }

 private:
  struct Handler;
  struct Parser;
  enum class Mode { kEmit, kCapture, kDrop };
  struct Frame {
    bool array = false;
    bool first = true;
    bool item_array = false;
    int64_t index = 0;
    size_t states = 0;  // offset of this node's states in states_
  };
  struct Value {
    const ColumnRule* rule = nullptr;
    bool document_id = false;
    bool item_array = false;
    bool drop = false;
    size_t states = 0;
  };
  struct Pending {
    size_t out_from = 0;  // the token's bytes in *out_
    size_t out_to = 0;
    size_t text_from = 0;  // its decoded text in batch_
    size_t text_to = 0;
    JsonToken kind = JsonToken::kString;
  };

  // SAX events (Handler forwards to these); false stops the parser with failure_ set.
  bool beginContainer(bool array);
  bool endContainer();
  bool stringPart(std::string_view part, bool key);
  bool stringEnd(std::string_view part, bool key);
  bool numberPart(std::string_view part);
  bool numberEnd(std::string_view part);
  bool scalarEnd(std::string_view part, JsonToken kind);
  bool literal(std::string_view text);

  Value beginValue();
  void evaluate(Value& v) const;
  bool finishScalar(std::string_view text, JsonToken kind, bool literal);
  bool writeKey();
  bool detect(std::string_view text, JsonToken kind, std::string_view member);
  bool secretKey(std::string_view member);
  bool maskWhole(const ColumnRule& rule, std::string_view text);
  bool writeToken(std::string& sink, std::string_view text, JsonToken kind);
  bool capture(std::string_view bytes);
  bool fail(Status status);
  bool tooLong();
  [[nodiscard]] Status settle();
  [[nodiscard]] Status run(bool more, std::string_view chunk, std::string& out);

  const BodyPlan& plan_;
  Scanner& scanner_;
  BodyLimits limits_;
  BodyStats& stats_;
  bool item_limit_ = false;
  std::unique_ptr<Parser> parser_;
  std::string* out_ = nullptr;
  Status failure_;
  bool syntax_error_ = false;

  std::vector<Frame> frames_;
  std::vector<PathMatcher::State> states_;
  Mode mode_ = Mode::kEmit;
  size_t mode_depth_ = 0;  // frames_.size() when the mode began
  const ColumnRule* capture_rule_ = nullptr;
  std::string capture_;
  Value value_;  // the scalar being read
  bool in_key_ = false;
  bool in_scalar_ = false;
  std::string key_;
  std::string text_;  // a string or number arriving in parts
  std::string masked_;
  std::string batch_;
  std::vector<Pending> pending_;
  static constexpr size_t kSecretKeyMemo = 32;
  std::vector<std::pair<std::string, bool>> secret_keys_;
};

// Appends `text` as a JSON string (quoted, escaped) to `out`. REQUIRES: valid UTF-8.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace jg::mask
