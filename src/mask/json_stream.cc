#include "mask/json_stream.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/detail/sse2.hpp>
#include <boost/json/serialize.hpp>

#include "mask/secrets.h"

namespace jg::mask {
namespace {

// Tokens shorter than this are prefiltered in batches; longer strings are scanned at once
// (one Vectorscan call each costs little next to their length).
constexpr size_t kShortToken = 64;
// The batch is settled when its text reaches this size.
constexpr size_t kBatchBytes = 4096;

using JsonView = boost::json::string_view;
using ErrorCode = boost::system::error_code;

std::string_view view(JsonView s) {
  return {s.data(), s.size()};
}

bool needsEscape(std::string_view text) {
  // Boost.JSON's serializer scan (SSE2, 16 bytes a step) clears the long prefix; the bytes it
  // stopped at are checked one by one.
  text.remove_prefix(boost::json::detail::count_unescaped(text.data(), text.size()));
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      return true;
    }
  }
  return false;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  if (!needsEscape(text)) {
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  out.append(boost::json::serialize(JsonView(text.data(), text.size())));
}

// The SAX handler basic_parser calls; every event goes to the stream.
struct JsonStream::Handler {
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);
  JsonStream* s;

  bool on_document_begin(ErrorCode&) { return true; }
  bool on_document_end(ErrorCode&) { return true; }
  bool on_object_begin(ErrorCode& ec) { return check(s->beginContainer(false), ec); }
  bool on_object_end(size_t, ErrorCode& ec) { return check(s->endContainer(), ec); }
  bool on_array_begin(ErrorCode& ec) { return check(s->beginContainer(true), ec); }
  bool on_array_end(size_t, ErrorCode& ec) { return check(s->endContainer(), ec); }
  bool on_key_part(JsonView p, size_t, ErrorCode& ec) {
    return check(s->stringPart(view(p), true), ec);
  }
  bool on_key(JsonView p, size_t, ErrorCode& ec) { return check(s->stringEnd(view(p), true), ec); }
  bool on_string_part(JsonView p, size_t, ErrorCode& ec) {
    return check(s->stringPart(view(p), false), ec);
  }
  bool on_string(JsonView p, size_t, ErrorCode& ec) {
    return check(s->stringEnd(view(p), false), ec);
  }
  bool on_number_part(JsonView p, ErrorCode& ec) { return check(s->numberPart(view(p)), ec); }
  bool on_int64(int64_t, JsonView p, ErrorCode& ec) { return check(s->numberEnd(view(p)), ec); }
  bool on_uint64(uint64_t, JsonView p, ErrorCode& ec) { return check(s->numberEnd(view(p)), ec); }
  bool on_double(double, JsonView p, ErrorCode& ec) { return check(s->numberEnd(view(p)), ec); }
  bool on_bool(bool b, ErrorCode& ec) { return check(s->literal(b ? "true" : "false"), ec); }
  bool on_null(ErrorCode& ec) { return check(s->literal("null"), ec); }
  bool on_comment_part(JsonView, ErrorCode&) { return true; }
  bool on_comment(JsonView, ErrorCode&) { return true; }

  static bool check(bool ok, ErrorCode& ec) {
    if (!ok) {
      ec = boost::json::error::exception;  // the reason is in failure_
    }
    return ok;
  }
};

struct JsonStream::Parser {
  Parser(const boost::json::parse_options& opts, JsonStream* s) : p(opts, Handler{s}) {}
  boost::json::basic_parser<Handler> p;
};

JsonStream::JsonStream(const BodyPlan& plan, Scanner& scanner, const BodyLimits& limits,
                       BodyStats& stats, bool item_limit)
    : plan_(plan), scanner_(scanner), limits_(limits), stats_(stats), item_limit_(item_limit) {
  boost::json::parse_options opts;
  opts.max_depth = limits.max_depth;
  parser_ = std::make_unique<Parser>(opts, this);
}

JsonStream::~JsonStream() = default;

