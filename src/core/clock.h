// Clock: the one source of "now" for code that makes time-based decisions (token expiry, grant
// windows, audit timestamps), so tests can inject a fixed or stepping clock. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace jg {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for expiry decisions and timestamps.
  virtual std::chrono::system_clock::time_point now() const = 0;

  int64_t nowUnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  // The process-wide real clock.
  static const Clock& system();
};

// A clock that reads a settable time; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point t) : t_(t) {}
  static ManualClock atUnix(int64_t secs) {
    return ManualClock(std::chrono::system_clock::time_point(std::chrono::seconds(secs)));
  }
  std::chrono::system_clock::time_point now() const override { return t_; }
  void advance(std::chrono::system_clock::duration d) { t_ += d; }
  void set(std::chrono::system_clock::time_point t) { t_ = t; }

 private:
  std::chrono::system_clock::time_point t_;
};

// Formats a time point as RFC 3339 UTC with seconds, e.g. 2026-11-29T08:00:00Z.
std::string formatUtc(std::chrono::system_clock::time_point t);

}  // namespace jg
