// The tools of jitgate's own MCP server, as pure functions: which tools a caller is offered,
// their definitions (inputSchema, outputSchema), the protected-resource metadata document
// (RFC 9728), and how a PostgreSQL result becomes a tool result.
//
// Tool names: per PostgreSQL resource `query_<resource>`, `list_tables_<resource>` and
// `describe_table_<resource>` (MCP tool names allow [A-Za-z0-9_.-]; resource names are already
// within that set); per HTTP resource one tool per configured operation, named as configured;
// and one `await_review`. No I/O; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace jg::server {

struct GatewayConfig;
struct McpConfig;
struct HttpOperationConfig;

enum class McpToolKind { kQuery, kListTables, kDescribeTable, kAwaitReview, kHttpOperation };

struct McpTool {
  std::string name{};
  std::string resource{};  // "" for await_review
  McpToolKind kind = McpToolKind::kQuery;
  const HttpOperationConfig* op = nullptr;  // kHttpOperation; owned by the configuration
};

// The resources the MCP server exposes: those `mcp.resources` names, else every PostgreSQL one
// and every HTTP one with `operations`.
std::vector<std::string> mcpResources(const GatewayConfig& cfg, const McpConfig& mcp);

// The tools for the resources `offered` accepts (policy: some rule may let this caller in), in
// resource order, then await_review (only when some resource is offered).
std::vector<McpTool> mcpTools(const GatewayConfig& cfg, const McpConfig& mcp,
                              const std::function<bool(const std::string&)>& offered);

// A tool's definition as tools/list returns it (name, description, inputSchema, outputSchema).
boost::json::object toolDefinition(const McpTool& tool);

// Checks a tools/call's arguments against the tool's input schema (mcp::validateArguments); the
// message names the JSON pointer and what is wrong.
std::optional<std::string> checkArguments(const McpTool& tool, const boost::json::value* args);

// RFC 9728 protected-resource metadata for the resource `resource_url` (public URL + path).
boost::json::object protectedResourceMetadata(const std::string& resource_url,
                                              const std::vector<std::string>& issuers,
                                              const std::vector<std::string>& scopes);
// Where that document is served for an MCP path (the path-inserted form of RFC 9728 §3.1).
std::string metadataPath(std::string_view mcp_path);

// What one statement run by an in-process PostgreSQL client returned.
struct PgColumn {
  std::string name{};
  std::string type{};
};
struct PgResult {
  std::vector<PgColumn> columns{};
  std::vector<std::vector<std::optional<std::string>>> rows{};
  bool truncated = false;  // more rows (or bytes) than the tool returns
  std::string command_tag{};
  // An ErrorResponse (sqlstate empty when the statement ran).
  std::string sqlstate{}, message{}, detail{}, hint{};
  bool failed() const { return !sqlstate.empty() || !message.empty(); }
};

// The type name for a PostgreSQL type oid (the common built-ins; others as "oid:<n>").
std::string pgTypeName(uint32_t oid);

// The review id in a gate refusal ("...: review r-abc created; ..."), if any.
std::optional<std::string> reviewIdIn(std::string_view message);

// The tool result for a PostgreSQL result: text content plus structuredContent {columns, rows,
// row_count, truncated}; an error is isError with the message, detail and hint; a statement
// that needs approval says so with structuredContent {review_id, status: "pending", ...}.
boost::json::object pgToolResult(const PgResult& r);

// A text-only tool result.
boost::json::object textToolResult(std::string text, bool is_error);

// SQL for list_tables and describe_table (run through the caller's session, so policy applies).
std::string listTablesSql();
std::string describeTableSql();

}  // namespace jg::server
