#include "audit/codec.h"

#include <algorithm>

#include "audit/codec_fields.h"
#include "audit/codec_http.h"
#include "audit/json_writer.h"
#include "core/random.h"

namespace jg::audit {
namespace json = boost::json;

using namespace fields;  // NOLINT(google-build-using-namespace)

namespace {

// A cell: null, a string when the bytes are valid UTF-8, else {"hex": "..."}.
void writeCell(JsonWriter& w, const std::optional<std::string>& cell) {
  if (!cell) {
    w.null();
  } else if (validUtf8(*cell)) {
    w.str(*cell);
  } else {
    w.beginObject();
    w.field("hex", toHex(*cell));
    w.endObject();
  }
}

void writeRow(JsonWriter& w, const Row& row) {
  w.beginArray();
  for (const auto& c : row) {
    writeCell(w, c);
  }
  w.endArray();
}

void writeRows(JsonWriter& w, const std::vector<Row>& rows) {
  w.beginArray();
  for (const auto& r : rows) {
    writeRow(w, r);
  }
  w.endArray();
}

void writeColumns(JsonWriter& w, const std::vector<Column>& columns) {
  w.key("columns");
  w.beginArray();
  for (const auto& c : columns) {
    w.beginObject();
    w.field("name", c.name);
    w.fieldU64("oid", c.type_oid);
    w.fieldIfSet("table", c.table);
    if (c.format != 0) {
      w.key("format");
      w.i64(c.format);
    }
    w.endObject();
  }
  w.endArray();
}

void writePrincipal(JsonWriter& w, const Principal& p) {
  w.key("principal");
  w.beginObject();
  w.fieldIfSet("iss", p.issuer);
  w.fieldIfSet("sub", p.subject);
  w.fieldIfSet("email", p.email);
  w.fieldIfSet("name", p.name);
  w.fieldIfSet("client_id", p.client_id);
  writeStrings(w, "groups", p.groups);
  if (p.service_account) {
    w.key("service");
    w.boolean(true);
  }
  w.endObject();
}

Principal principalFrom(const json::object& o) {
  Principal p;
  p.issuer = getStr(o, "iss");
  p.subject = getStr(o, "sub");
  p.email = getStr(o, "email");
  p.name = getStr(o, "name");
  p.client_id = getStr(o, "client_id");
  p.groups = getStrings(o, "groups");
  auto* s = o.if_contains("service");
  p.service_account = s && s->is_bool() && s->as_bool();
  return p;
}

// Writes each body's fields after type, ts and sid, in the documented order.
struct Encoder {
  JsonWriter& w;
  const std::string& sid;
  const RawSealer& sealer;
  const Redactor& redact;
  Status status;

