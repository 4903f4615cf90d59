// The HTTP operation tools of the MCP server, as pure functions: the request an operation's
// arguments make, and the tool result an HTTP response becomes.
//
// A call is sent to the gateway's own HTTP listener (mcp_server.cc), so the resource's HTTP
// rules, approvals, response limits, masking and recording apply exactly as to any client.
// No I/O; thread-safe.
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "core/status.h"

namespace jg::server {

struct HttpOperationConfig;

struct OperationRequest {
  std::string method{};
  std::string target{};  // mount + path (variables filled) + ?query
  std::string body{};    // JSON; empty for GET and DELETE
};

// `{var}`s of the path take the argument of that name (percent-encoded; a missing one is an
// error); the other arguments are the JSON body, or for GET and DELETE query parameters
// (strings as is, other values as JSON).
Result<OperationRequest> buildOperationRequest(const std::string& mount,
                                               const HttpOperationConfig& op,
                                               const boost::json::object& args);

// A response as a tool result: 2xx is the body as text (JSON bodies also as structuredContent
// {status, body}); another status is isError, and a refusal that created a review says so with
// structuredContent {review_id, status: "pending"}. At most `max_bytes` of the body are kept.
boost::json::object httpToolResult(int status, const std::string& body, size_t max_bytes);

}  // namespace jg::server
