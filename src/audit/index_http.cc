#include "audit/index_http.h"

#include "audit/codec.h"

namespace jg::audit::index_http {
namespace {

using store::Value;

Value str(const std::string& s) {
  return s.empty() ? Value{} : Value{s};
}
Value i64(uint64_t v) {
  return Value{static_cast<int64_t>(v)};
}

Status setBytes(const RowContext& c, uint64_t id, uint64_t bytes) {
  return c.tx.exec(
      "UPDATE audit_statements SET bytes = ? WHERE session_id = ? AND statement_id = ? AND "
      "kind = 'http'",
      {i64(bytes), c.de.event.session_id, i64(id)});
}

}  // namespace

std::vector<std::string> migration2() {
  return {"ALTER TABLE audit_statements ADD COLUMN method TEXT",
          "ALTER TABLE audit_statements ADD COLUMN path TEXT",
          "ALTER TABLE audit_statements ADD COLUMN status INTEGER",
          "CREATE INDEX audit_statements_path ON audit_statements(path)",
          "CREATE INDEX audit_statements_status ON audit_statements(status, ts)",
          "CREATE INDEX audit_sessions_protocol ON audit_sessions(protocol)"};
}

std::vector<std::string> migration3() {
  return {"ALTER TABLE audit_statements ADD COLUMN rpc_method TEXT",
          "ALTER TABLE audit_statements ADD COLUMN tool TEXT",
          "CREATE INDEX audit_statements_tool ON audit_statements(tool, ts)",
          "CREATE INDEX audit_statements_rpc_method ON audit_statements(rpc_method, ts)"};
}

std::string requestText(const HttpRequestEvent& e) {
  std::string text = e.method + " " + e.path + (e.query.empty() ? "" : "?" + e.query);
  if (!e.rpc_method.empty()) {
    text += " " + e.rpc_method + (e.tool.empty() ? "" : " " + e.tool);
  }
  return text;
}

Status request(const RowContext& c, const HttpRequestEvent& e) {
  return c.tx.exec(
      "INSERT INTO audit_statements(instance, seq, segment, session_id, statement_id, ts, kind, "
      "decision, rule_id, review_id, grant_id, text, method, path, rpc_method, tool) "
      "VALUES (?, ?, ?, ?, ?, ?, 'http', ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      {c.instance, i64(c.de.seq), i64(c.de.segment), c.de.event.session_id, i64(e.request_id),
       toMicros(c.de.event.time), str(e.decision), str(e.rule_id), str(e.review_id),
       str(e.grant_id), requestText(e), str(e.method), str(e.path), str(e.rpc_method),
       str(e.tool)});
}

bool indexedAsRow(const McpMessageEvent& e) {
  return (!e.rpc_method.empty() && !e.rpc_id.empty()) || e.decision == "deny";
}

Status response(const RowContext& c, const HttpResponseEvent& e) {
  if (Status st = c.tx.exec(
          "UPDATE audit_statements SET status = ? WHERE session_id = ? AND statement_id = ? AND "
          "kind = 'http'",
          {int64_t{e.status}, c.de.event.session_id, i64(e.request_id)});
      !st) {
    return st;
  }
  if (Status st = documents(c, e.request_id, e.document_ids); !st) {
    return st;
  }
  return e.complete ? setBytes(c, e.request_id, e.bytes) : Status::ok();
}

Status body(const RowContext& c, const HttpBodyEvent& e) {
  return documents(c, e.request_id, e.document_ids);
}

Status end(const RowContext& c, const HttpResponseEndEvent& e) {
  return setBytes(c, e.request_id, e.bytes);
}

Status mcpMessage(const RowContext& c, const McpMessageEvent& e) {
  if (Status st = documents(c, e.request_id, e.document_ids); !st) {
    return st;
  }
  if (!indexedAsRow(e)) {
    return Status::ok();
  }
  std::string text = (e.direction.empty() ? "server" : e.direction) + " " +
                     (e.rpc_method.empty() ? "(response)" : e.rpc_method) +
                     (e.rpc_id.empty() ? "" : " id " + e.rpc_id);
  return c.tx.exec(
      "INSERT INTO audit_statements(instance, seq, segment, session_id, statement_id, ts, kind, "
      "decision, rule_id, text, rpc_method, tool) "
      "VALUES (?, ?, ?, ?, ?, ?, 'mcp', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      {c.instance, i64(c.de.seq), i64(c.de.segment), c.de.event.session_id, i64(e.request_id),
       toMicros(c.de.event.time), str(e.decision), str(e.rule_id), std::move(text),
       str(e.rpc_method), str(e.tool)});
}

Status documents(const RowContext& c, uint64_t id, const std::vector<std::string>& ids) {
  for (const auto& doc : ids) {
    if (Status st = c.tx.exec(
            "INSERT INTO audit_documents(instance, seq, segment, session_id, statement_id, "
            "document_id, ts) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            {c.instance, i64(c.de.seq), i64(c.de.segment), c.de.event.session_id, i64(id), doc,
             toMicros(c.de.event.time)});
        !st) {
      return st;
    }
  }
  return Status::ok();
}

Status errorStatus(const RowContext& c, uint64_t id, int http_status) {
  return c.tx.exec(
      "UPDATE audit_statements SET status = ? WHERE session_id = ? AND statement_id = ? AND "
      "kind = 'http' AND status IS NULL",
      {int64_t{http_status}, c.de.event.session_id, i64(id)});
}

std::string globToLike(std::string_view glob) {
  std::string out;
  out.reserve(glob.size() + 4);
  for (char ch : glob) {
    switch (ch) {
      case '*':
        out.push_back('%');
        break;
      case '?':
        out.push_back('_');
        break;
      case '%':
      case '_':
      case '\\':
        out.push_back('\\');
        out.push_back(ch);
        break;
      default:
        out.push_back(ch);
    }
  }
  return out;
}

}  // namespace jg::audit::index_http