  // `type` names the record type the field belongs to in the AAD (a `result` record seals its
  // raw rows as the result_rows field they stand for).
  void sealed(std::string_view type, std::string_view key, const RawBytes& raw) {
    auto r = sealer.seal(raw, rawAad(sid, type, key));
    if (!r) {
      status = r.status();
    } else if (r->has_value()) {
      w.field(key, **r);
    }
  }
  void operator()(const ConnectEvent& e) {
    w.fieldIfSet("client", e.client_addr);
    w.fieldIfSet("resource", e.resource);
    w.fieldIfSet("protocol", e.protocol);
    w.fieldIfSet("tls_version", e.tls_version);
    w.fieldIfSet("tls_cipher", e.tls_cipher);
    w.fieldIfSet("app", redact(e.application_name));
    w.fieldIfSet("db_user", e.db_user);
  }
  void operator()(const AuthEvent& e) {
    w.key("ok");
    w.boolean(e.ok);
    w.fieldIfSet("method", e.method);
    writePrincipal(w, e.principal);
    w.fieldIfSet("reason", redact(e.reason));
  }
  void operator()(const StatementEvent& e) {
    w.fieldU64("stmt", e.statement_id);
    w.field("text", redact(e.text));
    w.fieldIfSet("kind", e.kind);
    writeStrings(w, "tables", e.tables);
    w.fieldIfSet("fingerprint", e.fingerprint);
    w.fieldIfSet("decision", e.decision);
    w.fieldIfSet("rule", e.rule_id);
    if (!e.reason.empty()) {
      w.fieldIfSet("reason", redact(e.reason));
    }
    w.fieldIfSet("review", e.review_id);
    w.fieldIfSet("grant", e.grant_id);
    w.fieldIfSet("protocol", e.protocol);
    w.fieldIfSet("prepared", e.prepared_name);
    if (!e.param_digests.empty()) {
      writeStrings(w, "param_digests", e.param_digests);
    }
    if (!e.param_notes.empty()) {
      writeStrings(w, "param_notes", e.param_notes);
    }
    if (e.parse_id != 0) {
      w.fieldU64("parse", e.parse_id);
    }
    if (!e.document_ids.empty()) {
      writeStrings(w, "documents", e.document_ids);
    }
    sealed("statement", "params", e.params);
  }
  void operator()(const ResultStartEvent& e) {
    w.fieldU64("stmt", e.statement_id);
    writeColumns(w, e.columns);
  }
  void operator()(const ResultRowsEvent& e) {
    w.fieldU64("stmt", e.statement_id);
    w.key("rows");
    writeRows(w, e.rows);
    sealed("result_rows", "raw_rows", e.raw_rows);
    if (!e.document_ids.empty()) {
      writeStrings(w, "documents", e.document_ids);
    }
  }
  void operator()(const ResultEndEvent& e) {
    w.fieldU64("stmt", e.statement_id);
    w.fieldIfSet("tag", e.command_tag);
    w.fieldU64("rows", e.rows);
    w.fieldU64("bytes", e.bytes);
    writeMasked(w, e.masked_cells);
  }
  void operator()(const ResultEvent& e) {
    w.fieldU64("stmt", e.statement_id);
    writeColumns(w, e.columns);
    w.key("rows");
    writeRows(w, e.rows);
    sealed("result_rows", "raw_rows", e.raw_rows);
    if (!e.document_ids.empty()) {
      writeStrings(w, "documents", e.document_ids);
    }
    w.fieldIfSet("tag", e.command_tag);
    w.fieldU64("bytes", e.bytes);
    writeMasked(w, e.masked_cells);
  }
  void operator()(const ErrorEvent& e) {
    w.fieldU64IfSet("stmt", e.statement_id);
    w.fieldIfSet("source", e.source);
    w.fieldIfSet("severity", e.severity);
    w.fieldIfSet("sqlstate", e.sqlstate);
    w.field("message", redact(e.message));
    if (e.http_status != 0) {
      w.key("http_status");
      w.i64(e.http_status);
    }
  }
  http_codec::SealFn sealFn() {
    return [this](std::string_view type, std::string_view key, const RawBytes& raw) {
      sealed(type, key, raw);
    };
  }
  void operator()(const HttpRequestEvent& e) { http_codec::write(w, e, redact); }
  void operator()(const HttpResponseEvent& e) { http_codec::write(w, e, redact, sealFn()); }
  void operator()(const HttpBodyEvent& e) { http_codec::write(w, e, sealFn()); }
  void operator()(const HttpResponseEndEvent& e) { http_codec::write(w, e); }
  void operator()(const McpMessageEvent& e) { http_codec::write(w, e, redact, sealFn()); }
  void operator()(const CancelEvent& e) {
    w.fieldU64IfSet("stmt", e.statement_id);
    w.fieldIfSet("outcome", e.outcome);
  }
  void operator()(const SessionEndEvent& e) {
    w.fieldIfSet("reason", e.reason);
    w.fieldU64("statements", e.statements);
    w.fieldU64("rows", e.rows);
  }
  void operator()(const ReplayEvent& e) {
    w.field("session", e.replayed_session);
    w.key("raw");
    w.boolean(e.raw);
    w.fieldIfSet("actor", e.actor);
    w.fieldIfSet("reason", e.reason);
  }
  void operator()(const AccessEvent& e) {
    w.fieldIfSet("action", e.action);
    w.fieldIfSet("review", e.review_id);
    w.fieldIfSet("grant", e.grant_id);
    w.fieldIfSet("resource", e.resource);
    w.fieldIfSet("rule", e.rule_id);
    w.fieldIfSet("requester", e.requester);
    w.fieldIfSet("actor", e.actor);
    w.fieldIfSet("comment", e.comment);
    w.fieldIfSet("actor_sub", e.actor_subject);
  }
};

std::optional<std::string> cellFrom(const json::value& v) {
  if (v.is_string()) {
    return std::string(v.as_string());
  }
  if (v.is_object() && v.as_object().contains("hex")) {
    std::string hex = getStr(v.as_object(), "hex");
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
  }
  return std::nullopt;
}

Row rowFrom(const json::value& r) {
  Row row;
  if (r.is_array()) {
    for (const auto& c : r.as_array()) {
      row.push_back(cellFrom(c));
    }
  }
  return row;
}

std::vector<Row> rowsFrom(const json::value* v) {
  std::vector<Row> rows;
  if (v == nullptr || !v->is_array()) {
    return rows;
  }
  for (const auto& r : v->as_array()) {
    rows.push_back(rowFrom(r));
  }
  return rows;
}

std::vector<Column> columnsFrom(const json::object& o) {
  std::vector<Column> out;
  if (auto* cols = o.if_contains("columns"); cols && cols->is_array()) {
    for (const auto& c : cols->as_array()) {
      if (!c.is_object()) {
        continue;
      }
      const auto& co = c.as_object();
      out.push_back(Column{getStr(co, "name"), static_cast<uint32_t>(getU64(co, "oid")),
                           getStr(co, "table"), static_cast<int16_t>(getU64(co, "format"))});
    }
  }
  return out;
}

}  // namespace

Result<std::string> encodeEvent(const Event& event, const RawSealer& sealer,
                                const Redactor& redact) {
  std::string out;
  out.reserve(256);
  JsonWriter w(out);
  w.beginObject();
  w.field("type", typeName(event.body));
  w.key("ts");
  w.i64(toMicros(event.time));
  w.field("sid", event.session_id);
  Encoder enc{w, event.session_id, sealer, redact, Status::ok()};
  std::visit(enc, event.body);
  if (!enc.status) {
    return enc.status;
  }
  w.endObject();
  return out;
}

namespace {

// One function per event record with many fields.
AuthEvent authEventFrom(const json::object& o) {
  AuthEvent e;
  auto* okv = o.if_contains("ok");
  e.ok = okv && okv->is_bool() && okv->as_bool();
  e.method = getStr(o, "method");
  if (auto* p = o.if_contains("principal"); p && p->is_object()) {
    e.principal = principalFrom(p->as_object());
  }
  e.reason = getStr(o, "reason");
  return e;
}

StatementEvent statementEventFrom(const json::object& o) {
  StatementEvent e;
  e.statement_id = getU64(o, "stmt");
  e.text = getStr(o, "text");
  e.kind = getStr(o, "kind");
  e.tables = getStrings(o, "tables");
  e.fingerprint = getStr(o, "fingerprint");
  e.decision = getStr(o, "decision");
  e.rule_id = getStr(o, "rule");
  e.reason = getStr(o, "reason");
  e.review_id = getStr(o, "review");
  e.grant_id = getStr(o, "grant");
  e.protocol = getStr(o, "protocol");
  e.prepared_name = getStr(o, "prepared");
  e.param_digests = getStrings(o, "param_digests");
  e.param_notes = getStrings(o, "param_notes");
  e.parse_id = getU64(o, "parse");
  e.document_ids = getStrings(o, "documents");
  e.params = getSealed(o, "params");
  return e;
}

ResultRowsEvent resultRowsEventFrom(const json::object& o) {
  ResultRowsEvent e;
  e.statement_id = getU64(o, "stmt");
  e.rows = rowsFrom(o.if_contains("rows"));
  e.raw_rows = getSealed(o, "raw_rows");
  e.document_ids = getStrings(o, "documents");
  return e;
}

ResultEndEvent resultEndEventFrom(const json::object& o) {
  ResultEndEvent e;
  e.statement_id = getU64(o, "stmt");
  e.command_tag = getStr(o, "tag");
  e.rows = getU64(o, "rows");
  e.bytes = getU64(o, "bytes");
  e.masked_cells = maskedFrom(o);
  return e;
}

ResultEvent resultEventFrom(const json::object& o) {
  ResultEvent e;
  e.statement_id = getU64(o, "stmt");
  e.columns = columnsFrom(o);
  e.rows = rowsFrom(o.if_contains("rows"));
  e.raw_rows = getSealed(o, "raw_rows");
  e.document_ids = getStrings(o, "documents");
  e.command_tag = getStr(o, "tag");
  e.bytes = getU64(o, "bytes");
  e.masked_cells = maskedFrom(o);
  return e;
}

}  // namespace

Result<Event> decodeEvent(const json::object& o) {
  Event ev;
  std::string type = getStr(o, "type");
  auto* ts = o.if_contains("ts");
  ev.time = fromMicros(ts && ts->is_int64() ? ts->as_int64() : 0);
  ev.session_id = getStr(o, "sid");
  uint64_t stmt = getU64(o, "stmt");
  if (type == "connect") {
    ev.body = ConnectEvent{getStr(o, "client"),      getStr(o, "resource"),   getStr(o, "protocol"),
                           getStr(o, "tls_version"), getStr(o, "tls_cipher"), getStr(o, "app"),
                           getStr(o, "db_user")};
  } else if (type == "auth") {
    ev.body = authEventFrom(o);
  } else if (type == "statement") {
    ev.body = statementEventFrom(o);
  } else if (type == "result_start") {
    ev.body = ResultStartEvent{stmt, columnsFrom(o)};
  } else if (type == "result_rows") {
    ev.body = resultRowsEventFrom(o);
  } else if (type == "result_end") {
    ev.body = resultEndEventFrom(o);
  } else if (type == "result") {
    ev.body = resultEventFrom(o);
  } else if (type == "error") {
    ev.body = ErrorEvent{.statement_id = stmt,
                         .source = getStr(o, "source"),
                         .severity = getStr(o, "severity"),
                         .sqlstate = getStr(o, "sqlstate"),
                         .message = getStr(o, "message"),
                         .http_status = static_cast<int>(getU64(o, "http_status"))};
  } else if (type == "cancel") {
    ev.body = CancelEvent{stmt, getStr(o, "outcome")};
  } else if (type == "session_end") {
    ev.body = SessionEndEvent{getStr(o, "reason"), getU64(o, "statements"), getU64(o, "rows")};
  } else if (type == "replay") {
    auto* raw = o.if_contains("raw");
    ev.body = ReplayEvent{getStr(o, "session"), raw && raw->is_bool() && raw->as_bool(),
                          getStr(o, "actor"), getStr(o, "reason")};
  } else if (type == "access") {
    ev.body = AccessEvent{getStr(o, "action"),   getStr(o, "review"),  getStr(o, "grant"),
                          getStr(o, "resource"), getStr(o, "rule"),    getStr(o, "requester"),
                          getStr(o, "actor"),    getStr(o, "comment"), getStr(o, "actor_sub")};
  } else if (auto http = http_codec::decode(type, o)) {
    ev.body = std::move(*http);
  } else {
    return Status::error(Code::kNotFound, "not an event record: " + type);
  }
  return ev;
}

std::vector<Event> splitEvent(Event event) {
  std::vector<Event> out;
  auto* r = std::get_if<ResultEvent>(&event.body);
  if (r == nullptr) {
    out.push_back(std::move(event));
    return out;
  }
  uint64_t count = r->rows.size();
  out.push_back(Event{event.session_id, event.time,
                      ResultStartEvent{r->statement_id, std::move(r->columns)}});
  out.push_back(Event{event.session_id, event.time,
                      ResultRowsEvent{r->statement_id, std::move(r->rows), std::move(r->raw_rows),
                                      std::move(r->document_ids)}});
  out.push_back(Event{event.session_id, event.time,
                      ResultEndEvent{r->statement_id, std::move(r->command_tag), count, r->bytes,
                                     std::move(r->masked_cells)}});
  return out;
}

std::vector<json::object> splitRecord(const json::object& o) {
  std::vector<json::object> out;
  auto* t = o.if_contains("type");
  if (t == nullptr || !t->is_string() || t->as_string() != "result") {
    out.push_back(o);
    return out;
  }
  auto part = [&](std::string_view type, std::initializer_list<std::string_view> keys) {
    json::object p;
    p["type"] = type;
    for (std::string_view k : {"ts", "sid", "stmt"}) {
      if (auto* v = o.if_contains(k)) {
        p[k] = *v;
      }
    }
    for (std::string_view k : keys) {
      if (auto* v = o.if_contains(k)) {
        p[k] = *v;
      }
    }
    return p;
  };
  out.push_back(part("result_start", {"columns"}));
  out.push_back(part("result_rows", {"rows", "raw_rows", "documents"}));
  json::object end = part("result_end", {"tag"});
  auto* rows = o.if_contains("rows");
  end["rows"] = rows != nullptr && rows->is_array() ? rows->as_array().size() : 0;
  for (std::string_view k : {"bytes", "masked"}) {
    if (auto* v = o.if_contains(k)) {
      end[k] = *v;
    }
  }
  out.push_back(std::move(end));
  return out;
}

Result<std::string> RawOpener::open(const RawBytes& raw, const std::string& key_id,
                                    std::string_view aad) const {
  if (raw.state() != RawBytes::State::kSealed) {
    return Status::error(Code::kNotFound, "no raw payload recorded");
  }
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return Status::error(Code::kPermissionDenied, "raw payload key " + key_id + " not loaded");
  }
  return it->second.open(raw.sealedBytes(), aad);
}

