#include <cstdint>
#include <ctime>
#include <string>

#include "core/clock.h"
#include "core/duration.h"

namespace jg {
namespace {
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};
}  // namespace

const Clock& Clock::system() {
  static const SystemClock clock;
  return clock;
}

std::string formatUtc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace jg

namespace jg {

std::string formatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  std::string out = s < 0 ? "-" : "";
  uint64_t left = s < 0 ? static_cast<uint64_t>(-(s + 1)) + 1 : static_cast<uint64_t>(s);
  if (left == 0) {
    return "0s";
  }
  constexpr std::pair<uint64_t, char> kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [secs, unit] : kUnits) {
    if (left >= secs) {
      out += std::to_string(left / secs);
      out += unit;
      left %= secs;
    }
  }
  return out;
}

}  // namespace jg
