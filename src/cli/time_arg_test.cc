#include "cli/time_arg.h"

#include <gtest/gtest.h>

namespace jg::cli {
namespace {

using namespace std::chrono;  // NOLINT(google-build-using-namespace)

// 2026-11-29T08:00:00Z
const system_clock::time_point kNow = system_clock::time_point(seconds(1'795'939'200));
constexpr int64_t kNowUs = 1'795'939'200LL * 1'000'000;

TEST(ParseTimeArg, ADurationAgoAsTheHelpSaysIsThatLongBeforeNow) {
  EXPECT_EQ(parseTimeArg("2h ago", kNow), kNowUs - 2LL * 3600 * 1'000'000);
  EXPECT_EQ(parseTimeArg("30m ago", kNow), kNowUs - 30LL * 60 * 1'000'000);
}

TEST(ParseTimeArg, ABareDurationIsThatLongBeforeNow) {
  EXPECT_EQ(parseTimeArg("2h", kNow), kNowUs - 2LL * 3600 * 1'000'000);
  EXPECT_EQ(parseTimeArg("7d", kNow), kNowUs - 7LL * 86400 * 1'000'000);
}

TEST(ParseTimeArg, DatesAndTimesAreUtcUnlessTheyCarryAnOffset) {
  EXPECT_EQ(parseTimeArg("2026-11-29", kNow), kNowUs - 8LL * 3600 * 1'000'000);
  EXPECT_EQ(parseTimeArg("2026-11-29T08:00:00Z", kNow), kNowUs);
  EXPECT_EQ(parseTimeArg("2026-11-29T08:00:00", kNow), kNowUs);
  EXPECT_EQ(parseTimeArg("2026-11-29 08:00:00", kNow), kNowUs);
  EXPECT_EQ(parseTimeArg("2026-11-29T08:00", kNow), kNowUs);
  EXPECT_EQ(parseTimeArg("2026-11-29T10:00:00+02:00", kNow), kNowUs);
}

TEST(ParseTimeArg, MalformedTimesAreRefused) {
  for (const char* bad : {"", "ago", "yesterday", "2h before", "2026-13-01", "2026-11-29T25:00",
                          "2026-11-29X08:00:00", "2026-11-29T08:00:00junk", "-2h"}) {
    EXPECT_FALSE(parseTimeArg(bad, kNow).has_value()) << bad;
  }
}

}  // namespace
}  // namespace jg::cli
