#include "server/mcp_tools.h"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "proto/mcp/schema.h"
#include "server/config.h"

namespace jg::server {
namespace {

namespace json = boost::json;

json::value parseSchema(std::string_view text) {
  return json::parse(text);
}

json::value inputSchema(McpToolKind kind) {
  switch (kind) {
    case McpToolKind::kQuery:
      return parseSchema(R"({"type":"object","properties":{
        "sql":{"type":"string","description":"One SQL statement; $1, $2, ... for parameters"},
        "params":{"type":"array","description":"Parameter values, in order",
                  "items":{"type":["string","number","boolean","null"]}}},
        "required":["sql"],"additionalProperties":false})");
    case McpToolKind::kListTables:
      return parseSchema(R"({"type":"object","properties":{},"additionalProperties":false})");
    case McpToolKind::kDescribeTable:
      return parseSchema(R"({"type":"object","properties":{
        "table":{"type":"string","description":"A table name, optionally schema-qualified"}},
        "required":["table"],"additionalProperties":false})");
    case McpToolKind::kAwaitReview:
      return parseSchema(R"({"type":"object","properties":{
        "review_id":{"type":"string","description":"The review id a refused call returned"},
        "timeout_seconds":{"type":"integer","minimum":1,"maximum":120}},
        "required":["review_id"],"additionalProperties":false})");
    case McpToolKind::kHttpOperation:
      break;  // the operation's own input_schema
  }
  return json::object();
}

json::value outputSchema(McpToolKind kind) {
  if (kind == McpToolKind::kAwaitReview) {
    return parseSchema(R"({"type":"object","properties":{
      "review_id":{"type":"string"},"status":{"type":"string"},"reason":{"type":"string"}},
      "required":["review_id","status"]})");
  }
  return parseSchema(R"({"type":"object","properties":{
    "columns":{"type":"array","items":{"type":"object","properties":{
      "name":{"type":"string"},"type":{"type":"string"}}}},
    "rows":{"type":"array","items":{"type":"array"}},
    "row_count":{"type":"integer"},"truncated":{"type":"boolean"},
    "review_id":{"type":"string"},"status":{"type":"string"}}})");
}

std::string description(const McpTool& t) {
  switch (t.kind) {
    case McpToolKind::kQuery:
      return fmt::format(
          "Run one SQL statement with parameters on the PostgreSQL resource \"{}\" through "
          "jitgate (its policy, row limits, masking and approvals apply). A statement that "
          "needs approval returns a review id: call await_review, then call this tool again "
          "with the same arguments.",
          t.resource);
    case McpToolKind::kListTables:
      return fmt::format("List the tables and views of \"{}\" that you may see.", t.resource);
    case McpToolKind::kDescribeTable:
      return fmt::format("Describe the columns of a table of \"{}\".", t.resource);
    case McpToolKind::kHttpOperation:
      return {};
    case McpToolKind::kAwaitReview:
      return "Wait (up to timeout_seconds, at most 120) until a data owner decides a review, and "
             "return its state. Once approved, repeat the refused call exactly once.";
  }
  return {};
}

std::string cellText(const std::optional<std::string>& c) {
  return c ? *c : "NULL";
}

// A compact pipe table of the result, for the text content.
std::string renderTable(const PgResult& r) {
  std::string out;
  for (size_t i = 0; i < r.columns.size(); ++i) {
    out += (i ? " | " : "") + r.columns[i].name;
  }
  out += "\n";
  for (const auto& row : r.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += (i ? " | " : "") + cellText(row[i]);
    }
    out += "\n";
  }
  out += fmt::format("({} row{}{})", r.rows.size(), r.rows.size() == 1 ? "" : "s",
                     r.truncated ? ", truncated: more rows exist than this tool returns" : "");
  return out;
}

}  // namespace

std::vector<std::string> mcpResources(const GatewayConfig& cfg, const McpConfig& mcp) {
  std::vector<std::string> out;
  for (const auto& r : cfg.resources) {
    bool listed =
        std::find(mcp.resources.begin(), mcp.resources.end(), r.name) != mcp.resources.end();
    bool offered_by_default = !r.isHttp() || !r.http->operations.empty();
    if (mcp.resources_listed ? listed : offered_by_default) {
      out.push_back(r.name);
    }
  }
  return out;
}

std::vector<McpTool> mcpTools(const GatewayConfig& cfg, const McpConfig& mcp,
                              const std::function<bool(const std::string&)>& offered) {
  std::vector<McpTool> out;
  for (const auto& name : mcpResources(cfg, mcp)) {
    const ResourceConfig* r = cfg.resource(name);
    if (r == nullptr || !offered(name)) {
      continue;
    }
    if (r->isHttp()) {
      for (const auto& op : r->http->operations) {
        out.push_back(
            {.name = op.name, .resource = name, .kind = McpToolKind::kHttpOperation, .op = &op});
      }
      continue;
    }
    out.push_back({.name = "query_" + name, .resource = name, .kind = McpToolKind::kQuery});
    out.push_back(
        {.name = "list_tables_" + name, .resource = name, .kind = McpToolKind::kListTables});
    out.push_back(
        {.name = "describe_table_" + name, .resource = name, .kind = McpToolKind::kDescribeTable});
  }
  if (!out.empty()) {
    out.push_back({.name = "await_review", .resource = {}, .kind = McpToolKind::kAwaitReview});
  }
  return out;
}

