// Structured log lines and host notices, beside the plain helpers of core/log.h.
//
// The *With helpers take structured fields (user, resource, rule, sqlstate, counts): JSON lines
// (`--log-format json`) carry them as keys beside "sid" and "msg", so a log pipeline filters on
// them without parsing the message; text lines carry only the message, which says the same.
// Notices are warnings about this host (e.g. a CPU-specific Vectorscan fallback): logged at
// debug by default, so CLI commands stay quiet, and at warn in the gateway (`serve` raises
// them). Never pass a secret (token, password, key) as a field. Thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "core/log.h"

namespace jg::log {

// Key and value (numbers as their decimal text). Keys are plain identifiers, never ts, level,
// sid or msg.
using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void write(spdlog::level::level_enum level, std::string_view sid, Fields fields,
           std::string_view message);
// The JSON object tail that write() logs in the JSON format (for tests).
std::string jsonLine(std::string_view sid, Fields fields, std::string_view message);

void setNoticeLevel(spdlog::level::level_enum level);
spdlog::level::level_enum noticeLevel();

template <typename... Args>
void infoWith(std::string_view sid, Fields fields, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::info)) {
    write(spdlog::level::info, sid, fields, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void warnWith(std::string_view sid, Fields fields, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::warn)) {
    write(spdlog::level::warn, sid, fields, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void notice(std::string_view sid, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(noticeLevel())) {
    write(noticeLevel(), sid, fmt::format(f, std::forward<Args>(args)...));
  }
}

}  // namespace jg::log
