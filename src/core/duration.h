// Durations as people write and read them: "1h", "30m", "1h30m", "2d". Stateless; thread-safe.
#pragma once

#include <chrono>
#include <string>

namespace jg {

// Days, hours, minutes and seconds, largest first, zero parts left out: 5400s → "1h30m",
// 172800s → "2d", 90s → "1m30s", 0 → "0s". Negative durations get a leading '-'.
std::string formatDuration(std::chrono::seconds d);

}  // namespace jg
