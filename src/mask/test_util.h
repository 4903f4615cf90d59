// Test helpers shared by the mask tests: an engine with every built-in detector and a fixed key.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "mask/detectors.h"
#include "mask/engine.h"
#include "mask/scanner.h"

namespace jg::mask::testing {

inline constexpr char kTestKey[] = "0123456789abcdef0123456789abcdef";

inline std::shared_ptr<const Engine> makeEngine(Strategy detector_strategy = Strategy::kRedact,
                                                std::vector<ColumnRule> columns = {}) {
  Settings s;
  s.defaults.detectors = builtinDetectorNames();
  s.defaults.detector_strategy = detector_strategy;
  s.defaults.columns = std::move(columns);
  auto e = Engine::create(s, kTestKey);
  EXPECT_TRUE(e.isOk()) << e.status().message();
  return e.isOk() ? *e : nullptr;
}

// Seeded random text: the base of the generators in the property tests.
class RandomText {
 public:
  explicit RandomText(uint32_t seed) : rng_(seed) {}
  int in(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  char pick(std::string_view set) { return set[in(0, static_cast<int>(set.size()) - 1)]; }
  std::string run(std::string_view set, int n) {
    std::string s;
    for (; n > 0; --n) {
      s.push_back(pick(set));
    }
    return s;
  }

 private:
  std::mt19937 rng_;
};

// Big-endian int32, for building binary values.
inline std::string be32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
          static_cast<char>(u)};
}

}  // namespace jg::mask::testing
