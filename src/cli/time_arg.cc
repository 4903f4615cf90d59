#include "cli/time_arg.h"

#include <cstdio>
#include <ctime>
#include <string>

#include "config/node.h"

namespace jg::cli {
namespace {

int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

// The offset east of UTC in seconds of a trailing "Z", "+HH:MM" or "-HH:MM" (removed from
// `s`); 0 when there is none; nullopt when malformed.
std::optional<int> takeOffset(std::string& s) {
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) {
    s.pop_back();
    return 0;
  }
  if (s.size() > 16 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') &&
      s[s.size() - 3] == ':') {
    int hh = 0;
    int mm = 0;
    char tail = 0;
    if (std::sscanf(s.c_str() + s.size() - 5, "%2d:%2d%c", &hh, &mm, &tail) != 2 || hh > 23 ||
        mm > 59) {
      return std::nullopt;
    }
    int sign = s[s.size() - 6] == '-' ? -1 : 1;
    s.resize(s.size() - 6);
    return sign * (hh * 3600 + mm * 60);
  }
  return 0;
}

std::optional<int64_t> parseDate(std::string s) {
  auto offset = takeOffset(s);
  if (!offset) {
    return std::nullopt;
  }
  std::tm tm{};
  char sep = 0;
  int consumed = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &sep, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed);
  if (n == 3) {
    consumed = 0;
    (void)std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed);
  } else if (n == 6) {
    consumed = 0;
    (void)std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &sep, &tm.tm_hour, &tm.tm_min, &consumed);
  } else if (n != 7) {
    return std::nullopt;
  }
  if (static_cast<size_t>(consumed) != s.size() ||
      (n > 3 && sep != 'T' && sep != 't' && sep != ' ')) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (static_cast<int64_t>(timegm(&tm)) - *offset) * 1'000'000;
}

}  // namespace

std::optional<int64_t> parseTimeArg(std::string_view text,
                                    std::chrono::system_clock::time_point now) {
  std::string_view t = trim(text);
  constexpr std::string_view kAgo = " ago";
  bool ago = t.size() > kAgo.size() && t.substr(t.size() - kAgo.size()) == kAgo;
  if (ago) {
    t = trim(t.substr(0, t.size() - kAgo.size()));
  }
  if (auto d = config::parseDuration(t); d && !t.empty() && t.find('-') == std::string_view::npos) {
    return micros(now - *d);
  }
  if (ago || t.empty()) {
    return std::nullopt;
  }
  return parseDate(std::string(t));
}

}  // namespace jg::cli
