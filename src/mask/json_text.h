// JSON documents rewritten value by value, byte-exact everywhere else.
//
// rewriteJson validates the document with Boost.JSON, then walks its tokens: each object key,
// string value and number is offered to a callback with its decoded text (and, for a member's
// value, the member's name). Tokens the callback
// leaves alone are copied byte for byte (whitespace, number spelling and key order included);
// replacements are serialized by Boost.JSON, so the output is always valid JSON.
// Stateless functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jg::mask {

enum class CellResult;

enum class JsonToken { kKey, kString, kNumber };

// Given a token and its decoded text, returns kUnchanged, kRewritten with the replacement
// *string* content in `out` (it is written as a JSON string), or kNull (written as `null`;
// not allowed for keys). `key` is, for a string or number that is the value of an object
// member, that member's decoded name; it is empty for keys, array elements and a top-level
// value.
using JsonTokenFn = std::function<Result<CellResult>(JsonToken kind, std::string_view decoded,
                                                     std::string_view key, std::string& out)>;

// Depth limit for documents we accept (PostgreSQL itself nests deeper only in contrived cases).
inline constexpr size_t kMaxJsonDepth = 1000;

// Rewrites `doc` into `out`. Returns kUnchanged (out untouched) if no token changed, an error if
// `doc` is not valid JSON.
Result<CellResult> rewriteJson(std::string_view doc, const JsonTokenFn& fn, std::string& out);

}  // namespace jg::mask
