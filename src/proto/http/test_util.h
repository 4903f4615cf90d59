// Test helper: raw request bytes through a real Beast request parser, as the server reads them.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <memory>
#include <string_view>

#include "proto/http/beast.h"

namespace jg::http::testing {

struct Parsed {
  std::unique_ptr<bhttp::request_parser<bhttp::string_body>> parser;
  beast::error_code ec;  // the parser's error; empty when it got as far as asked
  bool header_done = false;
  bool done = false;
  const bhttp::request_header<>& header() const { return parser->get().base(); }
};

// Feeds `bytes` to a fresh parser in pieces of `step` bytes (0: all at once), as a read loop
// would, until the message is done (or only its header when `header_only`), or an error.
inline Parsed parse(std::string_view bytes, size_t header_limit = 16 * 1024,
                    size_t body_limit = 1 << 20, bool header_only = false, size_t step = 0) {
  Parsed out;
  out.parser = std::make_unique<bhttp::request_parser<bhttp::string_body>>();
  out.parser->header_limit(static_cast<std::uint32_t>(header_limit));
  out.parser->body_limit(body_limit);
  out.parser->eager(!header_only);
  size_t available = step == 0 ? bytes.size() : std::min(step, bytes.size());
  size_t used_total = 0;
  while (true) {
    beast::error_code ec;
    const size_t used =
        out.parser->put(boost::asio::buffer(bytes.data() + used_total, available - used_total), ec);
    used_total += used;
    const bool finished = header_only ? out.parser->is_header_done() : out.parser->is_done();
    if (ec == bhttp::error::need_more || (!ec && used == 0 && !finished)) {
      if (available == bytes.size()) {
        break;
      }
      available = std::min(bytes.size(), available + (step == 0 ? bytes.size() : step));
      continue;
    }
    if (ec) {
      out.ec = ec;
      break;
    }
    if (finished) {
      break;
    }
  }
  out.header_done = out.parser->is_header_done();
  out.done = out.parser->is_done();
  return out;
}

}  // namespace jg::http::testing
