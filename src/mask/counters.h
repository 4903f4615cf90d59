// Counters of masked cells, by detector or column label. The caller keeps one per statement,
// adds it into one per session at CommandComplete, and reports both (audit, metrics).
// A plain value; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace jg::mask {

struct Counters {
  // Cells in which a label was masked at least once.
  std::map<std::string, uint64_t, std::less<>> by_label;
  uint64_t cells_masked = 0;   // cells rewritten or nulled
  uint64_t values_masked = 0;  // individual matches (a cell may hold several)

  void count(std::string_view label) {
    auto it = by_label.find(label);
    if (it == by_label.end()) {
      it = by_label.emplace(std::string(label), 0).first;
    }
    ++it->second;
  }
  void add(const Counters& other) {
    for (const auto& [label, n] : other.by_label) {
      by_label[label] += n;
    }
    cells_masked += other.cells_masked;
    values_masked += other.values_masked;
  }
  void clear() { *this = Counters(); }
  bool empty() const { return cells_masked == 0; }
};

}  // namespace jg::mask
