// Request framing: the limits of a client connection, the checks that stop request smuggling
// before a body is read, and the HTTP status for each parse failure.
//
// Beast's parser already refuses much of what smuggling needs (framing_test.cc feeds every case
// through a real bhttp::request_parser): CR, LF, NUL and other controls in values, a bare LF,
// white space before the colon, a method that is not a token, a version other than 1.0 and
// 1.1, Content-Length after a chunked Transfer-Encoding and the reverse, two different
// Content-Length values. What it lets through is checked here: two equal Content-Length fields
// or a list in one, a Transfer-Encoding other than exactly "chunked" (or any in HTTP/1.0),
// Content-Length beside any Transfer-Encoding, a missing, repeated or malformed Host. Beast
// joins obs-fold lines into one value, so obs-fold can only be seen in the raw bytes:
// checkHeadBytes. Pure functions; thread-safe.
#pragma once

#include <algorithm>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "proto/http/beast.h"

namespace jg::http {

// Limits of one client connection; the server enforces them with Beast's parser limits and timers.
struct Limits {
  size_t max_header_bytes = 16 * 1024;        // → 431
  size_t max_body_bytes = 10u << 20;          // request body → 413
  size_t max_decoded_body_bytes = 64u << 20;  // after gzip/deflate decoding (response or request)
  std::chrono::milliseconds first_byte{10'000};  // time to the end of the request header → 408
  std::chrono::milliseconds idle{60'000};        // keep-alive idle → close
  size_t max_concurrent_requests = 1024;         // per listener → 503
};

// Sets the parser limits of `limits` on a request parser (header → 431, body → 413).
template <class Body, class Allocator>
void applyLimits(bhttp::request_parser<Body, Allocator>& parser, const Limits& limits) {
  const size_t header =
      std::min<size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max());
  parser.header_limit(static_cast<std::uint32_t>(header));
  parser.body_limit(limits.max_body_bytes);
}

// Why a request is refused before it reaches policy: the status and the text of a problem
// document (problem.h).
struct Refusal {
  int status = 400;
  std::string title{};
  std::string detail{};
};

// Request smuggling and framing checks on a parsed header, before the body is read. nullopt:
// the framing is unambiguous.
std::optional<Refusal> checkFraming(const bhttp::request_header<>& header);

// Obs-fold (a header line that starts with a space or tab) in the bytes of a request head.
// Beast accepts and unfolds it, so the server calls this on the unconsumed bytes before
// handing them to the parser (the parser consumes a header only once it is complete, so the
// whole head is seen). Only the head is scanned: bytes after the first empty line are ignored.
std::optional<Refusal> checkHeadBytes(std::string_view bytes);

// The status for a parse error of a request: 431 for the header limit, 413 for the body limit,
// 400 for anything else (malformed syntax, smuggling attempts Beast itself refuses).
int statusForParseError(beast::error_code ec);

// The refusal to answer with for a parse error: statusForParseError plus a title and detail.
Refusal refusalForParseError(beast::error_code ec);

}  // namespace jg::http
