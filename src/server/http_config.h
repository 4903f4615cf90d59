// HTTP resources: the part of the gateway configuration that describes a `kind: http` resource
// (an HTTP API or vector store reached through the HTTP listener), and the HTTP listener's limits.
//
// Parsed once by loadConfig() (config.cc calls parseHttpResource for each `kind: http` entry) and
// immutable afterwards, shared by every exchange through the configuration snapshot. Secrets
// (an upstream API key, an OAuth client secret) are read from files or the environment at load
// time and never logged. See docs/http.md for the file format.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/node.h"

namespace jg::server {

struct HttpUpstreamConfig {
  std::string url;  // as configured, e.g. "https://127.0.0.1:6333/base"
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string base_path;  // "" or "/base" (no trailing '/')
  std::string ca_file;    // https: trust these CAs instead of the system store
  bool verify = true;     // https: verify the certificate and host name
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds response_timeout{30'000};  // to the response header
  size_t max_idle_connections = 16;                    // kept for reuse
};

// What the upstream sees instead of the client's token.
struct HttpCredentialConfig {
  enum class Kind { kNone, kHeader, kJwt, kOAuth2 };
  Kind kind = Kind::kNone;
  std::string header = "authorization";  // the header that carries it (lower case)
  std::string scheme;                    // "Bearer" for jwt/oauth2; "" for a raw header value
  std::string value;                     // kHeader: the secret (from value_file / value_env)
  // kJwt: a gateway-signed token per request (upstream_tokens key), `sub` the caller.
  std::string audience;
  std::chrono::seconds ttl{60};
  // kOAuth2: client credentials, fetched and cached until shortly before expiry.
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // from client_secret_file / client_secret_env
  std::string scope;
  std::string resource;  // RFC 8707 `resource`, or `audience` for providers that want that
  std::string ca_file;
};

struct HttpPathRuleConfig {
  std::string path;  // JSON path, "$.result[*].payload.email"
  std::string strategy = "redact";
  int keep_last = 4;
  std::string label;
};

struct HttpMaskingConfig {
  bool enabled = true;  // masking applies when the gateway has a `masking` section
  std::string profile;  // "" = the default profile
  std::vector<HttpPathRuleConfig> json_paths;
  // Media types let through unmasked ("image/png", "image/*"); recorded as such.
  std::vector<std::string> allow_unmasked;
};

// One operation of an HTTP resource that the MCP server offers as a tool (`operations`,
// docs/mcp.md): the arguments fill `{var}`s of `path`, the rest go as the JSON body (GET and
// DELETE: as query parameters).
struct HttpOperationConfig {
  std::string name{};
  std::string description{};
  std::string method = "POST";
  std::string path{};          // below the resource's mount, starting with '/'
  std::string input_schema{};  // JSON text (from YAML)
};

// The `mcp:` section of a `kind: mcp` resource: an upstream MCP server (Streamable HTTP) whose
// JSON-RPC traffic the gateway decides, masks and records message by message (docs/mcp.md, "The MCP
// proxy").
struct McpProxyConfig {
  uint64_t budget_calls = 0;                // tools/call requests per MCP session; 0 = no budget
  uint64_t budget_result_bytes = 0;         // bytes of tools/call results per MCP session; 0 = none
  bool pin_tools = true;                    // refuse tools whose definition changes mid-session
  std::vector<std::string> mask_arguments;  // JSON paths in tool arguments masked upstream
  uint32_t max_notifications_per_second = 50;
  size_t max_sessions = 10'000;  // MCP sessions remembered per resource (pins, budgets)
};

struct HttpResourceConfig {
  std::string mount;  // path prefix on the HTTP listener, "/kb-search"
  std::string host;   // optional: only requests for this Host
  HttpUpstreamConfig upstream;
  HttpCredentialConfig credential;
  std::string token_header = "authorization";  // where clients put their OIDC token
  std::string token_scheme = "Bearer";         // "" when the header holds the token alone
  HttpMaskingConfig masking;
  std::vector<std::string> document_paths;      // JSON paths of document ids in responses
  size_t max_response_bytes = 0;                // 0 = none (rules may set their own)
  std::vector<HttpOperationConfig> operations;  // MCP tools over this resource
  std::optional<McpProxyConfig> mcp;            // set for `kind: mcp`
};

// The HTTP listener's limits (`limits.http`, `timeouts.http`).
struct HttpLimitsConfig {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 10u << 20;
  size_t max_decoded_body_bytes = 64u << 20;
  size_t max_concurrent_requests = 1024;
  std::chrono::milliseconds first_byte{10'000};
  std::chrono::milliseconds idle{60'000};
  // A response is buffered (and masked whole, so a failure is a clean 502) up to this size;
  // beyond it, or for event streams, it streams.
  size_t buffer_response_bytes = 1u << 20;
};

// Parses the HTTP keys of one `resources[i]` entry (kind: http, or kind: mcp with `mcp` set and
// its `mcp:` section parsed). `name` is the resource name.
HttpResourceConfig parseHttpResource(const config::Node& r, const std::string& name,
                                     config::Errors& errors, bool mcp = false);
HttpLimitsConfig parseHttpLimits(const config::Node& limits, const config::Node& timeouts,
                                 config::Errors& errors);

}  // namespace jg::server
