#include "audit/replay.h"

#include <fmt/format.h>

#include <map>

#include "audit/json_writer.h"
#include "audit/replay_mcp.h"
#include "audit/segment.h"
#include "audit/verify.h"
#include "core/clock.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

std::string cellText(const std::optional<std::string>& c) {
  return c ? *c : "NULL";
}

struct TextRenderer {
  std::ostream& out;
  const RawOpener* opener;
  std::map<uint64_t, std::vector<std::string>> columns;
  const ReplayedRecord* rec = nullptr;
  McpReplay mcp{out};        // MCP sessions: JSON-RPC messages instead of HTTP bodies
  bool mcp_session = false;  // the connect record said "mcp"

  // `sent` resolves raw rows that masking left as sent (null entries); null for parameters.
  std::optional<std::vector<Row>> openRows(const RawBytes& raw, std::string_view type,
                                           std::string_view field, std::string& why,
                                           const std::vector<Row>* sent = nullptr) {
    if (opener == nullptr) {
      return std::nullopt;
    }
    auto rows = openSealedRows(*opener, *rec, raw, type, field, sent);
    if (!rows) {
      why = rows.status().message();
      return std::nullopt;
    }
    return std::move(*rows);
  }

  void line(const std::string& s) { out << "          " << s << "\n"; }

