#include "audit/codec.h"

#include "core/random.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

void putStr(json::object& o, std::string_view key, const std::string& v) {
  if (!v.empty()) {
    o[key] = v;
  }
}
void putU64(json::object& o, std::string_view key, uint64_t v) {
  if (v != 0) {
    o[key] = v;
  }
}
json::array strArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) {
    a.emplace_back(s);
  }
  return a;
}

std::string getStr(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return (v && v->is_string()) ? std::string(v->as_string()) : std::string();
}
uint64_t getU64(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (v && v->is_uint64()) {
    return v->as_uint64();
  }
  return (v && v->is_int64() && v->as_int64() >= 0) ? static_cast<uint64_t>(v->as_int64()) : 0;
}
std::vector<std::string> getStrings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (v && v->is_array()) {
    for (const auto& x : v->as_array()) {
      if (x.is_string()) {
        out.emplace_back(x.as_string());
      }
    }
  }
  return out;
}
RawBytes getSealed(const json::object& o, std::string_view key) {
  std::string b64 = getStr(o, key);
  if (b64.empty()) {
    return {};
  }
  auto raw = base64Decode(b64);
  return raw ? RawBytes::sealedFrom(std::move(*raw)) : RawBytes();
}

// Strict UTF-8 (no overlongs, no surrogates): JSON strings must be valid text, anything else
// is stored hex-encoded.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (i + n >= s.size()) {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

json::value cellValue(const std::optional<std::string>& cell) {
  if (!cell) {
    return nullptr;
  }
  if (validUtf8(*cell)) {
    return json::string(*cell);
  }
  return json::object{{"hex", toHex(*cell)}};
}

