// The times `jitgate audit search --since/--until` accept: a date or date and time in UTC
// ("2026-11-29", "2026-11-29T08:00", "2026-11-29T08:00:00Z", "2026-11-29 08:00:00",
// "2026-11-29T10:00:00+02:00"), or a duration before `now` ("2h", "2h ago", "30m ago", "7d").
// Stateless; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jg::cli {

// Unix microseconds; nullopt when `text` is none of the forms above.
std::optional<int64_t> parseTimeArg(std::string_view text,
                                    std::chrono::system_clock::time_point now);

}  // namespace jg::cli
