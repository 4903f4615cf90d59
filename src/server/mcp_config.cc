#include "server/mcp_config.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace jg::server {
namespace {

using config::Errors;
using config::Node;

// "1048576", "64KB", "1MB", "2GB" (binary multiples).
std::optional<size_t> parseBytes(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (digits == 0 || ec != std::errc()) {
    return std::nullopt;
  }
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  size_t mult = 1;
  if (unit == "KB" || unit == "KiB") {
    mult = size_t{1} << 10;
  } else if (unit == "MB" || unit == "MiB") {
    mult = size_t{1} << 20;
  } else if (unit == "GB" || unit == "GiB") {
    mult = size_t{1} << 30;
  } else if (!unit.empty() && unit != "B") {
    return std::nullopt;
  }
  return n * mult;
}

}  // namespace

McpConfig parseMcpConfig(const Node& n, Errors& errors) {
  McpConfig c;
  n.checkKeys(errors, {"path", "resources", "public_url", "session_key_file", "scopes", "max_rows",
                       "max_result_bytes"});
  c.path = n["path"].str(errors, c.path);
  if (c.path.empty() || c.path.front() != '/' || c.path.find_first_of("?# ") != std::string::npos) {
    errors.add(n["path"], "expected an absolute path such as /mcp");
  }
  while (c.path.size() > 1 && c.path.back() == '/') {
    c.path.pop_back();
  }
  if (n.has("resources")) {
    c.resources = n["resources"].strings(errors);
    c.resources_listed = true;
  }
  c.public_url = n["public_url"].str(errors);
  while (!c.public_url.empty() && c.public_url.back() == '/') {
    c.public_url.pop_back();
  }
  if (!c.public_url.empty() && !c.public_url.starts_with("https://") &&
      !c.public_url.starts_with("http://")) {
    errors.add(n["public_url"], "expected an https:// URL such as https://gw.example:8443");
  }
  std::string key_file = n["session_key_file"].path(errors);
  if (!key_file.empty()) {
    auto key = config::readSecretFile(key_file);
    if (!key) {
      errors.add(n["session_key_file"], key.status().message());
    } else if (key->size() < 32) {
      errors.add(n["session_key_file"], "the key must hold at least 32 bytes");
    } else {
      c.session_key = std::move(*key);
    }
  }
  c.scopes = n["scopes"].strings(errors);
  c.max_rows = static_cast<size_t>(n["max_rows"].integer(errors, 200, 1, 100'000));
  if (n.has("max_result_bytes")) {
    std::string text = n["max_result_bytes"].str(errors);
    auto bytes = parseBytes(text);
    if (!bytes || *bytes < 1024) {
      errors.add(n["max_result_bytes"],
                 fmt::format("expected a size of at least 1KB such as 1MB, got \"{}\"", text));
    } else {
      c.max_result_bytes = *bytes;
    }
  }
  return c;
}

}  // namespace jg::server