std::string rowsToJson(const std::vector<Row>& rows) {
  std::string out;
  JsonWriter w(out);
  writeRows(w, rows);
  return out;
}

std::string rawRowsToJson(const RawRows& rows) {
  std::string out;
  JsonWriter w(out);
  w.beginArray();
  for (const auto& r : rows) {
    if (r) {
      writeRow(w, *r);
    } else {
      w.null();
    }
  }
  w.endArray();
  return out;
}

std::string paramsToJson(const std::vector<std::optional<std::string>>& values) {
  std::string out;
  JsonWriter w(out);
  w.beginArray();
  w.beginArray();
  for (const auto& v : values) {
    writeCell(w, v);
  }
  w.endArray();
  w.endArray();
  return out;
}

Result<std::vector<Row>> rowsFromJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) {
    return invalidArgument("raw rows are not a JSON array");
  }
  return rowsFrom(&v);
}

Result<std::vector<Row>> rawRowsView(std::string_view text, const std::vector<Row>& sent) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) {
    return invalidArgument("raw rows are not a JSON array");
  }
  const auto& a = v.as_array();
  std::vector<Row> rows;
  rows.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_null()) {
      rows.push_back(rowFrom(a[i]));
    } else if (i < sent.size()) {
      rows.push_back(sent[i]);  // masking left this row as sent
    } else {
      return invalidArgument("raw rows name a row that was not recorded");
    }
  }
  return rows;
}

}  // namespace jg::audit
