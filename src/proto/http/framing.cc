#include "proto/http/framing.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include "core/text.h"

namespace jg::http {
namespace {

Refusal badRequest(std::string title, std::string detail) {
  return Refusal{.status = 400, .title = std::move(title), .detail = std::move(detail)};
}

std::optional<Refusal> checkContentLength(const bhttp::request_header<>& header) {
  const auto n = header.count(bhttp::field::content_length);
  if (n == 0) {
    return std::nullopt;
  }
  if (n > 1) {
    return badRequest("Ambiguous request framing",
                      "the request has more than one Content-Length field; send exactly one");
  }
  const std::string_view value = header[bhttp::field::content_length];
  for (const char c : value) {
    if (!isAsciiDigit(c)) {
      return badRequest("Ambiguous request framing",
                        "Content-Length must be one decimal number, not a list");
    }
  }
  return std::nullopt;
}

std::optional<Refusal> checkTransferEncoding(const bhttp::request_header<>& header) {
  const auto n = header.count(bhttp::field::transfer_encoding);
  if (n == 0) {
    return std::nullopt;
  }
  if (header.count(bhttp::field::content_length) != 0) {
    return badRequest("Ambiguous request framing",
                      "the request has both Content-Length and Transfer-Encoding; send one");
  }
  if (header.version() == 10) {
    return badRequest("Ambiguous request framing",
                      "Transfer-Encoding is not allowed in an HTTP/1.0 request; use HTTP/1.1 or "
                      "Content-Length");
  }
  const std::string_view value = header[bhttp::field::transfer_encoding];
  if (n > 1 || !beast::iequals(trimSpace(value), "chunked")) {
    return badRequest("Unsupported transfer coding",
                      "the only Transfer-Encoding accepted in a request is exactly \"chunked\"");
  }
  return std::nullopt;
}

// A Host value: reg-name, IPv4 or [IPv6], an optional port; no user information or path.
bool isPlausibleHost(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  for (const char c : host) {
    const bool ok = isAsciiAlnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' ||
                    c == ']' || c == '~' || c == '%';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::optional<Refusal> checkHost(const bhttp::request_header<>& header) {
  const auto n = header.count(bhttp::field::host);
  if (n == 0) {
    return badRequest("Missing Host", "the request has no Host field; send one");
  }
  if (n > 1) {
    return badRequest("Ambiguous Host", "the request has more than one Host field; send one");
  }
  if (!isPlausibleHost(header[bhttp::field::host])) {
    return badRequest("Invalid Host", "the Host field is not a host name with an optional port");
  }
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> checkFraming(const bhttp::request_header<>& header) {
  if (auto r = checkContentLength(header)) {
    return r;
  }
  if (auto r = checkTransferEncoding(header)) {
    return r;
  }
  return checkHost(header);
}

std::optional<Refusal> checkHeadBytes(std::string_view bytes) {
  const size_t end = bytes.find("\r\n\r\n");
  const std::string_view head = bytes.substr(0, end);
  for (size_t pos = head.find("\r\n"); pos != std::string_view::npos;
       pos = head.find("\r\n", pos + 2)) {
    if (pos + 2 < head.size() && (head[pos + 2] == ' ' || head[pos + 2] == '\t')) {
      return badRequest("Obsolete line folding",
                        "a header line starts with white space (obs-fold); send each field on "
                        "one line");
    }
  }
  return std::nullopt;
}

int statusForParseError(beast::error_code ec) {
  if (ec == bhttp::error::header_limit) {
    return 431;
  }
  if (ec == bhttp::error::body_limit) {
    return 413;
  }
  return 400;
}

Refusal refusalForParseError(beast::error_code ec) {
  const int status = statusForParseError(ec);
  if (status == 431) {
    return Refusal{.status = 431,
                   .title = "Request header fields too large",
                   .detail =
                       "the request header is larger than this listener accepts; send "
                       "fewer or shorter fields"};
  }
  if (status == 413) {
    return Refusal{.status = 413,
                   .title = "Content too large",
                   .detail = "the request body is larger than this listener accepts"};
  }
  return badRequest("Malformed request", "the request is not valid HTTP/1.1: " + ec.message());
}

}  // namespace jg::http
