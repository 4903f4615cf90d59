// Helpers for what commands print with --json: one JSON document per line, so multi-line
// messages (configuration errors, check reports) become arrays of lines. Pure; thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <string_view>

namespace jg::cli {

// The non-empty lines of `text` ("a\n\nb\n" -> ["a", "b"]).
boost::json::array jsonLines(std::string_view text);

}  // namespace jg::cli
