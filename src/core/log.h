// Logging setup and the session-tagged log helpers.
//
// Two formats: human-readable lines (default) and JSON lines (`--log-format json`). Every line
// about a session carries its id (`sid`), so one grep follows one session. Never pass a secret
// (token, password, key) to these functions: log lines are not scrubbed. Thread-safe.
#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string_view>

namespace jg::log {

enum class Format { kText, kJson };

// Configures the process-wide logger. `level` is one of trace, debug, info, warn, error.
void setup(Format format, std::string_view level);
Format format();

// Writes one line; `sid` may be empty for lines that are not about a session.
void write(spdlog::level::level_enum level, std::string_view sid, std::string_view message);

template <typename... Args>
void info(std::string_view sid, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::info)) {
    write(spdlog::level::info, sid, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void warn(std::string_view sid, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::warn)) {
    write(spdlog::level::warn, sid, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void error(std::string_view sid, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::err)) {
    write(spdlog::level::err, sid, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void debug(std::string_view sid, fmt::format_string<Args...> f, Args&&... args) {
  if (spdlog::should_log(spdlog::level::debug)) {
    write(spdlog::level::debug, sid, fmt::format(f, std::forward<Args>(args)...));
  }
}

}  // namespace jg::log
