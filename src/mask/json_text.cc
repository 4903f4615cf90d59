#include "mask/json_text.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "mask/scanner.h"

namespace jg::mask {
namespace {

// A handler that accepts everything: basic_parser validates syntax and UTF-8 without building
// a DOM.
struct NullHandler {
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);
  using ec = boost::system::error_code;
  bool on_document_begin(ec&) { return true; }
  bool on_document_end(ec&) { return true; }
  bool on_object_begin(ec&) { return true; }
  bool on_object_end(size_t, ec&) { return true; }
  bool on_array_begin(ec&) { return true; }
  bool on_array_end(size_t, ec&) { return true; }
  bool on_key_part(boost::json::string_view, size_t, ec&) { return true; }
  bool on_key(boost::json::string_view, size_t, ec&) { return true; }
  bool on_string_part(boost::json::string_view, size_t, ec&) { return true; }
  bool on_string(boost::json::string_view, size_t, ec&) { return true; }
  bool on_number_part(boost::json::string_view, ec&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, ec&) { return true; }
  bool on_uint64(uint64_t, boost::json::string_view, ec&) { return true; }
  bool on_double(double, boost::json::string_view, ec&) { return true; }
  bool on_bool(bool, ec&) { return true; }
  bool on_null(ec&) { return true; }
  bool on_comment_part(boost::json::string_view, ec&) { return true; }
  bool on_comment(boost::json::string_view, ec&) { return true; }
};

Status validateJson(std::string_view doc) {
  boost::json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::json::basic_parser<NullHandler> p(opts);
  boost::system::error_code ec;
  size_t n = p.write_some(false, doc.data(), doc.size(), ec);
  if (ec || n != doc.size()) {
    return invalidArgument("json value does not parse: " + ec.message());
  }
  return Status::ok();
}

bool isNumberByte(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// End of the string token starting at the quote `start`. REQUIRES: doc is valid JSON.
size_t stringEnd(std::string_view doc, size_t start) {
  size_t i = start + 1;
  while (doc[i] != '"') {
    i += doc[i] == '\\' ? 2 : 1;
  }
  return i + 1;
}

// Decodes a string token (with its quotes) into `out`, or returns its interior when it has no
// escapes.
std::string_view decodeString(std::string_view token, std::string& scratch) {
  std::string_view inner = token.substr(1, token.size() - 2);
  if (inner.find('\\') == std::string_view::npos) {
    return inner;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(token, ec);
  scratch.assign(v.as_string().data(), v.as_string().size());  // valid: checked by validateJson
  return scratch;
}

bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool followedByColon(std::string_view doc, size_t pos) {
  while (pos < doc.size() && isJsonSpace(doc[pos])) {
    ++pos;
  }
  return pos < doc.size() && doc[pos] == ':';
}

// True if the token at `pos` is a member's value: the byte before it (past whitespace) is `:`.
bool precededByColon(std::string_view doc, size_t pos) {
  while (pos > 0 && isJsonSpace(doc[pos - 1])) {
    --pos;
  }
  return pos > 0 && doc[pos - 1] == ':';
}

struct Token {
  JsonToken kind;
  size_t end;
  std::string_view decoded;
};

// Reads the string or number starting at `i`. REQUIRES: doc is valid JSON.
Token readToken(std::string_view doc, size_t i, std::string& scratch) {
  if (doc[i] == '"') {
    size_t end = stringEnd(doc, i);
    std::string_view decoded = decodeString(doc.substr(i, end - i), scratch);
    return {followedByColon(doc, end) ? JsonToken::kKey : JsonToken::kString, end, decoded};
  }
  size_t end = i;
  while (end < doc.size() && isNumberByte(doc[end])) {
    ++end;
  }
  return {JsonToken::kNumber, end, doc.substr(i, end - i)};
}

}  // namespace

Result<CellResult> rewriteJson(std::string_view doc, const JsonTokenFn& fn, std::string& out) {
  if (Status s = validateJson(doc); !s) {
    return s;
  }
  std::string result, decoded_buf, replacement, key;
  bool changed = false;
  size_t copied = 0;  // doc[0, copied) is already in result
  for (size_t i = 0; i < doc.size();) {
    char c = doc[i];
    if (c != '"' && c != '-' && (c < '0' || c > '9')) {
      ++i;  // structure, whitespace, true/false/null
      continue;
    }
    Token t = readToken(doc, i, decoded_buf);
    if (t.kind == JsonToken::kKey) {
      key.assign(t.decoded);
    }
    std::string_view member =
        t.kind != JsonToken::kKey && precededByColon(doc, i) ? std::string_view(key) : "";
    replacement.clear();
    Result<CellResult> r = fn(t.kind, t.decoded, member, replacement);
    if (!r) {
      return r.status();
    }
    if (*r != CellResult::kUnchanged) {
      if (*r == CellResult::kNull && t.kind == JsonToken::kKey) {
        return internalError("a json key cannot become null");
      }
      result.append(doc.substr(copied, i - copied));
      result.append(*r == CellResult::kNull
                        ? std::string("null")
                        : boost::json::serialize(boost::json::string_view(replacement)));
      copied = t.end;
      changed = true;
    }
    i = t.end;
  }
  if (!changed) {
    return CellResult::kUnchanged;
  }
  result.append(doc.substr(copied));
  out = std::move(result);
  return CellResult::kRewritten;
}

}  // namespace jg::mask
