#include "server/http_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "mask/settings.h"
#include "policy/http_rule.h"

namespace jg::server {
namespace {

using config::Errors;
using config::Node;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void parseUpstreamUrl(const Node& n, Errors& errors, HttpUpstreamConfig& u) {
  u.url = n.requiredStr(errors);
  if (u.url.empty()) {
    return;
  }
  auto parsed = boost::urls::parse_absolute_uri(u.url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->host().empty() || parsed->has_query() || parsed->has_userinfo()) {
    errors.add(n, "expected an http:// or https:// URL with a host, no query and no user info");
    return;
  }
  u.tls = parsed->scheme() == "https";
  u.host = std::string(parsed->host());
  u.port = u.tls ? 443 : 80;
  if (parsed->has_port()) {
    u.port = parsed->port_number();
    if (u.port == 0) {
      errors.add(n, "invalid port");
    }
  }
  u.base_path = std::string(parsed->encoded_path());
  while (!u.base_path.empty() && u.base_path.back() == '/') {
    u.base_path.pop_back();
  }
}

void parseUpstream(const Node& u, Errors& errors, HttpUpstreamConfig& out) {
  if (!u.defined()) {
    errors.add(u, "required: { url: https://host:port }");
    return;
  }
  u.checkKeys(errors,
              {"url", "ca_file", "verify", "connect_timeout", "timeout", "max_idle_connections"});
  parseUpstreamUrl(u["url"], errors, out);
  out.ca_file = u["ca_file"].path(errors);
  out.verify = u["verify"].boolean(errors, true);
  out.connect_timeout = u["connect_timeout"].duration(errors, out.connect_timeout);
  out.response_timeout = u["timeout"].duration(errors, out.response_timeout);
  out.max_idle_connections =
      static_cast<size_t>(u["max_idle_connections"].integer(errors, 16, 0, 4096));
  if (!out.tls && (u.has("ca_file") || u.has("verify"))) {
    errors.add(u["url"], "ca_file and verify apply to https:// upstreams only");
  }
}

// A secret under `n`: `<key>_file` or `<key>_env`, never inline.
std::string secretOf(const Node& n, std::string_view key, Errors& errors) {
  std::string file_key = fmt::format("{}_file", key);
  std::string env_key = fmt::format("{}_env", key);
  if (n.has(key)) {
    errors.add(n[key], fmt::format("secrets are never inline: use {} or {}", file_key, env_key));
    return {};
  }
  if (n.has(file_key)) {
    std::string path = n[file_key].path(errors);
    auto secret = config::readSecretFile(path);
    if (!secret) {
      errors.add(n[file_key], secret.status().message());
      return {};
    }
    return *secret;
  }
  if (n.has(env_key)) {
    std::string var = n[env_key].str(errors);
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') {
      errors.add(n[env_key], fmt::format("environment variable {} is not set", var));
      return {};
    }
    return value;
  }
  errors.add(n, fmt::format("required: {} or {}", file_key, env_key));
  return {};
}

void parseHeaderCredential(const Node& h, Errors& errors, HttpCredentialConfig& c) {
  h.checkKeys(errors, {"name", "scheme", "value", "value_file", "value_env"});
  c.kind = HttpCredentialConfig::Kind::kHeader;
  c.header = lower(h["name"].requiredStr(errors));
  c.scheme = h["scheme"].str(errors);
  c.value = secretOf(h, "value", errors);
}

void parseJwtCredential(const Node& j, Errors& errors, HttpCredentialConfig& c) {
  j.checkKeys(errors, {"audience", "ttl", "header", "scheme"});
  c.kind = HttpCredentialConfig::Kind::kJwt;
  c.audience = j["audience"].requiredStr(errors);
  auto ttl = j["ttl"].duration(errors, std::chrono::seconds(60));
  c.ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  if (c.ttl.count() < 1 || c.ttl.count() > 60) {
    errors.add(j["ttl"], "between 1s and 60s");
  }
  c.header = lower(j["header"].str(errors, "authorization"));
  c.scheme = j["scheme"].str(errors, "Bearer");
}

void parseOAuth2Credential(const Node& o, Errors& errors, HttpCredentialConfig& c) {
  o.checkKeys(errors, {"token_url", "client_id", "client_secret", "client_secret_file",
                       "client_secret_env", "scope", "resource", "ca_file", "header", "scheme"});
  c.kind = HttpCredentialConfig::Kind::kOAuth2;
  c.token_url = o["token_url"].requiredStr(errors);
  auto parsed = boost::urls::parse_absolute_uri(c.token_url);
  if (!c.token_url.empty() &&
      (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https"))) {
    errors.add(o["token_url"], "expected an http:// or https:// URL");
  }
  c.client_id = o["client_id"].requiredStr(errors);
  c.client_secret = secretOf(o, "client_secret", errors);
  c.scope = o["scope"].str(errors);
  c.resource = o["resource"].str(errors);
  c.ca_file = o["ca_file"].path(errors);
  c.header = lower(o["header"].str(errors, "authorization"));
  c.scheme = o["scheme"].str(errors, "Bearer");
}

void parseCredential(const Node& n, Errors& errors, HttpCredentialConfig& c) {
  if (!n.defined()) {
    return;
  }
  n.checkKeys(errors, {"header", "jwt", "oauth2", "none"});
  int kinds = int(n.has("header")) + int(n.has("jwt")) + int(n.has("oauth2")) + int(n.has("none"));
  if (kinds != 1) {
    errors.add(n, "choose one credential: header, jwt, oauth2 or none");
    return;
  }
  if (n.has("header")) {
    parseHeaderCredential(n["header"], errors, c);
  } else if (n.has("jwt")) {
    parseJwtCredential(n["jwt"], errors, c);
  } else if (n.has("oauth2")) {
    parseOAuth2Credential(n["oauth2"], errors, c);
  }
}

void parseMasking(const Node& m, Errors& errors, HttpMaskingConfig& out) {
  if (!m.defined()) {
    return;
  }
  m.checkKeys(errors, {"enabled", "profile", "json_paths", "allow_unmasked"});
  out.enabled = m["enabled"].boolean(errors, true);
  out.profile = m["profile"].str(errors);
  out.allow_unmasked = m["allow_unmasked"].strings(errors);
  Node paths = m["json_paths"];
  if (paths.defined() && !paths.isSequence()) {
    errors.add(paths, "expected a list of { path, strategy }");
    return;
  }
  for (size_t i = 0; paths.defined() && i < paths.size(); ++i) {
    Node p = paths.at(i);
    p.checkKeys(errors, {"path", "strategy", "keep_last", "label"});
    HttpPathRuleConfig rule;
    rule.path = p["path"].requiredStr(errors);
    rule.strategy = p["strategy"].str(errors, "redact");
    mask::Strategy s;
    if (!mask::parseStrategy(rule.strategy, s)) {
      errors.add(p["strategy"], "expected redact, partial, hash, tokenize or null");
    }
    rule.keep_last = static_cast<int>(p["keep_last"].integer(errors, 4, 0, 64));
    rule.label = p["label"].str(errors);
    out.json_paths.push_back(std::move(rule));
  }
}

void parseToken(const Node& t, Errors& errors, HttpResourceConfig& out) {
  if (!t.defined()) {
    return;
  }
  t.checkKeys(errors, {"header", "scheme"});
  out.token_header = lower(t["header"].str(errors, "authorization"));
  // A named header other than Authorization carries the token alone by default.
  std::string def = out.token_header == "authorization" ? "Bearer" : "";
  out.token_scheme = t["scheme"].str(errors, def);
}

std::optional<uint64_t> byteSize(std::string_view text) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc()) {
    return std::nullopt;
  }
  std::string unit = lower(std::string(end, text.data() + text.size()));
  unit.erase(0, std::min(unit.find_first_not_of(' '), unit.size()));
  int shift = unit.empty() || unit == "b"     ? 0
              : unit == "kb" || unit == "kib" ? 10
              : unit == "mb" || unit == "mib" ? 20
              : unit == "gb" || unit == "gib" ? 30
                                              : -1;
  if (shift < 0 || n > (uint64_t{1} << (62 - shift))) {
    return std::nullopt;
  }
  return n << shift;
}

