#include "policy/time_window.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace jg::policy {

namespace {

constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::optional<int> dayIndex(std::string_view d) {
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (kDays[i] == d) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

// "mon", "mon-fri", "fri-mon" (wraps) → bits.
std::optional<uint8_t> parseDays(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto d = dayIndex(text);
    return d ? std::optional<uint8_t>(uint8_t(1u << *d)) : std::nullopt;
  }
  auto a = dayIndex(text.substr(0, dash));
  auto b = dayIndex(text.substr(dash + 1));
  if (!a || !b) {
    return std::nullopt;
  }
  uint8_t bits = 0;
  for (int d = *a;; d = (d + 1) % 7) {
    bits |= uint8_t(1u << d);
    if (d == *b) {
      break;
    }
  }
  return bits;
}

std::optional<int> parseClock(std::string_view t) {
  int h = 0, m = 0;
  char extra = 0;
  std::string s(t);
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 || m < 0 ||
      m > 59 || (h == 24 && m != 0)) {
    return std::nullopt;
  }
  return h * 60 + m;
}

}  // namespace

std::optional<std::string> posixRuleOf(std::string_view zone) {
  if (zone.find("..") != std::string_view::npos || zone.empty() || zone.front() == '/') {
    return std::nullopt;
  }
  std::ifstream in("/usr/share/zoneinfo/" + std::string(zone), std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  // TZif v2+ files end with "\n<POSIX TZ string>\n".
  if (data.size() < 4 || data.compare(0, 4, "TZif") != 0 || data.back() != '\n') {
    return std::nullopt;
  }
  auto start = data.rfind('\n', data.size() - 2);
  if (start == std::string::npos) {
    return std::nullopt;
  }
  std::string rule = data.substr(start + 1, data.size() - start - 2);
  if (rule.empty()) {
    return std::nullopt;
  }
  return rule;
}

namespace {

// Boost's posix_time_zone reads UTC offsets with the opposite sign to POSIX ("CET-1" is UTC+1
// in POSIX, UTC-1 for Boost) and does not accept <+03>-style names: rewrite the rule for it.
std::string boostRule(std::string_view rule) {
  std::string out;
  size_t i = 0;
  int fake = 0;
  for (int part = 0; part < 2 && i < rule.size() && rule[i] != ','; ++part) {
    if (rule[i] == '<') {
      size_t end = rule.find('>', i);
      i = end == std::string_view::npos ? rule.size() : end + 1;
      out += fake++ == 0 ? "STD" : "DST";
    } else {
      while (i < rule.size() && std::isalpha(static_cast<unsigned char>(rule[i]))) {
        out += rule[i++];
      }
    }
    if (i < rule.size() && (rule[i] == '+' || rule[i] == '-')) {
      out += rule[i++] == '+' ? '-' : '+';
    } else if (i < rule.size() && std::isdigit(static_cast<unsigned char>(rule[i]))) {
      out += '-';
    } else {
      continue;  // a DST name without an explicit offset
    }
    while (i < rule.size() &&
           (std::isdigit(static_cast<unsigned char>(rule[i])) || rule[i] == ':')) {
      out += rule[i++];
    }
  }
  out += rule.substr(i);
  return out;
}

}  // namespace

std::optional<TimeWindow> TimeWindow::make(uint8_t days, int start_minute, int end_minute,
                                           std::string_view tz, std::string* error) {
  TimeWindow w;
  w.days_ = days;
  w.start_ = start_minute;
  w.end_ = end_minute;
  w.tz_name_ = std::string(tz.empty() ? "UTC" : tz);
  if (w.tz_name_ != "UTC" && w.tz_name_ != "Etc/UTC") {
    auto rule = posixRuleOf(w.tz_name_);
    if (!rule) {
      *error = "unknown time zone '" + w.tz_name_ + "'";
      return std::nullopt;
    }
    try {
      w.tz_ = boost::local_time::time_zone_ptr(
          new boost::local_time::posix_time_zone(boostRule(*rule)));
    } catch (const std::exception& e) {
      *error = "time zone '" + w.tz_name_ + "' has an unsupported rule '" + *rule + "'";
      return std::nullopt;
    }
  }
  return w;
}

std::optional<TimeWindow> TimeWindow::parse(const config::Node& node, config::Errors& errors) {
  node.checkKeys(errors, {"days", "hours", "tz"});
  uint8_t days = 0;
  if (node["days"].defined()) {
    for (const auto& d : node["days"].strings(errors)) {
      auto bits = parseDays(d);
      if (!bits) {
        errors.add(node["days"], "'" + d + "' is not a day or range like mon-fri");
        return std::nullopt;
      }
      days |= *bits;
    }
  } else {
    days = 0x7f;
  }
  int start = 0, end = 24 * 60;
  if (node["hours"].defined()) {
    std::string h = node["hours"].str(errors);
    auto dash = h.find('-');
    auto a = dash == std::string::npos ? std::nullopt : parseClock(h.substr(0, dash));
    auto b = dash == std::string::npos ? std::nullopt : parseClock(h.substr(dash + 1));
    if (!a || !b) {
      errors.add(node["hours"], "expected a range like \"08:00-18:00\"");
      return std::nullopt;
    }
    start = *a;
    end = *b;
  }
  std::string error;
  auto w = make(days, start, end, node["tz"].str(errors, "UTC"), &error);
  if (!w) {
    errors.add(node["tz"], error);
  }
  return w;
}

bool TimeWindow::contains(std::chrono::system_clock::time_point t) const {
  using namespace boost::posix_time;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  ptime utc = from_time_t(static_cast<std::time_t>(secs));
  ptime local = utc;
  if (tz_) {
    local = boost::local_time::local_date_time(utc, tz_).local_time();
  }
  int day = local.date().day_of_week().as_number();  // 0 = Sunday
  int minute = static_cast<int>(local.time_of_day().hours() * 60 + local.time_of_day().minutes());
  if (start_ <= end_) {
    return (days_ >> day & 1) && minute >= start_ && minute < end_;
  }
  // Overnight window (22:00-06:00): the part after midnight belongs to the previous day.
  if (minute >= start_) {
    return days_ >> day & 1;
  }
  if (minute < end_) {
    return days_ >> ((day + 6) % 7) & 1;
  }
  return false;
}

std::string TimeWindow::describe() const {
  std::string days;
  for (int d = 0; d < 7; ++d) {
    if (days_ >> d & 1) {
      days += days.empty() ? "" : ",";
      days += kDays[d];
    }
  }
  char hours[32];
  std::snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d", start_ / 60, start_ % 60, end_ / 60,
                end_ % 60);
  return days + " " + hours + " " + tz_name_;
}

}  // namespace jg::policy
