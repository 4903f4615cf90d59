#include "core/duration.h"

#include <gtest/gtest.h>

namespace jg {
namespace {

using std::chrono::seconds;

TEST(FormatDuration, WholeUnitsPrintAsOneUnit) {
  EXPECT_EQ(formatDuration(seconds(3600)), "1h");
  EXPECT_EQ(formatDuration(seconds(1800)), "30m");
  EXPECT_EQ(formatDuration(seconds(2 * 86400)), "2d");
  EXPECT_EQ(formatDuration(seconds(45)), "45s");
}

TEST(FormatDuration, MixedUnitsPrintLargestFirstAndSkipZeroParts) {
  EXPECT_EQ(formatDuration(seconds(5400)), "1h30m");
  EXPECT_EQ(formatDuration(seconds(86400 + 60)), "1d1m");
  EXPECT_EQ(formatDuration(seconds(90)), "1m30s");
}

TEST(FormatDuration, ZeroAndNegativeDurationsAreReadable) {
  EXPECT_EQ(formatDuration(seconds(0)), "0s");
  EXPECT_EQ(formatDuration(seconds(-3600)), "-1h");
}

}  // namespace
}  // namespace jg
