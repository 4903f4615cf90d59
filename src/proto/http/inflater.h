// Content-Encoding decoding with a bound: gzip and deflate through zlib.
//
// "deflate" is meant to be zlib-wrapped (RFC 9110), but some servers send raw deflate: the
// first two bytes tell them apart. gzip may have several members back to back. The decoded
// size is bounded, so a decompression bomb is an error, not an allocation. One Inflater decodes
// one body; it is not thread-safe (use it from the body's coroutine only).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jg::http {

class Inflater {
 public:
  enum class Format { kGzip, kDeflate };

  // gzip (and x-gzip) or deflate, case-insensitive. nullopt: identity or unknown; tell them
  // apart with isIdentityEncoding, since an unknown coding cannot be read (fail closed).
  static std::optional<Format> formatOf(std::string_view content_encoding);

  // `limit`: the most decoded bytes this body may have in total.
  Inflater(Format f, size_t limit);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Appends the bytes `in` decodes to onto `out`. Errors: kInvalidArgument when the data is
  // corrupt or continues after the end of the stream, kResourceExhausted when the decoded size
  // passes `limit`. After an error every later call fails the same way.
  [[nodiscard]] Status write(std::string_view in, std::string& out);

  // Fails (kInvalidArgument) when the stream is truncated: its end was never seen.
  [[nodiscard]] Status finish();

  // Decoded bytes so far.
  size_t decodedBytes() const { return decoded_; }

 private:
  struct Stream;
  [[nodiscard]] Status start(std::string_view first_bytes);
  [[nodiscard]] Status inflateSome(std::string_view in, std::string& out);
  [[nodiscard]] Status take(std::string_view decoded, std::string& out);  // within the bound
  [[nodiscard]] Status fail(Status s);

  Format format_;
  size_t limit_;
  size_t decoded_ = 0;
  std::unique_ptr<Stream> stream_;  // zlib state, made once the wrapper is known
  std::string pending_;             // deflate: the first byte, until the second arrives
  bool ended_ = false;              // the last member's end was seen
  Status error_;                    // sticky
};

// Content-Encoding values that mean "not encoded": empty and "identity".
bool isIdentityEncoding(std::string_view content_encoding);

}  // namespace jg::http
