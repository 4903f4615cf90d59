#include "audit/index_pg.h"

#include "audit/codec.h"

namespace jg::audit::index_pg {
namespace {

using store::Value;

Value str(const std::string& s) {
  return s.empty() ? Value{} : Value{s};
}
Value i64(uint64_t v) {
  return Value{static_cast<int64_t>(v)};
}

// `text` with LIKE's wildcards escaped ('\' is the escape character).
std::string likeLiteral(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == '%' || ch == '_' || ch == '\\') {
      out.push_back('\\');
    }
    out.push_back(ch);
  }
  return out;
}

}  // namespace

std::vector<std::string> migration4() {
  return {"ALTER TABLE audit_sessions ADD COLUMN db_user TEXT",
          "ALTER TABLE audit_statements ADD COLUMN hidden INTEGER",
          "CREATE INDEX audit_sessions_db_user ON audit_sessions(db_user)"};
}

Status authRow(const RowContext& c, const AuthEvent& e) {
  if (e.ok) {
    return Status::ok();
  }
  bool identified = !e.principal.subject.empty();
  std::string what = identified ? "session refused" : "login refused";
  std::string text = e.reason.empty() ? what : what + ": " + e.reason;
  return c.tx.exec(
      "INSERT INTO audit_statements(instance, seq, segment, session_id, statement_id, ts, kind, "
      "decision, text, error) VALUES (?, ?, ?, ?, 0, ?, ?, 'deny', ?, ?) ON CONFLICT DO NOTHING",
      {c.instance, i64(c.de.seq), i64(c.de.segment), c.de.event.session_id,
       toMicros(c.de.event.time), std::string(identified ? "session" : "login"), std::move(text),
       str(e.reason)});
}

Status linkBind(const RowContext& c, const StatementEvent& e) {
  if (e.parse_id == 0) {
    return Status::ok();
  }
  const std::string& sid = c.de.event.session_id;
  if (Status st = c.tx.exec(
          "UPDATE audit_statements SET hidden = 1 WHERE session_id = ? AND statement_id = ?",
          {sid, i64(e.parse_id)});
      !st) {
    return st;
  }
  return c.tx.exec(
      "UPDATE audit_statements SET error = (SELECT p.error FROM audit_statements p WHERE "
      "p.session_id = ? AND p.statement_id = ? AND p.error IS NOT NULL LIMIT 1) WHERE "
      "session_id = ? AND statement_id = ? AND error IS NULL",
      {sid, i64(e.parse_id), sid, i64(e.statement_id)});
}

std::string tableCondition(const std::string& table, std::vector<Value>& params) {
  constexpr const char* kTbl =
      " AND EXISTS (SELECT 1 FROM audit_statement_tables t WHERE t.instance = st.instance AND "
      "t.seq = st.seq AND ";
  size_t dot = table.rfind('.');
  if (dot == std::string::npos) {
    params.emplace_back(table);
    params.emplace_back("%." + likeLiteral(table));
    return std::string(kTbl) + "(t.tbl = ? OR t.tbl LIKE ? ESCAPE '\\'))";
  }
  if (table.substr(dot + 1) == "*") {
    params.emplace_back(likeLiteral(table.substr(0, dot + 1)) + "%");
    return std::string(kTbl) + "t.tbl LIKE ? ESCAPE '\\')";
  }
  params.emplace_back(table);
  return std::string(kTbl) + "t.tbl = ?)";
}

}  // namespace jg::audit::index_pg
