// Content detectors: the built-in catalogue and the shape of a custom detector.
//
// A detector has a name (used in configuration), a label (what a redacted value becomes:
// `[EMAIL]`, and the key of the masked-cell counters) and one or more patterns. Each pattern has
// an exact expression (Vectorscan syntax, run with start-of-match only on cells that hit), a
// prefilter (run on every cell without start-of-match): either a cheaper Vectorscan expression
// or, for the digit-run and e-mail detectors, a native shape scan (shapes.h), Vectorscan flags
// and an optional validator. The prefilter MUST match wherever the exact expression does (it may
// match more): a cell the prefilter passes is never looked at again.
// The catalogue is static and immutable; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mask/validators.h"

namespace jg::mask {

struct PatternSpec {
  PatternSpec() = default;
  PatternSpec(std::string exact_expr, std::string prefilter_expr, unsigned hs_flags,
              Validator check, uint32_t native_shape = 0)
      : exact(std::move(exact_expr)),
        prefilter(std::move(prefilter_expr)),
        flags(hs_flags),
        validator(check),
        shape(native_shape) {}

  std::string exact;
  std::string prefilter;  // empty: the exact expression is its own prefilter (unless `shape`)
  unsigned flags = 0;     // HS_FLAG_CASELESS, HS_FLAG_DOTALL, ...
  Validator validator = nullptr;
  // Non-zero: a Shape bit (shapes.h); hasShape() is the prefilter and `prefilter` is unused.
  uint32_t shape = 0;
  // If set, one of these words (lower case) must appear within kContextWindow bytes before
  // the match.
  std::vector<std::string> context;
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