void JsonStream::reset() {
  parser_->p.reset();
  failure_ = Status::ok();
  syntax_error_ = false;
  frames_.clear();
  states_.clear();
  mode_ = Mode::kEmit;
  in_key_ = false;
  in_scalar_ = false;
  capture_.clear();
  batch_.clear();
  pending_.clear();
}

bool JsonStream::fail(Status status) {
  failure_ = std::move(status);
  return false;
}

Status JsonStream::run(bool more, std::string_view chunk, std::string& out) {
  if (!failure_.isOk()) {
    return failure_;
  }
  out_ = &out;
  size_t start = out.size();
  ErrorCode ec;
  size_t n = parser_->p.write_some(more, chunk.data(), chunk.size(), ec);
  if (ec && failure_.isOk()) {
    syntax_error_ = ec != boost::json::error::too_deep;
    failure_ = invalidArgument("JSON body does not parse: " + ec.message());
  } else if (!ec && n != chunk.size()) {
    syntax_error_ = true;
    failure_ = invalidArgument("JSON body has data after its value");
  }
  if (failure_.isOk()) {
    failure_ = settle();
  }
  if (!failure_.isOk()) {
    out.resize(start);  // nothing of a failed write is sent
    pending_.clear();
    batch_.clear();
  }
  return failure_;
}

Status JsonStream::write(std::string_view chunk, std::string& out) {
  return run(true, chunk, out);
}

Status JsonStream::finish(std::string& out) {
  return run(false, {}, out);
}

void JsonStream::evaluate(Value& v) const {
  for (size_t i = v.states; i < states_.size(); ++i) {
    int32_t p = plan_.paths().ends(states_[i]);
    if (p < 0) {
      continue;
    }
    const BodyPlan::Use& use = plan_.use(static_cast<size_t>(p));
    switch (use.role) {
      case BodyPlan::Role::kRule:
        v.rule = stricter(v.rule, &plan_.rules()[use.rule]);
        break;
      case BodyPlan::Role::kDocumentId:
        v.document_id = true;
        break;
      case BodyPlan::Role::kItemLimit:
        v.item_array = true;
        break;
    }
  }
}

JsonStream::Value JsonStream::beginValue() {
  Value v;
  v.states = states_.size();
  if (mode_ == Mode::kDrop) {
    return v;
  }
  if (frames_.empty()) {
    plan_.paths().root(states_);
  } else {
    Frame& f = frames_.back();
    // A child has at most two states per parent state; reserving keeps `parent` valid.
    states_.reserve(v.states + 2 * (v.states - f.states));
    std::span<const PathMatcher::State> parent(states_.data() + f.states, v.states - f.states);
    std::string_view key = key_;
    if (!parent.empty()) {
      plan_.paths().step(parent, f.array ? nullptr : &key, states_);
    }
    if (f.item_array) {
      ++stats_.items;
      if (limits_.max_items > 0 && f.index++ >= limits_.max_items) {
        stats_.truncated = true;
        v.drop = true;
        return v;
      }
    }
    if (f.array) {
      std::string& sink = mode_ == Mode::kCapture ? capture_ : *out_;
      if (!f.first) {
        sink.push_back(',');
      }
      f.first = false;
    }
  }
  evaluate(v);
  if (mode_ != Mode::kEmit) {
    v.rule = nullptr;  // the enclosing value is masked whole already
    v.item_array = false;
  }
  v.item_array = v.item_array && item_limit_;
  return v;
}

bool JsonStream::beginContainer(bool array) {
  Value v = beginValue();
  if (mode_ == Mode::kEmit && (v.drop || v.rule != nullptr)) {
    mode_ = v.drop ? Mode::kDrop : Mode::kCapture;
    mode_depth_ = frames_.size();
    capture_rule_ = v.rule;
    capture_.clear();
  }
  frames_.push_back(Frame{.array = array, .item_array = array && v.item_array, .states = v.states});
  char open = array ? '[' : '{';
  if (mode_ == Mode::kCapture) {
    return capture(std::string_view(&open, 1));
  }
  if (mode_ == Mode::kEmit) {
    out_->push_back(open);
  }
  return true;
}

