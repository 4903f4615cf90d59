#include "server/mcp_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "proto/mcp/schema.h"

namespace jg::server {

namespace json = boost::json;

namespace {

Status protocolError(std::string why) {
  return Status::error(Code::kProtocol, "the upstream MCP server sent " + why);
}

// Runs one body masker over `text` whole.
Status maskWhole(mask::BodyKind kind, const mask::BodyPlan& plan, mask::Scanner& scanner,
                 std::string_view text, std::string& out, mask::Counters& counters) {
  auto m = mask::makeBodyMasker(kind, plan, scanner, mask::BodyLimits{});
  if (Status st = m->write(text, out); !st) {
    return st;
  }
  if (Status st = m->finish(out); !st) {
    return st;
  }
  counters.add(m->counters());
  return Status::ok();
}

// A text content item: JSON text is masked as JSON (paths and detectors), other text by the
// detectors.
Status maskTextContent(const mask::BodyPlan& plan, mask::Scanner& scanner, json::string& text,
                       mask::Counters& counters) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (!ec && (parsed.is_object() || parsed.is_array())) {
    if (Status st = maskJsonValue(plan, scanner, parsed, counters); !st) {
      return st;
    }
    text = json::serialize(parsed);
    return Status::ok();
  }
  std::string out;
  if (Status st = maskWhole(mask::BodyKind::kText, plan, scanner, text, out, counters); !st) {
    return st;
  }
  text = out;
  return Status::ok();
}

json::value errorValue(const json::value& id, int code, const std::string& message) {
  return json::parse(mcp::errorText(id, code, message));
}

}  // namespace

std::shared_ptr<McpSessionState> McpSessions::get(std::string_view id) {
  if (id.empty()) {
    return std::make_shared<McpSessionState>();
  }
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) {
    return it->second;
  }
  if (sessions_.size() >= max_) {
    return nullptr;
  }
  auto s = std::make_shared<McpSessionState>();
  sessions_.emplace(std::string(id), s);
  return s;
}

void McpSessions::end(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    sessions_.erase(it);
  }
}

std::string rpcIdKey(const json::value& id) {
  return json::serialize(id);
}

std::optional<McpRefusal> checkToolCall(McpSessionState& s, const McpProxyConfig& config,
                                        const mcp::Message& call) {
  std::string tool(call.tool());
  if (config.pin_tools && !s.pins.trusted(tool)) {
    std::string why =
        s.pins.pinned(tool)
            ? "its definition changed during this session; start a new session"
            : "it was not offered by tools/list in this session; list the tools first";
    return McpRefusal{.code = mcp::kToolChanged,
                      .message = fmt::format("tool \"{}\" is refused: {}", tool, why)};
  }
  if (auto it = s.schemas.find(tool); it != s.schemas.end()) {
    static const json::value kEmpty = json::object();
    const json::value* args = call.arguments();
    if (auto bad = mcp::validateArguments(it->second, args ? *args : kEmpty)) {
      return McpRefusal{.code = mcp::kInvalidParams,
                        .message = fmt::format(
                            "the arguments of tool \"{}\" break its input schema: {}", tool, *bad)};
    }
  }
  if (config.budget_calls > 0 && s.calls >= config.budget_calls) {
    return McpRefusal{.code = mcp::kBudgetExceeded,
                      .message = fmt::format("this MCP session has used its budget of {} tool "
                                             "calls; start a new session",
                                             config.budget_calls)};
  }
  ++s.calls;
  return std::nullopt;
}

Status maskJsonValue(const mask::BodyPlan& plan, mask::Scanner& scanner, json::value& v,
                     mask::Counters& counters) {
  std::string out;
  std::string text = json::serialize(v);
  if (Status st = maskWhole(mask::BodyKind::kJson, plan, scanner, text, out, counters); !st) {
    return st;
  }
  boost::system::error_code ec;
  json::value masked = json::parse(out, ec);
  if (ec) {
    return Status::error(Code::kInternal, "masked JSON does not parse: " + ec.message());
  }
  v = std::move(masked);
  return Status::ok();
}

McpResponseFilter::McpResponseFilter(McpFilterOptions options)
    : o_(std::move(options)), sse_(o_.max_body_bytes) {}