  void operator()(const ConnectEvent& e) {
    mcp_session = e.protocol == "mcp";
    out << "connect   client " << e.client_addr << " resource " << e.resource << " (" << e.protocol
        << (e.tls_version.empty() ? ", no TLS" : ", " + e.tls_version) << ")"
        << (e.application_name.empty() ? "" : " app " + e.application_name) << "\n";
  }
  void operator()(const AuthEvent& e) {
    const Principal& p = e.principal;
    std::string groups;
    for (const auto& g : p.groups) {
      groups += (groups.empty() ? "" : ",") + g;
    }
    out << "auth      " << (e.ok ? "ok " : "FAILED ")
        << (p.email.empty() ? p.subject : p.email + " (sub " + p.subject + ")")
        << (groups.empty() ? "" : " groups " + groups)
        << (e.reason.empty() ? "" : " reason: " + e.reason) << "\n";
  }
  void operator()(const StatementEvent& e) {
    bool bind = e.protocol == "bind";
    out << (bind ? "bind      [" : "statement [") << e.statement_id << "] "
        << (e.parse_id != 0 ? fmt::format("of [{}] ", e.parse_id) : "") << e.text << "\n";
    if (!e.param_digests.empty()) {
      std::string why;
      auto vals = openRows(e.params, "statement", "params", why);
      for (size_t i = 0; i < e.param_digests.size(); ++i) {
        std::string v = vals && !vals->empty() && i < (*vals)[0].size()
                            ? ((*vals)[0][i] ? "'" + *(*vals)[0][i] + "'" : "NULL")
                            : "<sealed sha256:" + e.param_digests[i].substr(0, 12) + ">";
        std::string note = i < e.param_notes.size() && !e.param_notes[i].empty()
                               ? "  (" + e.param_notes[i] + ")"
                               : "";
        line(fmt::format("${} = {}{}", i + 1, v, note));
      }
      if (!why.empty()) {
        line("(parameters not shown: " + why + ")");
      }
    }
    if (!e.document_ids.empty()) {
      documents(e.document_ids);
    }
    // Records written before binds carried their Parse's decision have neither kind nor
    // decision: say what the record is rather than print a placeholder.
    line(fmt::format("{} {}{}{}{}", e.kind.empty() ? (bind ? "bind" : "statement") : e.kind,
                     e.decision.empty() ? "(no decision recorded)" : e.decision,
                     e.rule_id.empty() ? "" : " by rule " + e.rule_id,
                     e.review_id.empty() ? "" : " review " + e.review_id,
                     e.reason.empty() ? "" : " (" + e.reason + ")"));
  }
  void operator()(const ResultStartEvent& e) {
    std::vector<std::string> names;
    for (const auto& c : e.columns) {
      names.push_back(c.name);
    }
    columns[e.statement_id] = names;
    out << "result    [" << e.statement_id << "] " << names.size() << " column(s)\n";
  }
  void operator()(const ResultRowsEvent& e) {
    const auto& header = columns[e.statement_id];
    out << "rows      [" << e.statement_id << "] " << e.rows.size() << " row(s), masked\n";
    out << formatTable(header, e.rows);
    if (!e.raw_rows.empty() && opener != nullptr) {
      std::string why;
      auto raw = openRows(e.raw_rows, "result_rows", "raw_rows", why, &e.rows);
      if (raw) {
        out << "          raw (before masking):\n" << formatTable(header, *raw);
      } else {
        line("(raw rows not shown: " + why + ")");
      }
    }
    if (!e.document_ids.empty()) {
      std::string ids;
      for (const auto& d : e.document_ids) {
        ids += (ids.empty() ? "" : ",") + d;
      }
      line("documents: " + ids);
    }
  }
  void operator()(const ResultEndEvent& e) {
    std::string masked;
    for (const auto& [label, n] : e.masked_cells) {
      masked += fmt::format("{}{}={}", masked.empty() ? "" : ",", label, n);
    }
    out << "complete  [" << e.statement_id << "] " << e.command_tag << " (" << e.rows << " rows, "
        << e.bytes << " bytes" << (masked.empty() ? "" : ", masked " + masked) << ")\n";
  }
  void operator()(const ErrorEvent& e) {
    std::string code = e.http_status != 0 ? fmt::format("HTTP {}", e.http_status) : e.sqlstate;
    out << "error     " << (e.statement_id ? fmt::format("[{}] ", e.statement_id) : "") << e.source
        << " " << e.severity << " " << code << ": " << e.message << "\n";
  }
  // A body, indented under its record: text as is, other bytes summarized.
  void body(std::string_view label, std::string_view bytes) {
    if (bytes.empty()) {
      return;
    }
    if (!validUtf8(bytes)) {
      line(fmt::format("{}: ({} bytes, not text, sha256:{})", label, bytes.size(),
                       sha256Hex(bytes).substr(0, 12)));
      return;
    }
    line(std::string(label) + ":");
    size_t start = 0;
    while (start <= bytes.size()) {
      size_t nl = bytes.find('\n', start);
      size_t end = nl == std::string_view::npos ? bytes.size() : nl;
      if (end > start || nl != std::string_view::npos) {
        line("  " + std::string(bytes.substr(start, end - start)));
      }
      if (nl == std::string_view::npos) {
        break;
      }
      start = nl + 1;
    }
  }
  // The pre-masking body of an http_response / http_body record, when a key is given.
  void rawBody(const RawBytes& raw, std::string_view type) {
    if (opener == nullptr || raw.empty()) {
      return;
    }
    auto plain =
        opener->open(raw, rec->raw_key_id, rawAad(rec->event.session_id, type, "raw_body"));
    if (plain) {
      body("raw (before masking)", *plain);
    } else {
      line("(raw body not shown: " + plain.status().message() + ")");
    }
  }
  void documents(const std::vector<std::string>& ids) {
    std::string all;
    for (const auto& d : ids) {
      all += (all.empty() ? "" : ",") + d;
    }
    if (!all.empty()) {
      line("documents: " + all);
    }
  }
  static std::string completion(uint64_t bytes, const std::map<std::string, uint64_t>& masked,
                                const std::string& outcome, bool unmasked_binary) {
    std::string m;
    for (const auto& [label, n] : masked) {
      m += fmt::format("{}{}={}", m.empty() ? "" : ",", label, n);
    }
    return fmt::format("{} ({} bytes{}{})", outcome.empty() ? "?" : outcome, bytes,
                       m.empty() ? "" : ", masked " + m,
                       unmasked_binary ? ", binary not masked by configuration" : "");
  }
  void operator()(const HttpRequestEvent& e) {
    if (mcp_session && mcp.request(e)) {
      return;
    }
    out << "request   [" << e.request_id << "] " << e.method << " " << e.path
        << (e.query.empty() ? "" : "?" + e.query) << "\n";
    if (!e.route.empty() && e.route != e.path) {
      line("route " + e.route);
    }
    line(fmt::format("{}{}{}{}{}{}", e.decision.empty() ? "?" : e.decision,
                     e.rule_id.empty() ? "" : " by rule " + e.rule_id,
                     e.review_id.empty() ? "" : " review " + e.review_id,
                     e.grant_id.empty() ? "" : " grant " + e.grant_id,
                     e.approval_id.empty() ? "" : " approval " + e.approval_id,
                     e.reason.empty() ? "" : " (" + e.reason + ")"));
    for (const auto& [name, value] : e.headers) {
      line(name + ": " + value);
    }
    if (e.body_bytes != 0) {
      line(fmt::format(
          "body {} bytes{}{}", e.body_bytes,
          e.body.size() < e.body_bytes ? fmt::format(", {} recorded", e.body.size()) : "",
          e.body_digest.empty() ? "" : ", sha256:" + e.body_digest.substr(0, 12)));
    }
    body("body", e.body);
  }
  void operator()(const HttpResponseEvent& e) {
    out << "response  [" << e.request_id << "] " << e.status
        << (e.content_type.empty() ? "" : " " + e.content_type)
        << (e.complete ? ", " + completion(e.bytes, e.masked_values, e.outcome, e.unmasked_binary)
                       : ", streamed")
        << "\n";
    for (const auto& [name, value] : e.headers) {
      line(name + ": " + value);
    }
    if (!mcp_session || !mcp.response(e)) {
      body("body (as sent)", e.body);
    }
    rawBody(e.raw_body, "http_response");
    documents(e.document_ids);
  }
  void operator()(const HttpBodyEvent& e) {
    out << "body      [" << e.request_id << "] " << e.body.size() << " bytes\n";
    if (!mcp_session || !mcp.body(e)) {
      body("body (as sent)", e.body);
    }
    rawBody(e.raw_body, "http_body");
    documents(e.document_ids);
  }
  void operator()(const HttpResponseEndEvent& e) {
    mcp.end(e.request_id);
    out << "end       [" << e.request_id << "] "
        << completion(e.bytes, e.masked_values, e.outcome, e.unmasked_binary) << "\n";
  }
  void operator()(const McpMessageEvent& e) {
    mcp.message(e);
    rawBody(e.raw_body, "mcp_message");
  }
  void operator()(const CancelEvent& e) {
    out << "cancel    [" << e.statement_id << "] " << e.outcome << "\n";
  }
  void operator()(const SessionEndEvent& e) {
    out << "end       " << e.reason << " (" << e.statements << " statements, " << e.rows
        << " rows)\n";
  }
  void operator()(const ReplayEvent& e) {
    out << "replay    of " << e.replayed_session << (e.raw ? " with raw data" : "") << " by "
        << e.actor << (e.reason.empty() ? "" : " (reason: " + e.reason + ")") << "\n";
  }
  void operator()(const ResultEvent& e) {
    // forEachSessionRecord splits `result` records; this is for callers that did not.
    for (const auto& part : splitEvent(Event{{}, {}, e})) {
      std::visit(*this, part.body);
    }
  }
  void operator()(const AccessEvent& e) {
    out << "access    " << e.action << " " << (e.review_id.empty() ? e.grant_id : e.review_id)
        << " resource " << e.resource << " requester " << e.requester;
    if (!e.actor.empty()) {
      out << " by " << e.actor;
    }
    if (!e.comment.empty()) {
      out << ": " << e.comment;
    }
    out << "\n";
  }
};

