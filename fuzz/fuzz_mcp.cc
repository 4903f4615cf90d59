// Fuzzes the MCP layer without sockets. The input goes to parseBody with and without batches,
// to an SseReader in two pieces split after the first byte (and, when it parses as JSON, to
// validateArguments as a schema against a fixed instance and as an instance against a fixed
// tool schema); a tools/list-shaped input also goes through the fingerprint, pins and filter.
// Invariants checked: a refusal has a JSON-RPC error code and renders as JSON that parses; an
// accepted message survives toJson -> fromJson unchanged; the reader never holds more than its
// bound and a reader in error stays in error; every event written by sseEventText reads back
// with the same data (line ends normalized to LF); a violation names a JSON pointer; canonical JSON
// parses back to the same value.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/mcp/jsonrpc.h"
#include "proto/mcp/schema.h"
#include "proto/mcp/sse.h"
#include "proto/mcp/tools.h"

namespace {

namespace json = boost::json;
using namespace jg::mcp;

constexpr size_t kEventLimit = 1 << 12;

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void checkBody(std::string_view body, bool allow_batch) {
  auto parsed = parseBody(body, allow_batch);
  if (const auto* e = std::get_if<RpcError>(&parsed)) {
    check(e->code == kParseError || e->code == kInvalidRequest);
    check(e->id.is_null() || e->id.is_string() || e->id.is_int64() || e->id.is_uint64());
    json::value rendered = json::parse(errorText(e->id, e->code, e->message));
    check(rendered.is_object());
    return;
  }
  const Parsed& p = std::get<Parsed>(parsed);
  check(!p.messages.empty() && (allow_batch || !p.batch));
  for (const Message& m : p.messages) {
    auto again = fromJson(toJson(m));
    check(std::holds_alternative<Message>(again));
    check(toJson(std::get<Message>(again)) == toJson(m));
    (void)m.tool();
    (void)m.arguments();
  }
}

void checkSse(std::string_view input) {
  SseReader reader(kEventLimit);
  std::vector<SseEvent> events;
  size_t cut = input.empty() ? 0 : 1;
  bool ok = reader.feed(input.substr(0, cut), events) && reader.feed(input.substr(cut), events);
  check(ok == reader.ok());
  if (ok) {
    check(reader.pending() <= kEventLimit);
  } else {
    check(!reader.error().empty() && !reader.feed("\n\n", events));
  }
  // What the writer writes, the reader reads back.
  std::string normalized;
  for (size_t i = 0; i < input.size(); ++i) {
    bool crlf = input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n';
    normalized.push_back(input[i] == '\r' ? '\n' : input[i]);
    i += crlf;
  }
  SseReader back(1 << 20);
  std::vector<SseEvent> read;
  check(back.feed(sseEventText(input, "message", "1"), read));
  check(read.size() == 1 && read[0].data == normalized && back.pending() == 0);
}

constexpr std::string_view kToolSchema = R"({"type":"object","properties":{
  "query":{"type":"string","minLength":1,"maxLength":64},
  "limit":{"type":"integer","minimum":1,"maximum":50},
  "tags":{"type":"array","items":{"$ref":"#/$defs/tag"},"maxItems":4},
  "mode":{"anyOf":[{"const":"fast"},{"enum":["exact","fuzzy"]}]}},
  "required":["query"],"additionalProperties":false,
  "$defs":{"tag":{"type":"string","not":{"const":""}}}})";

void checkViolation(const json::value& schema, const json::value& instance) {
  auto v = validateArguments(schema, instance);
  check(!v || v->starts_with("/") || v->starts_with("(root)"));
}

// Equal values, doubles within a relative 1e-14: Boost 1.81 parses numbers with more digits
// than a double holds to within an ulp or two, so text -> double -> text -> double may move.
bool sameValue(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double();
    double y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  if (const json::array* xs = a.if_array()) {
    const json::array& ys = b.get_array();
    return xs->size() == ys.size() &&
           std::equal(xs->begin(), xs->end(), ys.begin(), ys.end(), sameValue);
  }
  if (const json::object* xo = a.if_object()) {
    const json::object& yo = b.get_object();
    if (xo->size() != yo.size()) {
      return false;
    }
    return std::all_of(xo->begin(), xo->end(), [&](const json::key_value_pair& kv) {
      const json::value* other = yo.if_contains(kv.key());
      return other != nullptr && sameValue(kv.value(), *other);
    });
  }
  return a == b;
}

void checkJson(std::string_view input) {
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value v = json::parse(input, ec, {}, opts);
  if (ec) {
    return;
  }
  static const json::value kSchema = json::parse(kToolSchema);
  static const json::value kInstance =
      json::parse(R"({"query":"cats","limit":5,"tags":["a","b"],"mode":"fast","x":[1,{}]})");
  checkViolation(v, kInstance);
  checkViolation(kSchema, v);
  const std::string canonical = canonicalJson(v);
  json::value again = json::parse(canonical, ec, {}, opts);
  check(!ec && sameValue(v, again));
  if (const json::array* tools = v.if_array()) {
    // Observing the same list again reports the same changes (duplicates that differ).
    ToolPins pins;
    size_t first = pins.observe(*tools).size();
    check(pins.observe(*tools).size() == first);
    json::array copy = *tools;
    std::vector<std::string> removed =
        filterTools(copy, [](std::string_view name) { return name.size() % 2 == 0; });
    check(copy.size() + removed.size() == tools->size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  checkBody(input, /*allow_batch=*/false);
  checkBody(input, /*allow_batch=*/true);
  checkSse(input);
  checkJson(input);
  return 0;
}