Status McpResponseFilter::write(std::string_view chunk, std::string& out) {
  if (flooded_) {
    return Status::error(Code::kResourceExhausted,
                         "the upstream MCP server sent more notifications than "
                         "max_notifications_per_second");
  }
  if (o_.kind == mask::BodyKind::kSse) {
    size_t start = out.size();
    Status st = writeEvents(chunk, out);
    if (!st) {
      out.resize(start);
    }
    return st;
  }
  if (body_.size() + chunk.size() > o_.max_body_bytes) {
    return Status::error(Code::kResourceExhausted, "the upstream MCP response is too large");
  }
  body_.append(chunk);
  return Status::ok();
}

Status McpResponseFilter::writeEvents(std::string_view chunk, std::string& out) {
  std::vector<mcp::SseEvent> events;
  if (!sse_.feed(chunk, events)) {
    return protocolError("an event stream that does not parse: " + sse_.error());
  }
  for (auto& e : events) {
    if (e.data.find_first_not_of(" \t\r\n") == std::string::npos) {
      out += mcp::sseEventText(e.data, e.event, e.id);  // a priming event: no message
      continue;
    }
    boost::system::error_code ec;
    json::value v = json::parse(e.data, ec);
    if (ec) {
      return protocolError("an event that is not JSON: " + ec.message());
    }
    auto kept = onBody(std::move(v));
    if (!kept) {
      return kept.status();
    }
    if (*kept) {
      out += mcp::sseEventText(json::serialize(**kept), e.event, e.id);
    }
    if (flooded_) {
      std::string note = mcp::notificationText(
          "notifications/message",
          json::object{{"level", "error"},
                       {"logger", "jitgate"},
                       {"data",
                        "the upstream MCP server sent notifications faster than this "
                        "resource allows; the stream was ended"}});
      out += mcp::sseEventText(note, "message");
      break;
    }
  }
  return Status::ok();
}

Status McpResponseFilter::finish(std::string& out) {
  if (o_.kind == mask::BodyKind::kSse) {
    return sse_.pending() == 0 ? Status::ok() : protocolError("an incomplete event at its end");
  }
  if (body_.empty()) {
    return Status::ok();
  }
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = mcp::kMaxDepth;
  json::value v = json::parse(body_, ec, {}, opts);
  if (ec) {
    return protocolError("a body that is not JSON: " + ec.message());
  }
  auto kept = onBody(std::move(v));
  if (!kept) {
    return kept.status();
  }
  if (*kept) {
    out += json::serialize(**kept);
  }
  return Status::ok();
}

// A body or event: one message, or a batch of them.
Result<std::optional<json::value>> McpResponseFilter::onBody(json::value v) {
  if (!v.is_array()) {
    return onMessage(std::move(v));
  }
  json::array kept;
  for (auto& m : v.get_array()) {
    auto one = onMessage(std::move(m));
    if (!one) {
      return one.status();
    }
    if (*one) {
      kept.push_back(std::move(**one));
    }
  }
  if (kept.empty()) {
    return std::optional<json::value>();
  }
  return std::optional<json::value>(json::value(std::move(kept)));
}

Result<std::optional<json::value>> McpResponseFilter::onMessage(json::value v) {
  auto parsed = mcp::fromJson(v);
  if (auto* bad = std::get_if<mcp::RpcError>(&parsed)) {
    return protocolError("a message that is not JSON-RPC: " + bad->message);
  }
  const auto& m = std::get<mcp::Message>(parsed);
  using Kind = mcp::Message::Kind;
  if (m.kind == Kind::kNotification) {
    if (!admitNotification()) {
      flooded_ = true;
      notes_.push_back(McpNote{.kind = "notification-flood", .method = m.method});
      return std::optional<json::value>();
    }
    return std::optional<json::value>(std::move(v));
  }
  if (m.kind == Kind::kRequest) {
    std::string why = o_.refusal ? o_.refusal(m.method) : std::string();
    if (why.empty()) {
      return std::optional<json::value>(std::move(v));
    }
    notes_.push_back(
        McpNote{.kind = "server-request-refused", .method = m.method, .detail = why, .id = m.id});
    upstream_replies_.push_back(mcp::errorText(m.id, mcp::kDenied, why));
    return std::optional<json::value>();
  }
  const McpTurn::Pending* p = nullptr;
  if (o_.turn) {
    auto it = o_.turn->pending.find(rpcIdKey(m.id));
    p = it == o_.turn->pending.end() ? nullptr : &it->second;
  }
  if (p == nullptr || m.kind != Kind::kResult) {
    return std::optional<json::value>(std::move(v));
  }
  if (p->method == "tools/list") {
    return std::optional<json::value>(onToolsList(m, std::move(v)));
  }
  if (p->method == "tools/call") {
    auto r = onToolResult(m, *p, std::move(v));
    if (!r) {
      return r.status();
    }
    return std::optional<json::value>(std::move(*r));
  }
  return std::optional<json::value>(std::move(v));
}

