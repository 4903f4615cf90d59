// Content detectors: the built-in catalogue and the shape of a custom detector.
//
// A detector has a name (used in configuration), a label (what a redacted value becomes:
// `[EMAIL]`, and the key of the masked-cell counters) and one or more patterns. Each pattern has
// an exact expression (Vectorscan syntax, run with start-of-match only on cells that hit), an
// optional cheaper prefilter expression (run on every cell without start-of-match), Vectorscan
// flags and an optional validator. The prefilter MUST match wherever the exact expression does
// (it may match more): a cell the prefilter passes is never looked at again.
// The catalogue is static and immutable; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mask/validators.h"

namespace jg::mask {

struct PatternSpec {
  std::string exact;
  std::string prefilter;  // empty: the exact expression is its own prefilter
  unsigned flags = 0;     // HS_FLAG_CASELESS, HS_FLAG_DOTALL, ...
  Validator validator = nullptr;
  std::vector<std::string> context;  // if set, one of these words (any case) must precede
                                     // the match within kContextWindow bytes
};

struct DetectorSpec {
  std::string name;
  std::string label;
  std::vector<PatternSpec> patterns;
};

inline constexpr size_t kContextWindow = 64;

// The built-in detectors, in priority order (earlier wins a tie between equal spans).
std::span<const DetectorSpec> builtinDetectors();
const DetectorSpec* findBuiltinDetector(std::string_view name);
// Names of all built-in detectors; the default when configuration names none.
std::vector<std::string> builtinDetectorNames();

}  // namespace jg::mask
