// HTTP request facts: what the policy sees of one HTTP request.
//
// The HTTP front end builds HttpFacts from the wire (sans-I/O): the method, the path relative to
// the resource's mount prefix (dot-segments removed, each segment percent-decoded), the decoded
// query parameters and the parsed JSON body. HttpFacts only points at what the front end owns;
// it must outlive every evaluation that uses it. Policy::evaluateHttp decides on it the same way
// Policy::evaluate decides on a SQL statement (see docs/policy.md, "HTTP rules" and "MCP rules").
// Plain data; thread safety is that of the buffers it points into.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace jg::policy {

struct HttpFacts {
  std::string_view method = {};  // upper-case token, "GET"
  std::string_view path = {};    // relative to the resource's mount prefix, starts with "/",
                                 // dot-segments removed, each segment percent-decoded
  std::span<const std::pair<std::string, std::string>> query = {};  // decoded, in order
  const boost::json::value* body = nullptr;  // the parsed JSON body; null if none / not JSON
  bool body_present = false;                 // a non-empty body was sent
  // An MCP message (JSON-RPC on a `kind: mcp` resource) decided as HTTP facts: `method` is
  // "MCP", `path` is "/<rpc method>" or "/tools/call/<tool>", and `body` the tool's arguments.
  // Only rules with MCP conditions (mcp_methods, tools, arguments) or none match it, and rules
  // with MCP conditions never match a plain HTTP request.
  bool mcp = false;
  std::string_view rpc_method = {};  // "tools/call", "notifications/progress"
  std::string_view tool = {};        // tools/call: the tool's name
  // Deciding whether tools/list offers `tool`: argument conditions are not known yet, so an
  // allow rule's are taken as holding and a deny or review rule's as not holding.
  bool tool_listing = false;
};

struct HttpRequest {
  const HttpFacts& facts;
  std::chrono::system_clock::time_point now;
  std::span<const std::string> granted = {};  // ids of review rules with an active approval
};

}  // namespace jg::policy
