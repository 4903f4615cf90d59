// JsonWriter: appends compact JSON to a string, for encoding audit records without building a
// DOM (one pass, no per-field allocations).
//
// The caller drives the structure (beginObject/key/value/endObject); the writer inserts commas.
// Strings are escaped as JSON requires and are always valid UTF-8 on output: an invalid byte is
// written as U+FFFD, so a record stays parseable whatever bytes a peer sent. Not thread-safe;
// the output string is borrowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace jg::audit {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void beginObject() { open('{'); }
  void endObject() { close('}'); }
  void beginArray() { open('['); }
  void endArray() { close(']'); }
  void key(std::string_view k);
  void str(std::string_view v);
  void u64(uint64_t v);
  void i64(int64_t v);
  void boolean(bool v);
  void null();

  // key + value shorthands; the *IfSet forms omit empty strings and zeros.
  void field(std::string_view k, std::string_view v) {
    key(k);
    str(v);
  }
  void fieldU64(std::string_view k, uint64_t v) {
    key(k);
    u64(v);
  }
  void fieldIfSet(std::string_view k, std::string_view v) {
    if (!v.empty()) {
      field(k, v);
    }
  }
  void fieldU64IfSet(std::string_view k, uint64_t v) {
    if (v != 0) {
      fieldU64(k, v);
    }
  }

 private:
  void separate() {
    if (comma_) {
      out_.push_back(',');
    }
    comma_ = true;
  }
  void open(char c) {
    separate();
    out_.push_back(c);
    comma_ = false;
  }
  void close(char c) {
    out_.push_back(c);
    comma_ = true;
  }

  std::string& out_;
  bool comma_ = false;  // a value was written at this level: the next one needs a comma
};

// True when `s` is valid UTF-8 (strict: no overlongs, no surrogates).
bool validUtf8(std::string_view s);

}  // namespace jg::audit
