#include "cli/output.h"

namespace jg::cli {

boost::json::array jsonLines(std::string_view text) {
  boost::json::array lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl != 0) {
      lines.emplace_back(text.substr(0, nl));
    }
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return lines;
}

}  // namespace jg::cli
