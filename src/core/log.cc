#include "core/log_fields.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <string>

namespace jg::log {
namespace {

std::atomic<Format> gFormat{Format::kText};
std::atomic<spdlog::level::level_enum> gNoticeLevel{spdlog::level::debug};

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void setup(Format format, std::string_view level) {
  gFormat = format;
  spdlog::drop("jitgate");
  auto logger = spdlog::stderr_logger_mt("jitgate");
  spdlog::set_default_logger(logger);
  if (format == Format::kJson) {
    // The message part is a complete JSON object tail written by write().
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  spdlog::flush_on(spdlog::level::info);
}

Format format() {
  return gFormat;
}

void setNoticeLevel(spdlog::level::level_enum level) {
  gNoticeLevel = level;
}

spdlog::level::level_enum noticeLevel() {
  return gNoticeLevel.load(std::memory_order_relaxed);
}

std::string jsonLine(std::string_view sid, Fields fields, std::string_view message) {
  std::string line;
  if (!sid.empty()) {
    line += "\"sid\":";
    appendJsonString(line, sid);
    line += ',';
  }
  for (const auto& [key, value] : fields) {
    appendJsonString(line, key);
    line += ':';
    appendJsonString(line, value);
    line += ',';
  }
  line += "\"msg\":";
  appendJsonString(line, message);
  return line;
}

void write(spdlog::level::level_enum level, std::string_view sid, Fields fields,
           std::string_view message) {
  if (gFormat.load(std::memory_order_relaxed) == Format::kJson) {
    spdlog::log(level, "{}", jsonLine(sid, fields, message));
  } else if (sid.empty()) {
    spdlog::log(level, "{}", message);
  } else {
    spdlog::log(level, "[{}] {}", sid, message);
  }
}

void write(spdlog::level::level_enum level, std::string_view sid, std::string_view message) {
  write(level, sid, {}, message);
}

}  // namespace jg::log
