// TimeWindow: "these days, these hours, in this time zone" — a rule condition.
//
// Time zones are IANA names resolved from the system zoneinfo database (the POSIX rule at the
// end of each TZif file, evaluated with Boost.DateTime), so DST is honoured for current dates.
// Immutable once parsed; contains() is const and thread-safe.
#pragma once

#include <boost/date_time/local_time/local_time.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"

namespace jg::policy {

class TimeWindow {
 public:
  // Parses `{ days: [mon-fri, sun] | "mon-fri", hours: "08:00-18:00", tz: Europe/Paris }`.
  // Missing days mean every day; missing hours mean all day; missing tz means UTC.
  static std::optional<TimeWindow> parse(const config::Node& node, config::Errors& errors);
  // Builds a window directly (tests). `days` bit 0 = Sunday ... bit 6 = Saturday.
  static std::optional<TimeWindow> make(uint8_t days, int start_minute, int end_minute,
                                        std::string_view tz, std::string* error);

  bool contains(std::chrono::system_clock::time_point t) const;
  std::string describe() const;

 private:
  uint8_t days_ = 0x7f;
  int start_ = 0;      // minutes after midnight, inclusive
  int end_ = 24 * 60;  // exclusive; end < start wraps past midnight
  std::string tz_name_ = "UTC";
  boost::local_time::time_zone_ptr tz_;  // null for UTC
};

// Loads the POSIX TZ rule of an IANA zone ("Europe/Paris" → "CET-1CEST,M3.5.0,M10.5.0/3").
std::optional<std::string> posixRuleOf(std::string_view zone);

}  // namespace jg::policy
