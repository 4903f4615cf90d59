// Suggestions for misspelt names in configuration errors and warnings ("did you mean
// 'catalog'?"). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jg::config {

// The word of `known` closest to `word` when it is a likely misspelling (at most two edits, and
// fewer than half its letters), else "".
std::string closestWord(std::string_view word, const std::vector<std::string_view>& known);

}  // namespace jg::config
