// The lineage walker (lineage.h): scopes of FROM items, CTEs and enclosing queries; every
// expression is the union of what its column references, subqueries and function calls reach.
#include "sql/lineage.h"

#include <algorithm>
#include <map>

#include "sql/function_catalog.h"
#include "sql/tree_walker.h"
#include "sql/walker.h"

namespace jg::sql {

std::string Source::qualified() const {
  if (everything()) {
    return "every column of every table";
  }
  std::string t = schema.empty() ? table : schema + "." + table;
  return column == "*" ? "every column of " + t : t + "." + column;
}

void unite(SourceIds& a, const SourceIds& b) {
  if (b.empty()) {
    return;
  }
  SourceIds out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  a.swap(out);
}

namespace {

template <typename C>
SourceIds unionOf(const std::vector<C>& cols, size_t from, size_t to) {
  SourceIds all;
  for (size_t i = from; i < to; ++i) {
    unite(all, cols[i].sources);
  }
  return all;
}

// Maps entries that may expand (see Lineage::align) onto `n` columns.
template <typename C>
void alignEntries(const std::vector<C>& cols, size_t n, std::vector<SourceIds>& out,
                  std::vector<bool>& plain) {
  out.assign(n, {});
  plain.assign(n, false);
  auto first = std::find_if(cols.begin(), cols.end(), [](const C& c) { return c.expands; });
  auto last = std::find_if(cols.rbegin(), cols.rend(), [](const C& c) { return c.expands; });
  size_t prefix = static_cast<size_t>(first - cols.begin());
  size_t suffix = static_cast<size_t>(last - cols.rbegin());
  bool runs = first != cols.end();
  if ((!runs && cols.size() != n) || (runs && prefix + suffix > n)) {
    out.assign(n, unionOf(cols, 0, cols.size()));  // a shape that cannot fit: everything
    return;
  }
  for (size_t i = 0; i < prefix && i < n; ++i) {
    out[i] = cols[i].sources;
    plain[i] = cols[i].plain;
  }
  if (!runs) {
    return;
  }
  for (size_t j = 0; j < suffix; ++j) {
    out[n - suffix + j] = cols[cols.size() - suffix + j].sources;
    plain[n - suffix + j] = cols[cols.size() - suffix + j].plain;
  }
  SourceIds middle = unionOf(cols, prefix, cols.size() - suffix);
  bool middle_plain = std::all_of(cols.begin() + static_cast<std::ptrdiff_t>(prefix),
                                  cols.end() - static_cast<std::ptrdiff_t>(suffix),
                                  [](const C& c) { return c.plain; });
  for (size_t i = prefix; i < n - suffix; ++i) {
    out[i] = middle;
    plain[i] = middle_plain;
  }
}

}  // namespace

void Lineage::align(size_t n, std::vector<SourceIds>& out, std::vector<bool>& plain) const {
  if (kind == Outputs::kKnown) {
    alignEntries(outputs, n, out, plain);
    return;
  }
  out.assign(n, kind == Outputs::kOpaque ? SourceIds{kEverything} : SourceIds{});
  plain.assign(n, false);
}

}  // namespace jg::sql