json::value rowsJson(const std::vector<Row>& rows) {
  return json::parse(rowsToJson(rows));
}

// JSON replay: the opened raw body of an http_response / http_body record as `body_raw` (or
// `body_raw_b64` when it is not text).
void openRawBody(const RawOpener& opener, const ReplayedRecord& r, json::object& o) {
  const RawBytes* raw = nullptr;
  std::string_view type;
  if (auto* resp = std::get_if<HttpResponseEvent>(&r.event.body)) {
    raw = &resp->raw_body;
    type = "http_response";
  } else if (auto* part = std::get_if<HttpBodyEvent>(&r.event.body)) {
    raw = &part->raw_body;
    type = "http_body";
  } else if (auto* msg = std::get_if<McpMessageEvent>(&r.event.body)) {
    raw = &msg->raw_body;
    type = "mcp_message";
  }
  if (raw == nullptr || raw->empty()) {
    return;
  }
  auto plain = opener.open(*raw, r.raw_key_id, rawAad(r.event.session_id, type, "raw_body"));
  if (!plain) {
    return;
  }
  if (validUtf8(*plain)) {
    o["body_raw"] = *plain;
  } else {
    o["body_raw_b64"] = base64Encode(*plain);
  }
}

}  // namespace

uint64_t statementOf(const EventBody& body) {
  return std::visit(
      [](const auto& e) -> uint64_t {
        using T = std::decay_t<decltype(e)>;
        if constexpr (requires { e.statement_id; }) {
          return e.statement_id;
        } else if constexpr (requires { e.request_id; }) {
          return e.request_id;
        } else {
          (void)sizeof(T);
          return 0;
        }
      },
      body);
}

