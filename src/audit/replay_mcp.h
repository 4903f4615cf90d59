// Readable replay of MCP sessions (ConnectEvent.protocol "mcp"): the JSON-RPC messages of the
// session's HTTP exchanges, one block per message, instead of raw HTTP bodies.
//
// A client's request shows its method, tool, id, the gate's decision and rule, and its arguments
// (tools/call) or params as pretty JSON; a result shows the tool's text content and structured
// content as sent (masked), a tools/list result the tool names, an error its code and message;
// notifications take one line each. Pretty JSON and text are bounded (kMaxLines lines of at
// most kMaxLineChars characters each) so one huge argument cannot drown the timeline.
//
// Messages come from http_request bodies, from JSON response bodies, from mcp_message records,
// and, for a request none of whose messages was recorded as mcp_message, from the SSE events of
// its streamed response body (reassembled across http_body records, bounded). One McpReplay per
// rendered session; thread-compatible.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

#include "audit/event.h"

namespace jg::audit {

// `value` as indented JSON (two spaces), each line prefixed by `indent`, at most `max_lines`
// lines (then one "... (N more lines)" line); strings longer than `max_chars` are cut with
// "...".
std::string prettyJson(const boost::json::value& value, std::string_view indent, size_t max_lines,
                       size_t max_chars);

class McpReplay {
 public:
  static constexpr size_t kMaxLines = 40;
  static constexpr size_t kMaxLineChars = 200;
  // SSE bytes of one response kept while an event is incomplete.
  static constexpr size_t kMaxPendingSse = 1u << 20;

  explicit McpReplay(std::ostream& out) : out_(out) {}

  // The record's line and block, after the caller wrote the time offset. Return false when the
  // record is not MCP-shaped (the caller renders it as plain HTTP).
  bool request(const HttpRequestEvent& e);
  // The messages of a response's body (the record's head line is the caller's). False: the
  // body is not JSON-RPC (the caller shows it as is).
  bool response(const HttpResponseEvent& e);
  bool body(const HttpBodyEvent& e);
  // The response to `request_id` ended: forgets its pending SSE bytes.
  void end(uint64_t request_id);
  void message(const McpMessageEvent& e);

 private:
  bool responseBody(uint64_t request_id, std::string_view body);
  // One message's block; `decision` (when not empty) goes right under its first line.
  void renderMessage(uint64_t request_id, std::string_view direction, const boost::json::object& m,
                     const std::string& decision = "");
  void renderCall(uint64_t request_id, std::string_view direction, const boost::json::object& m,
                  const std::string& decision);
  void renderResult(const boost::json::object& result);
  void renderToolResult(const boost::json::object& result);
  void renderSse(uint64_t request_id, std::string_view body);
  void lines(std::string_view text);
  void line(const std::string& s) { out_ << "          " << s << "\n"; }

  std::ostream& out_;
  std::map<uint64_t, std::string> tools_;          // request id -> tool of its tools/call
  std::map<uint64_t, std::string> content_types_;  // request id -> its response's
  std::map<uint64_t, std::string> sse_;            // request id -> incomplete SSE text
  std::set<uint64_t> streamed_;                    // requests with mcp_message records
};

}  // namespace jg::audit