json::object toolDefinition(const McpTool& tool) {
  json::object o;
  o["name"] = tool.name;
  if (tool.kind == McpToolKind::kHttpOperation) {
    o["description"] = tool.op->description.empty()
                           ? fmt::format("{} {} on the HTTP resource \"{}\"", tool.op->method,
                                         tool.op->path, tool.resource)
                           : tool.op->description;
    o["inputSchema"] = json::parse(tool.op->input_schema);
    return o;
  }
  o["description"] = description(tool);
  o["inputSchema"] = inputSchema(tool.kind);
  o["outputSchema"] = outputSchema(tool.kind);
  return o;
}

std::optional<std::string> checkArguments(const McpTool& tool, const json::value* args) {
  static const json::value kEmpty = json::object();
  const json::value& instance = args ? *args : kEmpty;
  if (tool.kind == McpToolKind::kHttpOperation) {
    return mcp::validateArguments(json::parse(tool.op->input_schema), instance);
  }
  return mcp::validateArguments(inputSchema(tool.kind), instance);
}

json::object protectedResourceMetadata(const std::string& resource_url,
                                       const std::vector<std::string>& issuers,
                                       const std::vector<std::string>& scopes) {
  json::object o;
  o["resource"] = resource_url;
  json::array servers;
  for (const auto& i : issuers) {
    servers.emplace_back(i);
  }
  o["authorization_servers"] = std::move(servers);
  o["bearer_methods_supported"] = json::array{"header"};
  if (!scopes.empty()) {
    json::array s;
    for (const auto& x : scopes) {
      s.emplace_back(x);
    }
    o["scopes_supported"] = std::move(s);
  }
  o["resource_name"] = "jitgate";
  return o;
}

std::string metadataPath(std::string_view mcp_path) {
  return "/.well-known/oauth-protected-resource" + std::string(mcp_path);
}

std::string pgTypeName(uint32_t oid) {
  switch (oid) {
    case 16:
      return "bool";
    case 17:
      return "bytea";
    case 18:
      return "char";
    case 19:
      return "name";
    case 20:
      return "int8";
    case 21:
      return "int2";
    case 23:
      return "int4";
    case 25:
      return "text";
    case 26:
      return "oid";
    case 114:
      return "json";
    case 700:
      return "float4";
    case 701:
      return "float8";
    case 1042:
      return "bpchar";
    case 1043:
      return "varchar";
    case 1082:
      return "date";
    case 1083:
      return "time";
    case 1114:
      return "timestamp";
    case 1184:
      return "timestamptz";
    case 1700:
      return "numeric";
    case 2950:
      return "uuid";
    case 3802:
      return "jsonb";
    default:
      return fmt::format("oid:{}", oid);
  }
}

std::optional<std::string> reviewIdIn(std::string_view message) {
  for (size_t at = message.find("review "); at != std::string_view::npos;
       at = message.find("review ", at + 1)) {
    std::string_view rest = message.substr(at + 7);
    size_t end =
        rest.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    std::string_view id = rest.substr(0, end);
    if (id.starts_with("r-") && id.size() > 2) {
      return std::string(id);
    }
  }
  return std::nullopt;
}

json::object textToolResult(std::string text, bool is_error) {
  json::object o;
  json::object content;
  content["type"] = "text";
  content["text"] = std::move(text);
  o["content"] = json::array{std::move(content)};
  o["isError"] = is_error;
  return o;
}

json::object pgToolResult(const PgResult& r) {
  if (r.failed()) {
    std::string text = fmt::format("ERROR {}: {}", r.sqlstate, r.message);
    if (!r.detail.empty()) {
      text += "\nDETAIL: " + r.detail;
    }
    if (!r.hint.empty()) {
      text += "\nHINT: " + r.hint;
    }
    json::object o = textToolResult(text, true);
    json::object s;
    s["sqlstate"] = r.sqlstate;
    s["message"] = r.message;
    if (auto review = reviewIdIn(r.message)) {
      o["content"].as_array()[0].as_object()["text"] = fmt::format(
          "This statement needs approval: review {} is pending. Call await_review "
          "with this review_id, then repeat this call with the same arguments once "
          "it is approved.\n{}",
          *review, text);
      s["review_id"] = *review;
      s["status"] = "pending";
    }
    o["structuredContent"] = std::move(s);
    return o;
  }
  json::array cols, rows;
  for (const auto& c : r.columns) {
    cols.push_back(json::object{{"name", c.name}, {"type", c.type}});
  }
  for (const auto& row : r.rows) {
    json::array cells;
    for (const auto& c : row) {
      cells.push_back(c ? json::value(*c) : json::value(nullptr));
    }
    rows.push_back(std::move(cells));
  }
  json::object s;
  s["columns"] = std::move(cols);
  s["rows"] = std::move(rows);
  s["row_count"] = r.rows.size();
  s["truncated"] = r.truncated;
  if (!r.command_tag.empty()) {
    s["command"] = r.command_tag;
  }
  json::object o = textToolResult(renderTable(r), false);
  o["structuredContent"] = std::move(s);
  return o;
}

std::string listTablesSql() {
  return "SELECT table_schema, table_name, table_type FROM information_schema.tables "
         "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2";
}

std::string describeTableSql() {
  return "SELECT column_name, data_type, is_nullable, column_default "
         "FROM information_schema.columns "
         "WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 "
         "ORDER BY ordinal_position";
}

}  // namespace jg::server