json::object principalJson(const Principal& p) {
  json::object o;
  putStr(o, "iss", p.issuer);
  putStr(o, "sub", p.subject);
  putStr(o, "email", p.email);
  putStr(o, "name", p.name);
  putStr(o, "client_id", p.client_id);
  o["groups"] = strArray(p.groups);
  if (p.service_account) {
    o["service"] = true;
  }
  return o;
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

struct Encoder {
  json::object& o;
  const std::string& sid;
  const RawSealer& sealer;
  const Redactor& redact;
  Status status;

  void sealed(std::string_view type, std::string_view key, const RawBytes& raw) {
    auto r = sealer.seal(raw, rawAad(sid, type, key));
    if (!r) {
      status = r.status();
    } else if (r->has_value()) {
      o[key] = **r;
    }
  }
  void operator()(const ConnectEvent& e) {
    putStr(o, "client", e.client_addr);
    putStr(o, "resource", e.resource);
    putStr(o, "protocol", e.protocol);
    putStr(o, "tls_version", e.tls_version);
    putStr(o, "tls_cipher", e.tls_cipher);
    putStr(o, "app", redact(e.application_name));
    putStr(o, "db_user", e.db_user);
  }
  void operator()(const AuthEvent& e) {
    o["ok"] = e.ok;
    putStr(o, "method", e.method);
    o["principal"] = principalJson(e.principal);
    putStr(o, "reason", redact(e.reason));
  }
  void operator()(const StatementEvent& e) {
    o["stmt"] = e.statement_id;
    o["text"] = redact(e.text);
    putStr(o, "kind", e.kind);
    o["tables"] = strArray(e.tables);
    putStr(o, "fingerprint", e.fingerprint);
    putStr(o, "decision", e.decision);
    putStr(o, "rule", e.rule_id);
    putStr(o, "reason", redact(e.reason));
    putStr(o, "review", e.review_id);
    putStr(o, "grant", e.grant_id);
    putStr(o, "protocol", e.protocol);
    putStr(o, "prepared", e.prepared_name);
    if (!e.param_digests.empty()) {
      o["param_digests"] = strArray(e.param_digests);
    }
    sealed("statement", "params", e.params);
  }
  void operator()(const ResultStartEvent& e) {
    o["stmt"] = e.statement_id;
    json::array cols;
    for (const auto& c : e.columns) {
      json::object co{{"name", c.name}, {"oid", c.type_oid}};
      putStr(co, "table", c.table);
      if (c.format != 0) {
        co["format"] = c.format;
      }
      cols.emplace_back(std::move(co));
    }
    o["columns"] = std::move(cols);
  }
  void operator()(const ResultRowsEvent& e) {
    o["stmt"] = e.statement_id;
    json::array rows;
    for (const auto& r : e.rows) {
      json::array a;
      for (const auto& c : r) {
        a.push_back(cellValue(c));
      }
      rows.emplace_back(std::move(a));
    }
    o["rows"] = std::move(rows);
    sealed("result_rows", "raw_rows", e.raw_rows);
    if (!e.document_ids.empty()) {
      o["documents"] = strArray(e.document_ids);
    }
  }
  void operator()(const ResultEndEvent& e) {
    o["stmt"] = e.statement_id;
    putStr(o, "tag", e.command_tag);
    o["rows"] = e.rows;
    o["bytes"] = e.bytes;
    json::object m;
    for (const auto& [label, n] : e.masked_cells) {
      m[label] = n;
    }
    o["masked"] = std::move(m);
  }
  void operator()(const ErrorEvent& e) {
    putU64(o, "stmt", e.statement_id);
    putStr(o, "source", e.source);
    putStr(o, "severity", e.severity);
    putStr(o, "sqlstate", e.sqlstate);
    o["message"] = redact(e.message);
  }
  void operator()(const CancelEvent& e) {
    putU64(o, "stmt", e.statement_id);
    putStr(o, "outcome", e.outcome);
  }
  void operator()(const SessionEndEvent& e) {
    putStr(o, "reason", e.reason);
    o["statements"] = e.statements;
    o["rows"] = e.rows;
  }
  void operator()(const ReplayEvent& e) {
    o["session"] = e.replayed_session;
    o["raw"] = e.raw;
    putStr(o, "actor", e.actor);
  }
  void operator()(const AccessEvent& e) {
    putStr(o, "action", e.action);
    putStr(o, "review", e.review_id);
    putStr(o, "grant", e.grant_id);
    putStr(o, "resource", e.resource);
    putStr(o, "rule", e.rule_id);
    putStr(o, "requester", e.requester);
    putStr(o, "actor", e.actor);
    putStr(o, "comment", e.comment);
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

std::vector<Row> rowsFrom(const json::value* v) {
  std::vector<Row> rows;
  if (v == nullptr || !v->is_array()) {
    return rows;
  }
  for (const auto& r : v->as_array()) {
    Row row;
    if (r.is_array()) {
      for (const auto& c : r.as_array()) {
        row.push_back(cellFrom(c));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

std::string toValidUtf8(std::string_view s) {
  if (validUtf8(s)) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // The longest valid sequence starting here (1-4 bytes), else one replacement character.
    size_t n = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      if (validUtf8(s.substr(i, len))) {
        n = len;
        break;
      }
    }
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

const std::string& RawSealer::keyId() const {
  static const std::string kNone;
  return key_ ? key_->id() : kNone;
}

Result<std::optional<std::string>> RawSealer::seal(const RawBytes& raw,
                                                   std::string_view aad) const {
  if (!key_ || raw.state_ != RawBytes::State::kPlain) {
    return std::optional<std::string>();
  }
  auto sealed = key_->seal(raw.bytes_, aad);
  if (!sealed) {
    return sealed.status();
  }
  return std::optional<std::string>(base64Encode(*sealed));
}

std::string rawAad(std::string_view session_id, std::string_view type, std::string_view field) {
  std::string aad(session_id);
  aad.push_back('\0');
  aad.append(type);
  aad.push_back('\0');
  aad.append(field);
  return aad;
}

int64_t toMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
std::chrono::system_clock::time_point fromMicros(int64_t us) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(us)));
}

Result<std::string> encodeEvent(const Event& event, const RawSealer& sealer,
                                const Redactor& redact) {
  json::object o;
  o["type"] = typeName(event.body);
  o["ts"] = toMicros(event.time);
  o["sid"] = event.session_id;
  Encoder enc{o, event.session_id, sealer, redact, Status::ok()};
  std::visit(enc, event.body);
  if (!enc.status) {
    return enc.status;
  }
  return json::serialize(o);
}

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
    AuthEvent e;
    auto* okv = o.if_contains("ok");
    e.ok = okv && okv->is_bool() && okv->as_bool();
    e.method = getStr(o, "method");
    if (auto* p = o.if_contains("principal"); p && p->is_object()) {
      e.principal = principalFrom(p->as_object());
    }
    e.reason = getStr(o, "reason");
    ev.body = std::move(e);
  } else if (type == "statement") {
    StatementEvent e;
    e.statement_id = stmt;
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
    e.params = getSealed(o, "params");
    ev.body = std::move(e);
  } else if (type == "result_start") {
    ResultStartEvent e;
    e.statement_id = stmt;
    if (auto* cols = o.if_contains("columns"); cols && cols->is_array()) {
      for (const auto& c : cols->as_array()) {
        if (!c.is_object()) {
          continue;
        }
        const auto& co = c.as_object();
        e.columns.push_back(Column{getStr(co, "name"), static_cast<uint32_t>(getU64(co, "oid")),
                                   getStr(co, "table"),
                                   static_cast<int16_t>(getU64(co, "format"))});
      }
    }
    ev.body = std::move(e);
  } else if (type == "result_rows") {
    ResultRowsEvent e;
    e.statement_id = stmt;
    e.rows = rowsFrom(o.if_contains("rows"));
    e.raw_rows = getSealed(o, "raw_rows");
    e.document_ids = getStrings(o, "documents");
    ev.body = std::move(e);
  } else if (type == "result_end") {
    ResultEndEvent e;
    e.statement_id = stmt;
    e.command_tag = getStr(o, "tag");
    e.rows = getU64(o, "rows");
    e.bytes = getU64(o, "bytes");
    if (auto* m = o.if_contains("masked"); m && m->is_object()) {
      for (const auto& kv : m->as_object()) {
        e.masked_cells[std::string(kv.key())] = kv.value().is_uint64()  ? kv.value().as_uint64()
                                                : kv.value().is_int64() ? kv.value().as_int64()
                                                                        : 0;
      }
    }
    ev.body = std::move(e);
  } else if (type == "error") {
    ev.body = ErrorEvent{stmt, getStr(o, "source"), getStr(o, "severity"), getStr(o, "sqlstate"),
                         getStr(o, "message")};
  } else if (type == "cancel") {
    ev.body = CancelEvent{stmt, getStr(o, "outcome")};
  } else if (type == "session_end") {
    ev.body = SessionEndEvent{getStr(o, "reason"), getU64(o, "statements"), getU64(o, "rows")};
  } else if (type == "replay") {
    auto* raw = o.if_contains("raw");
    ev.body = ReplayEvent{getStr(o, "session"), raw && raw->is_bool() && raw->as_bool(),
                          getStr(o, "actor")};
  } else if (type == "access") {
    ev.body = AccessEvent{getStr(o, "action"),   getStr(o, "review"), getStr(o, "grant"),
                          getStr(o, "resource"), getStr(o, "rule"),   getStr(o, "requester"),
                          getStr(o, "actor"),    getStr(o, "comment")};
  } else {
    return Status::error(Code::kNotFound, "not an event record: " + type);
  }
  return ev;
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
  json::array a;
  for (const auto& r : rows) {
    json::array row;
    for (const auto& c : r) {
      row.push_back(cellValue(c));
    }
    a.emplace_back(std::move(row));
  }
  return json::serialize(a);
}

Result<std::vector<Row>> rowsFromJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) {
    return invalidArgument("raw rows are not a JSON array");
  }
  return rowsFrom(&v);
}

}  // namespace jg::audit
