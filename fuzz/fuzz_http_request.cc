// Fuzzes the HTTP front end's request handling without sockets. The input is the bytes a client
// sends: they go through the obs-fold check on the raw head and a real Beast request parser with
// header and body limits, then, once the header is parsed, through checkFraming, parseTarget
// (origin-form, then absolute-form), routing, token extraction for three token sources, header
// copying upstream and back, recordedHeaders, and, when the body is gzip or deflate encoded, the
// bounded Inflater. Every refusal is rendered as a problem document that must parse as JSON.
// Invariants checked: a parse error maps to 400, 413 or 431; an accepted target's path starts
// with '/', is valid UTF-8 and has no ".." segment; the forwarded headers carry no Authorization,
// Cookie or token header; a recorded credential is "[redacted]"; decoding stays under its bound.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/text.h"
#include "proto/http/http.h"

namespace {

using namespace jg::http;

constexpr size_t kHeaderLimit = 4096;
constexpr size_t kBodyLimit = 1 << 16;
constexpr size_t kDecodedLimit = 1 << 18;

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void renderRefusal(const Refusal& r) {
  const std::string doc = problemJson(Problem{.status = r.status,
                                              .title = r.title,
                                              .detail = r.detail,
                                              .type = "about:blank",
                                              .extra = {{"rule", "framing"}}});
  boost::system::error_code ec;
  boost::json::parse(doc, ec);
  check(!ec);
}

void checkTarget(std::string_view raw, const TargetOptions& options) {
  auto t = parseTarget(raw, options);
  if (!t) {
    renderRefusal(Refusal{.status = 400, .title = "Bad target", .detail = t.status().message()});
    return;
  }
  check(!t->path.empty() && t->path.front() == '/');
  check(jg::isValidUtf8(t->path));
  check(t->path.find("/../") == std::string::npos && !t->path.ends_with("/.."));
  check(t->query.size() <= kMaxQueryParams);
  static const Router router({{.resource = "kb", .prefix = "/kb", .host = ""},
                              {.resource = "search", .prefix = "/kb/search", .host = ""},
                              {.resource = "eu", .prefix = "/v1", .host = "eu.example"},
                              {.resource = "root", .prefix = "/", .host = "root.example"}});
  const std::string_view host = t->authority;
  if (auto m = router.match(host, t->path)) {
    check(!m->rest.empty() && m->rest.front() == '/');
  }
}

void checkHeaders(const bhttp::fields& headers) {
  const TokenSource sources[] = {TokenSource{}, TokenSource{.header = "x-api-key", .scheme = ""},
                                 TokenSource{.header = "authorization", .scheme = "Api-Key"}};
  for (const TokenSource& src : sources) {
    auto token = extractToken(headers, src);
    if (token && token->has_value()) {
      check(!(*token)->empty());
    }
    bhttp::fields up;
    copyForwardHeaders(headers, up, src, true);
    check(up.count(bhttp::field::authorization) == 0 && up.count(bhttp::field::cookie) == 0 &&
          up.count(src.header) == 0);
    for (const auto& [name, value] : recordedHeaders(headers, src)) {
      if (name == "authorization" || name == src.header) {
        check(value == "[redacted]");
      }
    }
  }
  bhttp::fields down;
  copyResponseHeaders(headers, down, true);
  check(down.count(bhttp::field::content_length) == 0);
}

void checkBody(const bhttp::request<bhttp::string_body>& req) {
  const auto format = Inflater::formatOf(req[bhttp::field::content_encoding]);
  if (!format) {
    return;
  }
  Inflater inflater(*format, kDecodedLimit);
  std::string out;
  const std::string_view body = req.body();
  const size_t half = body.size() / 2;
  if (inflater.write(body.substr(0, half), out) && inflater.write(body.substr(half), out)) {
    (void)inflater.finish();
  }
  check(out.size() <= kDecodedLimit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto r = checkHeadBytes(bytes)) {
    renderRefusal(*r);
  }
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  beast::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec && ec != bhttp::error::need_more) {
    const int status = statusForParseError(ec);
    check(status == 400 || status == 413 || status == 431);
    renderRefusal(refusalForParseError(ec));
  }
  if (!parser.is_header_done()) {
    return 0;
  }
  const auto& header = parser.get().base();
  if (auto r = checkFraming(header)) {
    renderRefusal(*r);
  }
  checkTarget(header.target(), TargetOptions{});
  checkTarget(header.target(), TargetOptions{.allow_absolute_form = true});
  checkHeaders(header);
  if (parser.is_done()) {
    checkBody(parser.get());
  }
  return 0;
}
