// McpConfig: the `mcp` section of the gateway configuration — jitgate's own MCP server on the
// HTTP listener (docs/mcp.md).
//
//   mcp:
//     path: /mcp                       # on the HTTP listener; requires listen.http
//     resources: [appdb, kb-search]    # optional; default: every postgres resource
//     public_url: https://gw.example:8443   # optional; default https://<Host header>
//     session_key_file: /etc/jitgate/mcp-session.key   # optional; else random per process
//     scopes: [db.read]                # optional; scopes_supported in the metadata
//     max_rows: 200
//     max_result_bytes: 1MB
//
// A plain value, part of the immutable GatewayConfig snapshot.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/node.h"

namespace jg::server {

struct McpConfig {
  std::string path = "/mcp";
  std::vector<std::string> resources{};  // empty with resources_listed false: every one
  bool resources_listed = false;
  std::string public_url{};   // without a trailing slash; empty: from the Host header
  std::string session_key{};  // raw key bytes from session_key_file; empty: random per process
  std::vector<std::string> scopes{};
  size_t max_rows = 200;
  size_t max_result_bytes = 1 << 20;
};

// Parses the section (call only when it is defined); problems go to `errors`.
McpConfig parseMcpConfig(const config::Node& n, config::Errors& errors);

}  // namespace jg::server
