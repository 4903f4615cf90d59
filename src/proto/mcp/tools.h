// MCP tools: tools/call results, tool-definition fingerprints, the pins that notice a tool
// whose definition changed under a session (a "rug pull"), and tools/list filtering.
//
// A fingerprint is SHA-256 over a canonical JSON form of the fields that tell a model what a
// tool does (name, title, description, inputSchema, outputSchema, annotations), so a server
// that rewords a description after it was approved is caught. Free functions are pure and
// thread-safe; ToolPins is a plain per-session value, not thread-safe (the owner locks).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace jg::mcp {

// A tools/call result: content [{type:"text", text}] plus structuredContent when `structured` is
// not null (an object), and isError when is_error.
boost::json::object toolResult(std::string text, boost::json::value structured = nullptr,
                               bool is_error = false);

// A stable fingerprint of a tool definition: SHA-256 hex over a canonical JSON form (object keys
// sorted recursively, no whitespace) of the definition's name, title, description, inputSchema,
// outputSchema and annotations (other keys ignored). Key order and whitespace do not change it;
// any change of those fields does.
std::string toolFingerprint(const boost::json::object& tool);

// Canonical JSON text (keys sorted recursively by their UTF-8 bytes, compact, numbers as
// Boost.JSON writes them) — also useful for body digests.
std::string canonicalJson(const boost::json::value& v);

// The tool definitions an MCP session has seen, pinned at first sight.
class ToolPins {
 public:
  struct Change {
    std::string name{};
    std::string was{}, now{};  // fingerprints ("" = new/removed; observe reports neither)
  };
  // Pins every tool of a tools/list result's `tools` array that is not pinned yet; returns the
  // tools whose definition differs from the pinned one (pins are not updated for them). Entries
  // that are not objects or have no string name are skipped (the caller validates results).
  // New tools are pinned silently and a pinned tool missing from `tools` is not reported:
  // tools/list is paginated, so one page says nothing about the tools on another.
  // Every Change therefore has both fingerprints set.
  std::vector<Change> observe(const boost::json::array& tools);
  bool pinned(std::string_view name) const;
  // Whether `name` is pinned and its definition unchanged (false after a change was observed).
  bool trusted(std::string_view name) const;
  size_t size() const;

 private:
  struct Pin {
    std::string fingerprint{};
    bool changed = false;
  };
  std::map<std::string, Pin, std::less<>> pins_;
};

// Keeps the tools of a tools/list result for which keep(name) is true; returns the names removed.
// An entry without a string name is removed (it cannot be matched by policy) and reported as "".
std::vector<std::string> filterTools(boost::json::array& tools,
                                     const std::function<bool(std::string_view)>& keep);

}  // namespace jg::mcp
