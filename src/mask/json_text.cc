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

bool followedByColon(std::string_view doc, size_t pos) {
  while (pos < doc.size() &&
         (doc[pos] == ' ' || doc[pos] == '\t' || doc[pos] == '\n' || doc[pos] == '\r')) {
    ++pos;
  }
  return pos < doc.size() && doc[pos] == ':';
}

}  // namespace

Result<CellResult> rewriteJson(std::string_view doc, const JsonTokenFn& fn, std::string& out) {
  if (Status s = validateJson(doc); !s) {
    return s;
  }
  std::string result, decoded_buf, replacement;
  bool changed = false;
  size_t copied = 0;  // doc[0, copied) is already in result
  auto replace = [&](size_t from, size_t to, std::string_view with) {
    result.append(doc.substr(copied, from - copied));
    result.append(with);
    copied = to;
    changed = true;
  };
  for (size_t i = 0; i < doc.size();) {
    char c = doc[i];
    if (c == '"' || c == '-' || (c >= '0' && c <= '9')) {
      size_t end = i;
      JsonToken kind;
      std::string_view decoded;
      if (c == '"') {
        end = stringEnd(doc, i);
        decoded = decodeString(doc.substr(i, end - i), decoded_buf);
        kind = followedByColon(doc, end) ? JsonToken::kKey : JsonToken::kString;
      } else {
        while (end < doc.size() && isNumberByte(doc[end])) {
          ++end;
        }
        decoded = doc.substr(i, end - i);
        kind = JsonToken::kNumber;
      }
      replacement.clear();
      Result<CellResult> r = fn(kind, decoded, replacement);
      if (!r) {
        return r.status();
      }
      if (*r == CellResult::kRewritten) {
        replace(i, end, boost::json::serialize(boost::json::string_view(replacement)));
      } else if (*r == CellResult::kNull) {
        if (kind == JsonToken::kKey) {
          return internalError("a json key cannot become null");
        }
        replace(i, end, "null");
      }
      i = end;
    } else {
      ++i;  // structure, whitespace, true/false/null
    }
  }
  if (!changed) {
    return CellResult::kUnchanged;
  }
  result.append(doc.substr(copied));
  out = std::move(result);
  return CellResult::kRewritten;
}

}  // namespace jg::mask
