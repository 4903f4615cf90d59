#include "audit/replay_mcp.h"

#include <fmt/format.h>

#include <vector>

namespace jg::audit {
namespace json = boost::json;
namespace {

std::string cut(std::string s, size_t max_chars) {
  if (s.size() > max_chars) {
    s.resize(max_chars);
    s += "...";
  }
  return s;
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A JSON-RPC id as text: a string verbatim, a number in decimal.
std::string idText(const json::object& m) {
  auto* v = m.if_contains("id");
  if (v == nullptr || v->is_null()) {
    return "";
  }
  return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
}

// Lines of pretty JSON, built with a bound: nothing past the line budget is formatted.
struct Pretty {
  std::vector<std::string> out;
  size_t max_lines;
  size_t max_chars;
  size_t dropped = 0;

  void emit(size_t depth, std::string text) {
    if (out.size() >= max_lines) {
      ++dropped;
      return;
    }
    out.push_back(std::string(depth * 2, ' ') + std::move(text));
  }
  std::string scalar(const json::value& v) const {
    if (v.is_string()) {
      return json::serialize(json::value(cut(std::string(v.as_string()), max_chars)));
    }
    return json::serialize(v);
  }
  void value(const json::value& v, size_t depth, std::string prefix, std::string_view comma) {
    bool empty = (v.is_object() && v.as_object().empty()) || (v.is_array() && v.as_array().empty());
    if (!v.is_structured() || empty) {
      emit(depth,
           prefix + (empty ? (v.is_object() ? "{}" : "[]") : scalar(v)) + std::string(comma));
      return;
    }
    emit(depth, prefix + (v.is_object() ? "{" : "["));
    if (v.is_object()) {
      size_t i = 0, n = v.as_object().size();
      for (const auto& kv : v.as_object()) {
        value(kv.value(), depth + 1, json::serialize(json::value(kv.key())) + ": ",
              ++i < n ? "," : "");
      }
    } else {
      size_t i = 0, n = v.as_array().size();
      for (const auto& e : v.as_array()) {
        value(e, depth + 1, "", ++i < n ? "," : "");
      }
    }
    emit(depth, std::string(v.is_object() ? "}" : "]") + std::string(comma));
  }
};

}  // namespace

std::string prettyJson(const json::value& value, std::string_view indent, size_t max_lines,
                       size_t max_chars) {
  Pretty p{.out = {}, .max_lines = max_lines, .max_chars = max_chars};
  p.value(value, 0, "", "");
  std::string s;
  for (const auto& l : p.out) {
    s += std::string(indent) + l + "\n";
  }
  if (p.dropped != 0) {
    s += fmt::format("{}... ({} more lines)\n", indent, p.dropped);
  }
  return s;
}

bool McpReplay::request(const HttpRequestEvent& e) {
  json::error_code ec;
  json::value v = e.body.empty() ? json::value() : json::parse(e.body, ec);
  std::string decision = fmt::format("{}{}{}{}{}", e.decision.empty() ? "?" : e.decision,
                                     e.rule_id.empty() ? "" : " by rule " + e.rule_id,
                                     e.review_id.empty() ? "" : " review " + e.review_id,
                                     e.approval_id.empty() ? "" : " approval " + e.approval_id,
                                     e.reason.empty() ? "" : " (" + e.reason + ")");
  if (!e.tool.empty()) {
    tools_[e.request_id] = e.tool;
  }
  if (!ec && v.is_object()) {
    renderMessage(e.request_id, "client", v.as_object(), decision);
    return true;
  }
  if (e.rpc_method.empty()) {
    return false;  // a GET stream, a DELETE of the session, or a body that was cut
  }
  out_ << fmt::format("call      [{}] client {}{}{}\n", e.request_id, e.rpc_method,
                      e.tool.empty() ? "" : " " + e.tool,
                      e.rpc_id.empty() ? "" : " id " + e.rpc_id);
  line(decision);
  if (e.body_bytes != 0) {
    line(fmt::format("(body of {} bytes not shown: {})", e.body_bytes,
                     ec ? "cut or not JSON" : "not one JSON-RPC message"));
  }
  return true;
}

bool McpReplay::response(const HttpResponseEvent& e) {
  content_types_[e.request_id] = e.content_type;
  bool shown = responseBody(e.request_id, e.body);
  if (e.complete) {
    end(e.request_id);
  }
  return shown;
}

bool McpReplay::body(const HttpBodyEvent& e) {
  return responseBody(e.request_id, e.body);
}

void McpReplay::end(uint64_t request_id) {
  content_types_.erase(request_id);
  sse_.erase(request_id);
}

bool McpReplay::responseBody(uint64_t request_id, std::string_view body) {
  auto ct = content_types_.find(request_id);
  std::string_view content_type;
  if (ct != content_types_.end()) {
    content_type = ct->second;
  }
  if (content_type.starts_with("text/event-stream")) {
    if (streamed_.contains(request_id)) {
      if (!body.empty()) {
        line(fmt::format("({} bytes of event stream; its messages are listed as recorded)",
                         body.size()));
      }
      return true;
    }
    renderSse(request_id, body);
    return true;
  }
  if (body.empty()) {
    return true;
  }
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return false;
  }
  out_ << "          ";
  renderMessage(request_id, "server", v.as_object());
  return true;
}

void McpReplay::message(const McpMessageEvent& e) {
  streamed_.insert(e.request_id);
  if (!e.tool.empty() && e.request_id != 0) {
    tools_.try_emplace(e.request_id, e.tool);
  }
  json::error_code ec;
  json::value v = json::parse(e.body, ec);
  std::string direction = e.direction.empty() ? "server" : e.direction;
  std::string decision;
  if (!e.decision.empty() && e.decision != "allow") {  // allowed stream messages stay terse
    decision = fmt::format("{}{}{}", e.decision, e.rule_id.empty() ? "" : " by rule " + e.rule_id,
                           e.reason.empty() ? "" : " (" + e.reason + ")");
  }
  if (!ec && v.is_object()) {
    renderMessage(e.request_id, direction, v.as_object(), decision);
  } else {
    out_ << fmt::format("message   [{}] {} {}{}\n", e.request_id, direction,
                        e.rpc_method.empty() ? "(not JSON-RPC)" : e.rpc_method,
                        e.rpc_id.empty() ? "" : " id " + e.rpc_id);
    if (!decision.empty()) {
      line(decision);
    }
    lines(e.body);
  }
  if (!e.document_ids.empty()) {
    std::string ids;
    for (const auto& d : e.document_ids) {
      ids += (ids.empty() ? "" : ",") + d;
    }
    line("documents: " + ids);
  }
}

void McpReplay::renderMessage(uint64_t request_id, std::string_view direction,
                              const json::object& m, const std::string& decision) {
  std::string method = str(m, "method");
  std::string id = idText(m);
  if (!method.empty() && id.empty()) {
    auto* params = m.if_contains("params");
    std::string p = params != nullptr ? " " + cut(json::serialize(*params), kMaxLineChars) : "";
    out_ << fmt::format("notify    [{}] {} {}{}{}\n", request_id, direction, method, p,
                        decision.empty() ? "" : " (" + decision + ")");
    return;
  }
  if (!method.empty()) {
    renderCall(request_id, direction, m, decision);
    return;
  }
  auto tool = tools_.find(request_id);
  std::string tool_name = tool != tools_.end() ? " " + tool->second : "";
  if (auto* err = m.if_contains("error"); err != nullptr && err->is_object()) {
    auto* code = err->as_object().if_contains("code");
    out_ << fmt::format("rpc-error [{}] {} id {}{} {}: {}\n", request_id, direction, id, tool_name,
                        code != nullptr ? json::serialize(*code) : "?",
                        cut(str(err->as_object(), "message"), kMaxLineChars));
    return;
  }
  out_ << fmt::format("result    [{}] {} id {}{}\n", request_id, direction, id, tool_name);
  if (!decision.empty()) {
    line(decision);
  }
  if (auto* result = m.if_contains("result"); result != nullptr && result->is_object()) {
    renderResult(result->as_object());
  }
}

void McpReplay::renderCall(uint64_t request_id, std::string_view direction, const json::object& m,
                           const std::string& decision) {
  std::string method = str(m, "method");
  const json::value* params = m.if_contains("params");
  const json::object* po =
      params != nullptr && params->is_object() ? &params->as_object() : nullptr;
  std::string tool = method == "tools/call" && po != nullptr ? str(*po, "name") : "";
  out_ << fmt::format("call      [{}] {} {}{} id {}\n", request_id, direction, method,
                      tool.empty() ? "" : " " + tool, idText(m));
  if (!decision.empty()) {
    line(decision);
  }
  if (po == nullptr) {
    return;
  }
  if (!tool.empty()) {
    auto* args = po->if_contains("arguments");
    if (args != nullptr) {
      line("arguments:");
      out_ << prettyJson(*args, "            ", kMaxLines, kMaxLineChars);
    }
  } else if (!po->empty()) {
    line("params:");
    out_ << prettyJson(*params, "            ", kMaxLines, kMaxLineChars);
  }
}

void McpReplay::renderResult(const json::object& result) {
  if (result.contains("content") || result.contains("structuredContent")) {
    renderToolResult(result);
    return;
  }
  if (auto* tools = result.if_contains("tools"); tools != nullptr && tools->is_array()) {
    std::string names;
    for (const auto& t : tools->as_array()) {
      if (t.is_object()) {
        names += (names.empty() ? "" : ", ") + str(t.as_object(), "name");
      }
    }
    line(cut(fmt::format("tools ({}): {}", tools->as_array().size(), names), kMaxLineChars * 4));
    return;
  }
  if (!result.empty()) {
    out_ << prettyJson(result, "            ", kMaxLines, kMaxLineChars);
  }
}

void McpReplay::renderToolResult(const json::object& result) {
  if (auto* is_error = result.if_contains("isError");
      is_error != nullptr && is_error->is_bool() && is_error->as_bool()) {
    line("tool reported an error (isError)");
  }
  if (auto* content = result.if_contains("content"); content != nullptr && content->is_array()) {
    for (const auto& c : content->as_array()) {
      if (!c.is_object()) {
        continue;
      }
      const auto& item = c.as_object();
      std::string type = str(item, "type");
      if (type == "text") {
        line("text:");
        lines(str(item, "text"));
      } else {
        std::string mime = str(item, "mimeType");
        line(fmt::format("{}{}", type.empty() ? "content" : type,
                         mime.empty() ? "" : " (" + mime + ")"));
      }
    }
  }
  if (auto* sc = result.if_contains("structuredContent"); sc != nullptr) {
    line("structured content:");
    out_ << prettyJson(*sc, "            ", kMaxLines, kMaxLineChars);
  }
}

void McpReplay::renderSse(uint64_t request_id, std::string_view body) {
  std::string& pending = sse_[request_id];
  for (char c : body) {
    if (c != '\r') {  // CRLF line ends read as LF
      pending.push_back(c);
    }
  }
  size_t start = 0;
  while (true) {
    size_t end = pending.find("\n\n", start);
    if (end == std::string::npos) {
      break;
    }
    std::string data;
    std::string_view event(pending.data() + start, end - start);
    while (!event.empty()) {
      size_t nl = event.find('\n');
      std::string_view l = event.substr(0, nl);
      if (l.starts_with("data:")) {
        l.remove_prefix(l.starts_with("data: ") ? 6 : 5);
        data += (data.empty() ? "" : "\n") + std::string(l);
      }
      event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
    }
    start = end + 2;
    json::error_code ec;
    json::value v = data.empty() ? json::value() : json::parse(data, ec);
    if (!ec && v.is_object()) {
      out_ << "          ";
      renderMessage(request_id, "server", v.as_object());
    } else if (!data.empty()) {
      line("event (not JSON-RPC): " + cut(data, kMaxLineChars));
    }
  }
  pending.erase(0, start);
  if (pending.size() > kMaxPendingSse) {
    line(fmt::format("({} bytes of an incomplete event not shown)", pending.size()));
    pending.clear();
  }
}

void McpReplay::lines(std::string_view text) {
  size_t n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (n++ == kMaxLines) {
      line("  ... (more lines not shown)");
      return;
    }
    line("  " + cut(std::string(text.substr(start, end - start)), kMaxLineChars));
    start = end + 1;
  }
}

}  // namespace jg::audit
