// Compiled HTTP conditions of a rule (methods, path templates, path and query parameters, JSON
// body conditions) and the response limits of an allow rule. Internal to the policy module and
// its tests; immutable once compiled, so shared freely between threads.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"

namespace jg::policy {

// A path template such as `/collections/{collection}/points/*` or `/kb/**`. Each segment is a
// literal, a variable (`{name}`: one non-empty segment), a glob within one segment (`*`, `?`,
// `[...]`), or `**` (zero or more segments; last only).
struct PathTemplate {
  struct Segment {
    enum class Kind { kLiteral, kVariable, kGlob, kRest };
    Kind kind = Kind::kLiteral;
    std::string text;  // the literal, the variable's name or the glob
  };
  std::vector<Segment> segments;
  std::string text;  // as written, for explanations
};

// One condition on the JSON body, at an RFC 6901 pointer. Every operator given must hold.
struct BodyCondition {
  std::string pointer;              // as written, "/filter/must"
  std::vector<std::string> tokens;  // its reference tokens, ~0 and ~1 decoded
  std::optional<double> min, max;
  std::optional<boost::json::value> equals;
  std::vector<boost::json::value> in;
  bool has_in = false;
  std::optional<std::string> glob;
  bool absent = false;    // the pointer must not resolve
  bool optional = false;  // an absent pointer satisfies the condition
};

struct HttpConditions {
  std::vector<std::string> methods;  // upper case
  std::vector<PathTemplate> paths;
  std::vector<std::pair<std::string, std::vector<std::string>>> path_params;  // name → globs
  std::vector<std::pair<std::string, std::vector<std::string>>> query;        // name → globs
  std::vector<BodyCondition> body;  // MCP rules: conditions on the tool's arguments
  // MCP conditions (mcp_methods, tools, arguments): the rule decides MCP messages only.
  bool mcp = false;
  std::vector<std::string> mcp_methods;  // globs over JSON-RPC methods ("notifications/*")
  std::vector<std::string> tools;        // globs over tool names; imply tools/call

  bool any() const {
    return !methods.empty() || !paths.empty() || !path_params.empty() || !query.empty() ||
           !body.empty() || mcp;
  }
};

// What an HTTP allow rule lets through in the response (0 = no limit).
struct ResponseLimits {
  int64_t max_items = 0;
  std::string items;  // JSON path of the counted array ("$.result"); empty = the top-level array
  int64_t max_bytes = 0;
};

// Parses the HTTP keys of a rule's `match:` (methods, paths, path_params, query, body).
void parseHttpMatch(const config::Node& match, config::Errors& errors, HttpConditions& out);
// Parses the MCP keys of a rule's `match:` (mcp_methods, tools, arguments); an error when they
// are mixed with HTTP keys.
void parseMcpMatch(const config::Node& match, config::Errors& errors, HttpConditions& out);
// Parses `response: { max_items, items, max_bytes }`.
ResponseLimits parseResponseLimits(const config::Node& n, config::Errors& errors);
// Splits "/a/b/{c}/**" into segments; nullopt (and `error` set) when malformed.
std::optional<PathTemplate> parsePathTemplate(std::string_view text, std::string& error);
// Splits an RFC 6901 pointer into decoded reference tokens; nullopt when malformed.
std::optional<std::vector<std::string>> parseJsonPointer(std::string_view text);
// "10MB", "512KiB", "1GB", "4096" → bytes (KB, MB, GB are powers of 1024, like KiB, MiB, GiB).
std::optional<int64_t> parseByteSize(std::string_view text);
// A YAML value as JSON: plain scalars are null, booleans, numbers or strings as YAML 1.2's core
// schema reads them; quoted scalars are strings.
boost::json::value yamlToJson(const YAML::Node& n);

}  // namespace jg::policy
