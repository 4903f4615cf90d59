#include "policy/time_window.h"

#include <gtest/gtest.h>

namespace jg::policy {
namespace {

std::chrono::system_clock::time_point at(int64_t unix) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix));
}

// 2024-06-05 is a Wednesday.
constexpr int64_t kWed0800Utc = 1717574400;

TEST(TimeWindow, UtcWeekdayHours) {
  std::string err;
  auto w = TimeWindow::make(0b0111110, 8 * 60, 18 * 60, "UTC", &err);
  ASSERT_TRUE(w) << err;
  EXPECT_TRUE(w->contains(at(kWed0800Utc)));
  EXPECT_FALSE(w->contains(at(kWed0800Utc - 60)));
  EXPECT_FALSE(w->contains(at(kWed0800Utc + 10 * 3600)));  // 18:00 is outside
  EXPECT_FALSE(w->contains(at(kWed0800Utc + 3 * 86400)));  // Saturday
}

TEST(TimeWindow, ZoneWithDaylightSavingTime) {
  std::string err;
  auto w = TimeWindow::make(0x7f, 9 * 60, 10 * 60, "Europe/Paris", &err);
  ASSERT_TRUE(w) << err;
  // In June Paris is UTC+2: 07:00 UTC is 09:00 local.
  EXPECT_TRUE(w->contains(at(kWed0800Utc - 3600)));
  EXPECT_FALSE(w->contains(at(kWed0800Utc)));
  // In January it is UTC+1: 2024-01-10 08:00 UTC is 09:00 local.
  EXPECT_TRUE(w->contains(at(1704873600)));
}

TEST(TimeWindow, OvernightWindowBelongsToTheDayItStarted) {
  std::string err;
  auto w = TimeWindow::make(1 << 3, 22 * 60, 6 * 60, "UTC", &err);  // Wednesday night
  ASSERT_TRUE(w) << err;
  EXPECT_TRUE(w->contains(at(kWed0800Utc + 15 * 3600)));  // Wed 23:00
  EXPECT_TRUE(w->contains(at(kWed0800Utc + 20 * 3600)));  // Thu 04:00
  EXPECT_FALSE(w->contains(at(kWed0800Utc - 5 * 3600)));  // Wed 03:00 (Tuesday's night)
}

TEST(TimeWindow, UnknownZoneIsAnError) {
  std::string err;
  EXPECT_FALSE(TimeWindow::make(0x7f, 0, 1440, "Mars/Olympus", &err));
  EXPECT_NE(err.find("Mars/Olympus"), std::string::npos);
  EXPECT_FALSE(posixRuleOf("../../etc/passwd"));
}

TEST(TimeWindow, ParsesFromConfig) {
  auto node = config::Node::parse("{ days: [mon-fri], hours: \"08:00-18:00\", tz: UTC }", "t");
  ASSERT_TRUE(node);
  config::Errors errors;
  auto w = TimeWindow::parse(*node, errors);
  ASSERT_TRUE(w) << errors.joined();
  EXPECT_EQ(w->describe(), "mon,tue,wed,thu,fri 08:00-18:00 UTC");
  auto bad = config::Node::parse("{ days: [someday], hours: \"8-6\" }", "t");
  config::Errors e2;
  EXPECT_FALSE(TimeWindow::parse(*bad, e2));
  EXPECT_FALSE(e2.empty());
}

}  // namespace
}  // namespace jg::policy