McpProxyConfig parseMcp(const Node& m, Errors& errors) {
  McpProxyConfig out;
  if (!m.defined()) {
    return out;
  }
  m.checkKeys(errors, {"budgets", "pin_tools", "mask_arguments", "max_notifications_per_second",
                       "max_sessions"});
  if (Node b = m["budgets"]; b.defined()) {
    b.checkKeys(errors, {"calls", "result_bytes"});
    out.budget_calls = static_cast<uint64_t>(b["calls"].integer(errors, 0, 0, int64_t{1} << 40));
    if (b["result_bytes"].defined()) {
      auto size = byteSize(b["result_bytes"].str(errors));
      if (!size) {
        errors.add(b["result_bytes"], "expected a size like 1MB, 512KiB or a number of bytes");
      }
      out.budget_result_bytes = size.value_or(0);
    }
  }
  out.pin_tools = m["pin_tools"].boolean(errors, true);
  out.mask_arguments = m["mask_arguments"].strings(errors);
  for (const auto& p : out.mask_arguments) {
    if (!p.starts_with('$')) {
      errors.add(m["mask_arguments"], "'" + p + "' is not a JSON path like $.email");
    }
  }
  out.max_notifications_per_second =
      static_cast<uint32_t>(m["max_notifications_per_second"].integer(
          errors, out.max_notifications_per_second, 1, 1'000'000));
  out.max_sessions =
      static_cast<size_t>(m["max_sessions"].integer(errors, out.max_sessions, 1, 10'000'000));
  return out;
}

}  // namespace

