// PostgreSQL arrays of text-like elements, rewritten element by element in both formats.
//
// Text format (array_out): an optional bounds decoration `[0:2]=`, then `{a,"b c",NULL}` with
// nesting for more dimensions. An element is quoted when it is empty, spells NULL in any case, or
// holds `{`, `}`, `,`, `"`, `\` or white space; inside quotes `"` and `\` are backslash-escaped.
// Binary format (array_send): int32 ndim, int32 has-null flag, uint32 element type, ndim x
// (int32 size, int32 lower bound), then per element an int32 length (-1 for NULL) and the bytes.
// Elements the callback leaves alone are copied byte for byte; NULL elements are not offered.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jg::mask {

enum class CellResult;

// Given an element's decoded bytes, returns kUnchanged, kRewritten (new bytes in `out`) or kNull.
using ArrayElementFn = std::function<Result<CellResult>(std::string_view elem, std::string& out)>;

inline constexpr int kMaxArrayDims = 6;  // PostgreSQL's MAXDIM

Result<CellResult> rewriteTextArray(std::string_view in, const ArrayElementFn& fn,
                                    std::string& out);
// `element_oid` is what the column type promises; a different element type in the data is an
// error.
Result<CellResult> rewriteBinaryArray(std::string_view in, uint32_t element_oid,
                                      const ArrayElementFn& fn, std::string& out);

// Appends `value` as a text-format array element, quoted and escaped when needed.
void appendTextArrayElement(std::string_view value, std::string& out);

// Decodes a one-dimensional text array (tests and tools). nullopt elements are NULL.
Result<std::vector<std::optional<std::string>>> parseTextArray(std::string_view in);

}  // namespace jg::mask