json::value McpResponseFilter::onToolsList(const mcp::Message& m, json::value v) {
  json::object* result = v.get_object()["result"].if_object();
  json::array* tools = result ? (*result)["tools"].if_array() : nullptr;
  if (tools == nullptr) {
    return v;
  }
  auto removed = mcp::filterTools(*tools, o_.offered);
  for (const auto& name : removed) {
    notes_.push_back(McpNote{.kind = "tools-filtered", .method = "tools/list", .tool = name});
  }
  std::lock_guard lock(o_.session->mu);
  for (const auto& t : *tools) {
    const auto& o = t.get_object();
    const json::value* schema = o.if_contains("inputSchema");
    std::string name(o.at("name").get_string());
    if (schema != nullptr && !o_.session->schemas.contains(name)) {
      o_.session->schemas.emplace(std::move(name), *schema);
    }
  }
  if (!o_.config->pin_tools) {
    return v;
  }
  auto changes = o_.session->pins.observe(*tools);
  if (changes.empty()) {
    return v;
  }
  std::string names;
  for (const auto& c : changes) {
    names += (names.empty() ? "" : ", ") + c.name;
    notes_.push_back(McpNote{.kind = "tool-changed",
                             .method = "tools/list",
                             .tool = c.name,
                             .detail = c.was + " -> " + c.now,
                             .id = m.id});
  }
  return errorValue(m.id, mcp::kToolChanged,
                    fmt::format("the upstream MCP server changed the definition of {} during this "
                                "session; the changed tools stay blocked: start a new session",
                                names));
}

Result<json::value> McpResponseFilter::onToolResult(const mcp::Message& m,
                                                    const McpTurn::Pending& p, json::value v) {
  json::object* result = v.get_object()["result"].if_object();
  if (result != nullptr && o_.plan != nullptr && o_.scanner != nullptr) {
    if (json::array* content = (*result)["content"].if_array()) {
      for (auto& item : *content) {
        json::object* c = item.if_object();
        json::string* text = c && c->contains("text") ? (*c)["text"].if_string() : nullptr;
        if (text != nullptr) {
          if (Status st = maskTextContent(*o_.plan, *o_.scanner, *text, stats_.counters); !st) {
            return st;
          }
        }
      }
    }
    if (json::value* sc = result->if_contains("structuredContent")) {
      if (Status st = maskJsonValue(*o_.plan, *o_.scanner, *sc, stats_.counters); !st) {
        return st;
      }
    }
  }
  size_t bytes = json::serialize(v).size();
  std::lock_guard lock(o_.session->mu);
  o_.session->result_bytes += bytes;
  uint64_t budget = o_.config->budget_result_bytes;
  if (budget > 0 && o_.session->result_bytes > budget) {
    notes_.push_back(
        McpNote{.kind = "budget-exceeded",
                .method = "tools/call",
                .tool = p.tool,
                .detail = fmt::format("{} of {} result bytes", o_.session->result_bytes, budget),
                .id = m.id});
    return errorValue(m.id, mcp::kBudgetExceeded,
                      fmt::format("the result of tool \"{}\" ({} bytes) would exceed this MCP "
                                  "session's budget of {} result bytes; it was not delivered",
                                  p.tool, bytes, budget));
  }
  return v;
}

// A token bucket per session: max_notifications_per_second sustained, bursts of twice that.
bool McpResponseFilter::admitNotification() {
  double rate = o_.config->max_notifications_per_second;
  auto now = o_.now();
  std::lock_guard lock(o_.session->mu);
  double& tokens = o_.session->notify_tokens;
  if (tokens < 0) {
    tokens = 2.0 * rate;
  } else {
    std::chrono::duration<double> elapsed = now - o_.session->notify_last;
    tokens = std::min(2.0 * rate, tokens + elapsed.count() * rate);
  }
  o_.session->notify_last = now;
  if (tokens < 1.0) {
    return false;
  }
  tokens -= 1.0;
  return true;
}

}  // namespace jg::server
