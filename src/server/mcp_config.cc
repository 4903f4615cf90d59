#include "server/mcp_config.h"

#include <fmt/format.h>

#include "policy/http_rule.h"

namespace jg::server {
namespace {

using config::Errors;
using config::Node;

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
    auto bytes = policy::parseByteSize(text);
    if (!bytes || *bytes < 1024) {
      errors.add(n["max_result_bytes"],
                 fmt::format("expected a size of at least 1KB such as 1MB, got \"{}\"", text));
    } else {
      c.max_result_bytes = static_cast<size_t>(*bytes);
    }
  }
  return c;
}

}  // namespace jg::server