Result<std::vector<Row>> openSealedRows(const RawOpener& opener, const ReplayedRecord& rec,
                                        const RawBytes& raw, std::string_view type,
                                        std::string_view field, const std::vector<Row>* sent) {
  auto plain = opener.open(raw, rec.raw_key_id, rawAad(rec.event.session_id, type, field));
  if (!plain) {
    return plain.status();
  }
  return sent != nullptr ? rawRowsView(*plain, *sent) : rowsFromJson(*plain);
}

std::string formatTable(const std::vector<std::string>& header, const std::vector<Row>& rows) {
  size_t ncols = header.size();
  for (const auto& r : rows) {
    ncols = std::max(ncols, r.size());
  }
  std::vector<size_t> width(ncols, 0);
  auto name = [&](size_t i) { return i < header.size() ? header[i] : fmt::format("?column{}", i); };
  for (size_t i = 0; i < ncols; ++i) {
    width[i] = name(i).size();
    for (const auto& r : rows) {
      if (i < r.size()) {
        width[i] = std::max(width[i], cellText(r[i]).size());
      }
    }
  }
  std::string out = "          ";
  std::string rule = "          ";
  for (size_t i = 0; i < ncols; ++i) {
    out += fmt::format("{}{:<{}}", i ? " | " : " ", name(i), width[i]);
    rule += (i ? "-+-" : "-") + std::string(width[i], '-');
  }
  out += "\n" + rule + "\n";
  for (const auto& r : rows) {
    out += "          ";
    for (size_t i = 0; i < ncols; ++i) {
      out += fmt::format("{}{:<{}}", i ? " | " : " ", i < r.size() ? cellText(r[i]) : "", width[i]);
    }
    out += "\n";
  }
  return out;
}

Status forEachSessionRecord(const std::string& dir, const std::string& session_id,
                            const std::optional<SessionLocation>& hint,
                            const std::function<void(ReplayedRecord&&)>& fn) {
  bool found = false;
  std::vector<std::string> instances =
      hint ? std::vector<std::string>{hint->instance} : listInstances(dir);
  for (const auto& inst : instances) {
    for (const auto& seg : listSegments(dir + "/" + inst)) {
      if (hint && seg.number < hint->segment) {
        continue;
      }
      auto reader = SegmentReader::open(seg.path);
      if (!reader) {
        return reader.status();
      }
      std::string raw_key;
      Frame f;
      while (reader->next(f) == SegmentReader::Outcome::kFrame) {
        for (auto& e : f.entries) {
          json::error_code ec;
          auto v = json::parse(e.record, ec);
          if (ec || !v.is_object()) {
            continue;
          }
          auto& o = v.as_object();
          if (auto* t = o.if_contains("type"); t && t->is_string() && *t == "segment_start") {
            auto* k = o.if_contains("raw_key");
            raw_key = k && k->is_string() ? std::string(k->as_string()) : "";
            continue;
          }
          auto* sid = o.if_contains("sid");
          if (!sid || !sid->is_string() || sid->as_string() != session_id) {
            continue;
          }
          // A `result` record is presented as the result_start, result_rows and result_end
          // records it stands for (same seq), so readers see one shape in every format.
          for (auto& part : splitRecord(o)) {
            auto ev = decodeEvent(part);
            if (!ev) {
              continue;
            }
            found = true;
            bool end = std::holds_alternative<SessionEndEvent>(ev->body);
            fn(ReplayedRecord{inst, seg.number, e.seq, raw_key, std::move(part), std::move(*ev)});
            if (end) {
              return Status::ok();
            }
          }
        }
      }
    }
  }
  return found ? Status::ok()
               : Status::error(Code::kNotFound, "no records for session " + session_id);
}

