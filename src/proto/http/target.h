// Request targets: the text after the method on the request line, checked and normalized.
//
// The gateway routes and decides on the normalized path, and forwards the raw one; the two
// must never disagree about which resource is meant. So everything that different servers
// read differently (an encoded '/' or '\', "..", NUL and control bytes, invalid UTF-8) is
// refused, with a reason the client can act on, instead of being guessed at. Pure functions;
// thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jg::http {

inline constexpr size_t kMaxPathBytes = 8 * 1024;
inline constexpr size_t kMaxQueryParams = 256;

// A request target in origin-form, checked and normalized.
struct Target {
  std::string path{};       // percent-decoded per segment, dot-segments removed, starts with "/"
  std::string raw_path{};   // as received (for absolute-form: without scheme and authority)
  std::string raw_query{};  // without '?'
  std::vector<std::pair<std::string, std::string>> query{};  // decoded ('+' is a space), in order
  std::string authority{};  // absolute-form only: "host[:port]" as received; empty otherwise
};

struct TargetOptions {
  // Accept "http://host/path" and "https://host/path" (a proxy's form) besides "/path".
  bool allow_absolute_form = false;
};

// Refuses (kInvalidArgument, the message says what is wrong and what to send instead): not
// origin-form (absolute-form accepted only if asked), empty, a fragment, invalid
// percent-encoding, an encoded '/' (%2F) or '\' or NUL or control byte in a segment, raw bytes
// that must be percent-encoded (controls, space, non-ASCII, '\'), a ".." segment (raw or
// encoded), non-UTF-8 after decoding, a path longer than kMaxPathBytes, more than
// kMaxQueryParams query parameters. "." segments are removed; empty segments are kept.
Result<Target> parseTarget(std::string_view target);
Result<Target> parseTarget(std::string_view target, const TargetOptions& options);

// Percent-decodes `in` into `out` ('+' is a space when `plus_is_space`). False on a '%' not
// followed by two hex digits.
[[nodiscard]] bool percentDecode(std::string_view in, bool plus_is_space, std::string& out);

}  // namespace jg::http