bool JsonStream::endContainer() {
  Frame f = frames_.back();
  frames_.pop_back();
  states_.resize(f.states);
  char close = f.array ? ']' : '}';
  if (mode_ == Mode::kEmit) {
    out_->push_back(close);
    return true;
  }
  if (mode_ == Mode::kCapture && !capture(std::string_view(&close, 1))) {
    return false;
  }
  if (frames_.size() != mode_depth_) {
    return true;
  }
  Mode ended = mode_;
  mode_ = Mode::kEmit;
  return ended == Mode::kDrop || maskWhole(*capture_rule_, capture_);
}

bool JsonStream::capture(std::string_view bytes) {
  if (capture_.size() + bytes.size() > limits_.max_string_bytes) {
    return fail(Status::error(Code::kResourceExhausted,
                              "JSON value under a masking rule exceeds the string limit"));
  }
  capture_.append(bytes);
  return true;
}

bool JsonStream::tooLong() {
  return fail(Status::error(
      Code::kResourceExhausted,
      "JSON string exceeds the limit of " + std::to_string(limits_.max_string_bytes) + " bytes"));
}

bool JsonStream::stringPart(std::string_view part, bool key) {
  if (!(key ? in_key_ : in_scalar_)) {
    if (key) {
      in_key_ = true;
      key_.clear();
    } else {
      in_scalar_ = true;
      value_ = beginValue();
      text_.clear();
    }
  }
  std::string& buf = key ? key_ : text_;
  if (buf.size() + part.size() > limits_.max_string_bytes) {
    return tooLong();
  }
  buf.append(part);
  return true;
}

bool JsonStream::stringEnd(std::string_view part, bool key) {
  if (key) {
    if (!in_key_) {
      if (part.size() > limits_.max_string_bytes) {
        return tooLong();
      }
      key_.assign(part);
    } else if (!stringPart(part, true)) {
      return false;
    }
    in_key_ = false;
    return writeKey();
  }
  return scalarEnd(part, JsonToken::kString);
}

bool JsonStream::numberPart(std::string_view part) {
  return stringPart(part, false);
}

bool JsonStream::numberEnd(std::string_view part) {
  return scalarEnd(part, JsonToken::kNumber);
}

// The last part of a string value or a number: joined to the parts before it (if any), within
// the string limit, then masked and written.
bool JsonStream::scalarEnd(std::string_view part, JsonToken kind) {
  std::string_view text = part;
  if (in_scalar_) {
    if (!stringPart(part, false)) {
      return false;
    }
    text = text_;
  } else if (part.size() > limits_.max_string_bytes) {
    return tooLong();
  } else {
    value_ = beginValue();
  }
  in_scalar_ = false;
  return finishScalar(text, kind, false);
}

bool JsonStream::literal(std::string_view text) {
  value_ = beginValue();
  return finishScalar(text, JsonToken::kNumber, /*literal=*/true);
}

bool JsonStream::finishScalar(std::string_view text, JsonToken kind, bool literal) {
  Value v = value_;
  states_.resize(v.states);
  if (mode_ == Mode::kDrop || v.drop) {
    return true;
  }
  if (v.document_id && !literal) {
    stats_.addDocumentId(text);
  }
  if (mode_ == Mode::kCapture) {
    std::string tmp;
    std::string_view bytes = text;
    if (kind == JsonToken::kString) {
      appendJsonString(tmp, text);
      bytes = tmp;
    }
    return capture(bytes);
  }
  if (v.rule != nullptr) {
    return maskWhole(*v.rule, text);
  }
  if (literal || !plan_.detects()) {
    return writeToken(*out_, text, kind);
  }
  bool member = !frames_.empty() && !frames_.back().array;
  return detect(text, kind, member ? std::string_view(key_) : std::string_view());
}

bool JsonStream::writeKey() {
  if (mode_ == Mode::kDrop) {
    return true;
  }
  Frame& f = frames_.back();
  std::string& sink = mode_ == Mode::kCapture ? capture_ : *out_;
  if (mode_ == Mode::kCapture) {
    std::string tmp;
    if (!f.first) {
      tmp.push_back(',');
    }
    f.first = false;
    appendJsonString(tmp, key_);
    tmp.push_back(':');
    return capture(tmp);
  }
  if (!f.first) {
    sink.push_back(',');
  }
  f.first = false;
  bool ok =
      plan_.detects() ? detect(key_, JsonToken::kKey, {}) : writeToken(sink, key_, JsonToken::kKey);
  sink.push_back(':');
  return ok;
}