namespace {

bool validToolName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// `operations`: the MCP tools over this resource.
void parseOperations(const Node& ops, Errors& errors, HttpResourceConfig& out) {
  if (!ops.defined()) {
    return;
  }
  if (!ops.isSequence()) {
    errors.add(ops, "expected a list of operations");
    return;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    Node o = ops.at(i);
    o.checkKeys(errors, {"name", "description", "method", "path", "input_schema"});
    HttpOperationConfig op;
    op.name = o["name"].requiredStr(errors);
    if (!op.name.empty() && !validToolName(op.name)) {
      errors.add(o["name"], "a tool name is 1 to 64 of A-Z a-z 0-9 _ - .");
    }
    op.description = o["description"].str(errors);
    op.method = o["method"].oneOf(errors, {"GET", "POST", "PUT", "PATCH", "DELETE"}, "POST");
    op.path = o["path"].requiredStr(errors);
    if (!op.path.empty() && op.path.front() != '/') {
      errors.add(o["path"], "expected a path starting with /");
    }
    Node schema = o["input_schema"];
    if (schema.defined() && !schema.isMap()) {
      errors.add(schema, "expected a JSON Schema object");
    }
    op.input_schema = schema.defined() ? boost::json::serialize(policy::yamlToJson(schema.raw()))
                                       : R"({"type":"object"})";
    out.operations.push_back(std::move(op));
  }
}

}  // namespace

HttpResourceConfig parseHttpResource(const Node& r, const std::string& name, Errors& errors,
                                     bool mcp) {
  if (mcp) {
    r.checkKeys(errors, {"name", "kind", "mount", "host", "upstream", "credential", "token",
                         "masking", "documents", "max_response_bytes", "mcp"});
  } else {
    r.checkKeys(errors, {"name", "kind", "mount", "host", "upstream", "credential", "token",
                         "masking", "documents", "max_response_bytes", "operations"});
  }
  HttpResourceConfig out;
  if (mcp) {
    out.mcp = parseMcp(r["mcp"], errors);
  }
  out.mount = r["mount"].str(errors, "/" + name);
  while (out.mount.size() > 1 && out.mount.back() == '/') {
    out.mount.pop_back();
  }
  if (out.mount.empty() || out.mount.front() != '/' || out.mount == "/") {
    errors.add(r["mount"], "expected a path prefix such as /kb-search");
  }
  out.host = lower(r["host"].str(errors));
  parseUpstream(r["upstream"], errors, out.upstream);
  parseCredential(r["credential"], errors, out.credential);
  parseToken(r["token"], errors, out);
  parseMasking(r["masking"], errors, out.masking);
  if (Node d = r["documents"]; d.defined()) {
    d.checkKeys(errors, {"json_paths"});
    out.document_paths = d["json_paths"].strings(errors);
  }
  out.max_response_bytes =
      static_cast<size_t>(r["max_response_bytes"].integer(errors, 0, 0, int64_t{1} << 40));
  parseOperations(r["operations"], errors, out);
  return out;
}

HttpLimitsConfig parseHttpLimits(const Node& limits, const Node& timeouts, Errors& errors) {
  HttpLimitsConfig out;
  limits.checkKeys(errors, {"max_header_bytes", "max_body_bytes", "max_decoded_body_bytes",
                            "max_concurrent_requests", "buffer_response_bytes"});
  auto size = [&](std::string_view key, size_t def, int64_t min, int64_t max) {
    return static_cast<size_t>(limits[key].integer(errors, static_cast<int64_t>(def), min, max));
  };
  out.max_header_bytes = size("max_header_bytes", out.max_header_bytes, 1024, 1 << 20);
  out.max_body_bytes = size("max_body_bytes", out.max_body_bytes, 0, int64_t{1} << 32);
  out.max_decoded_body_bytes =
      size("max_decoded_body_bytes", out.max_decoded_body_bytes, 1024, int64_t{1} << 36);
  out.max_concurrent_requests =
      size("max_concurrent_requests", out.max_concurrent_requests, 1, 1 << 20);
  out.buffer_response_bytes =
      size("buffer_response_bytes", out.buffer_response_bytes, 0, int64_t{1} << 30);
  timeouts.checkKeys(errors, {"first_byte", "idle"});
  out.first_byte = timeouts["first_byte"].duration(errors, out.first_byte);
  out.idle = timeouts["idle"].duration(errors, out.idle);
  return out;
}

}  // namespace jg::server