json::object recordJson(ReplayedRecord&& r, double offset_s, const RawOpener* opener) {
  const std::string session_id = r.event.session_id;
  json::object o = std::move(r.record);
  o["offset_s"] = offset_s;
  o["seq"] = r.seq;
  o["instance"] = r.instance;
  o.erase("params");
  o.erase("raw_rows");
  o.erase("raw_body");
  if (opener == nullptr) {
    return o;
  }
  auto open = [&](const RawBytes& raw, std::string_view type, std::string_view field,
                  std::string_view key, const std::vector<Row>* sent) {
    auto plain = opener->open(raw, r.raw_key_id, rawAad(session_id, type, field));
    if (plain) {
      auto rows = sent != nullptr ? rawRowsView(*plain, *sent) : rowsFromJson(*plain);
      if (rows) {
        o[key] = rowsJson(*rows);
      }
    }
  };
  if (auto* s = std::get_if<StatementEvent>(&r.event.body); s && !s->params.empty()) {
    open(s->params, "statement", "params", "params_raw", nullptr);
  }
  if (auto* rr = std::get_if<ResultRowsEvent>(&r.event.body); rr && !rr->raw_rows.empty()) {
    open(rr->raw_rows, "result_rows", "raw_rows", "rows_raw", &rr->rows);
  }
  openRawBody(*opener, r, o);
  return o;
}

Result<SessionJson> sessionRecordsJson(const std::string& dir, const std::string& session_id,
                                       const std::optional<SessionLocation>& hint,
                                       const RawOpener* opener, size_t limit) {
  SessionJson out;
  std::optional<std::chrono::system_clock::time_point> start;
  Status st = forEachSessionRecord(dir, session_id, hint, [&](ReplayedRecord&& r) {
    if (out.records.size() >= limit) {
      out.truncated = true;
      return;
    }
    start = start.value_or(r.event.time);
    double offset = std::chrono::duration<double>(r.event.time - *start).count();
    out.records.push_back(recordJson(std::move(r), offset, opener));
  });
  if (!st) {
    return st;
  }
  return out;
}

Result<uint64_t> renderSession(const std::string& dir, const std::string& session_id,
                               const std::optional<SessionLocation>& hint, ReplayFormat format,
                               const RawOpener* opener, std::ostream& out, uint64_t only) {
  uint64_t n = 0;
  std::optional<std::chrono::system_clock::time_point> start;
  TextRenderer text{out, opener, {}, nullptr, McpReplay(out), false};
  Status st = forEachSessionRecord(dir, session_id, hint, [&](ReplayedRecord&& r) {
    if (!start) {
      start = r.event.time;
      if (format == ReplayFormat::kText) {
        out << "session " << session_id << " on " << r.instance << ", started "
            << formatUtc(r.event.time) << (only != 0 ? fmt::format(", statement {}", only) : "")
            << "\n";
      }
    }
    if (auto* c = std::get_if<ConnectEvent>(&r.event.body)) {
      text.mcp_session = c->protocol == "mcp";  // kept when the connect record is not shown
    }
    if (only != 0 && statementOf(r.event.body) != only) {
      return;
    }
    double offset = std::chrono::duration<double>(r.event.time - *start).count();
    ++n;
    if (format == ReplayFormat::kJson) {
      json::object o = recordJson(std::move(r), offset, opener);
      out << json::serialize(o) << "\n";
      return;
    }
    out << fmt::format("+{:>9.3f}s ", offset);
    text.rec = &r;
    std::visit(text, r.event.body);
  });
  if (!st) {
    return st;
  }
  if (only != 0 && n == 0) {
    return Status::error(Code::kNotFound,
                         fmt::format("session {} has no statement {}", session_id, only));
  }
  return n;
}

}  // namespace jg::audit