bool JsonStream::writeToken(std::string& sink, std::string_view text, JsonToken kind) {
  if (kind == JsonToken::kNumber) {
    sink.append(text);
  } else {
    appendJsonString(sink, text);
  }
  return true;
}

// isSecretKey, remembered for the first kSecretKeyMemo short member names (they repeat in every
// item).
bool JsonStream::secretKey(std::string_view member) {
  for (const auto& [name, secret] : secret_keys_) {
    if (name == member) {
      return secret;
    }
  }
  bool secret = isSecretKey(member);
  if (secret_keys_.size() < kSecretKeyMemo && member.size() < kShortToken) {
    secret_keys_.emplace_back(member, secret);
  }
  return secret;
}

// A key, string or number through the detectors: long strings and secret members now, short
// tokens into the batch.
bool JsonStream::detect(std::string_view text, JsonToken kind, std::string_view member) {
  bool secret = !member.empty() && secretKey(member);
  if (!secret && text.size() < kShortToken) {
    size_t from = out_->size();
    writeToken(*out_, text, kind);
    pending_.push_back(Pending{.out_from = from,
                               .out_to = out_->size(),
                               .text_from = batch_.size(),
                               .text_to = batch_.size() + text.size(),
                               .kind = kind});
    batch_.append(text);
    batch_.push_back('\n');
    if (batch_.size() >= kBatchBytes) {
      Status s = settle();
      return s.isOk() || fail(std::move(s));
    }
    return true;
  }
  masked_.clear();
  Result<CellResult> r =
      scanner_.maskJsonToken(*plan_.profile(), kind, text, member, masked_, stats_.counters);
  if (!r) {
    return fail(r.status());
  }
  if (*r == CellResult::kUnchanged) {
    return writeToken(*out_, text, kind);
  }
  if (*r == CellResult::kNull) {
    out_->append("null");
  } else {
    appendJsonString(*out_, masked_);
  }
  return true;
}

bool JsonStream::maskWhole(const ColumnRule& rule, std::string_view text) {
  masked_.clear();
  Result<CellResult> r = scanner_.maskByRule(rule, text, masked_, stats_.counters);
  if (!r) {
    return fail(r.status());
  }
  if (*r == CellResult::kNull) {
    out_->append("null");
  } else if (*r == CellResult::kRewritten) {
    appendJsonString(*out_, masked_);
  } else {
    out_->append(text);  // not reached: a rule always rewrites
  }
  return true;
}

// Prefilters the batch of short tokens; when it hits, masks them one by one and rewrites the
// output between the first pending token and the end.
Status JsonStream::settle() {
  if (pending_.empty()) {
    return Status::ok();
  }
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  Result<bool> hit = scanner_.prefilterHits(*plan_.profile(), batch_);
  if (!hit || !*hit) {
    batch_.clear();
    return hit ? Status::ok() : hit.status();
  }
  std::string rebuilt(*out_, 0, pending.front().out_from);
  size_t copied = pending.front().out_from;
  for (const Pending& p : pending) {
    std::string_view text(batch_.data() + p.text_from, p.text_to - p.text_from);
    masked_.clear();
    Result<CellResult> r =
        scanner_.maskJsonToken(*plan_.profile(), p.kind, text, {}, masked_, stats_.counters);
    if (!r) {
      batch_.clear();
      return r.status();
    }
    if (*r == CellResult::kUnchanged) {
      continue;
    }
    rebuilt.append(*out_, copied, p.out_from - copied);
    if (*r == CellResult::kNull) {
      rebuilt.append("null");
    } else {
      appendJsonString(rebuilt, masked_);
    }
    copied = p.out_to;
  }
  rebuilt.append(*out_, copied);
  out_->swap(rebuilt);
  batch_.clear();
  return Status::ok();
}

}  // namespace jg::mask
