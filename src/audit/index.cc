#include "audit/index.h"

#include <boost/json.hpp>
#include <map>

#include "audit/codec.h"
#include "audit/index_http.h"
#include "audit/index_pg.h"
#include "audit/segment.h"
#include "audit/verify.h"
#include "core/clock.h"
#include "core/log.h"

namespace jg::audit {
namespace {

using store::Tx;
using store::Value;

Value str(const std::string& s) {
  return s.empty() ? Value{} : Value{s};
}
Value i64(uint64_t v) {
  return Value{static_cast<int64_t>(v)};
}

std::string joinComma(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ",") + s;
  }
  return out;
}

// A result's completion (row count, bytes) found in the same batch as its statement: folded
// into the statement's INSERT instead of a separate UPDATE.
struct Completion {
  uint64_t rows = 0;
  uint64_t bytes = 0;
  bool folded = false;  // the statement's INSERT carried it
};
using Completions = std::map<std::pair<std::string_view, uint64_t>, Completion>;

// The last completion of each statement of the batch.
Completions completionsOf(const std::vector<DurableEvent>& batch) {
  Completions out;
  for (const auto& de : batch) {
    if (const auto* r = std::get_if<ResultEvent>(&de.event.body)) {
      out[{de.event.session_id, r->statement_id}] = {r->rows.size(), r->bytes};
    } else if (const auto* e = std::get_if<ResultEndEvent>(&de.event.body)) {
      out[{de.event.session_id, e->statement_id}] = {e->rows, e->bytes};
    }
  }
  return out;
}

// Writes the rows for one durable event.
struct RowWriter {
  Tx& tx;
  const std::string& instance;
  const DurableEvent& de;
  Completions* completions = nullptr;

  const std::string& sid() const { return de.event.session_id; }
  int64_t ts() const { return toMicros(de.event.time); }

  Status ensureSession(const std::string& resource) {
    return tx.exec(
        "INSERT INTO audit_sessions(session_id, instance, segment, first_seq, started_at, "
        "resource) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO NOTHING",
        {sid(), instance, i64(de.segment), i64(de.seq), ts(), str(resource)});
  }
  Status operator()(const ConnectEvent& e) {
    if (Status st = ensureSession(e.resource); !st) {
      return st;
    }
    return tx.exec(
        "UPDATE audit_sessions SET client_addr = ?, resource = ?, tls = ?, protocol = ?, "
        "db_user = ? WHERE session_id = ?",
        {str(e.client_addr), str(e.resource), str(e.tls_version), str(e.protocol), str(e.db_user),
         sid()});
  }
  Status operator()(const AuthEvent& e) {
    if (Status st = ensureSession(""); !st) {
      return st;
    }
    const Principal& p = e.principal;
    if (Status st = tx.exec(
            "UPDATE audit_sessions SET auth_ok = ?, subject = ?, email = ?, issuer = ?, "
            "client_id = ? WHERE session_id = ?",
            {int64_t{e.ok}, str(p.subject), str(p.email), str(p.issuer), str(p.client_id), sid()});
        !st) {
      return st;
    }
    for (const auto& g : p.groups) {
      if (Status st = tx.exec("INSERT INTO audit_session_groups(session_id, grp) VALUES (?, ?) "
                              "ON CONFLICT DO NOTHING",
                              {sid(), g});
          !st) {
        return st;
      }
    }
    return index_pg::authRow(http(), e);
  }
  Status insertStatement(uint64_t statement_id, const StatementEvent& e) {
    Value rows;
    Value bytes;
    if (completions != nullptr) {
      if (auto it = completions->find({sid(), statement_id}); it != completions->end()) {
        rows = i64(it->second.rows);
        bytes = i64(it->second.bytes);
        it->second.folded = true;
      }
    }
    if (Status st = tx.exec(
            "INSERT INTO audit_statements(instance, seq, segment, session_id, statement_id, ts, "
            "kind, decision, rule_id, review_id, grant_id, fingerprint, text, tables, rows, "
            "bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            {instance, i64(de.seq), i64(de.segment), sid(), i64(statement_id), ts(), str(e.kind),
             str(e.decision), str(e.rule_id), str(e.review_id), str(e.grant_id), str(e.fingerprint),
             e.text, str(joinComma(e.tables)), std::move(rows), std::move(bytes)});
        !st) {
      return st;
    }
    for (const auto& t : e.tables) {
      if (Status st =
              tx.exec("INSERT INTO audit_statement_tables(instance, seq, tbl) VALUES (?, ?, ?) "
                      "ON CONFLICT DO NOTHING",
                      {instance, i64(de.seq), t});
          !st) {
        return st;
      }
    }
    return Status::ok();
  }
  Status operator()(const StatementEvent& e) {
    if (Status st = insertStatement(e.statement_id, e); !st) {
      return st;
    }
    if (Status st = documents(e.statement_id, e.document_ids); !st) {
      return st;
    }
    return index_pg::linkBind(http(), e);
  }
  Status operator()(const ResultStartEvent&) { return Status::ok(); }
  index_http::RowContext http() const { return {tx, instance, de}; }
  Status documents(uint64_t statement_id, const std::vector<std::string>& ids) {
    return index_http::documents(http(), statement_id, ids);
  }
  Status completed(uint64_t statement_id, uint64_t rows, uint64_t bytes) {
    if (completions != nullptr) {
      auto it = completions->find({sid(), statement_id});
      if (it != completions->end() && it->second.folded) {
        return Status::ok();  // the statement's INSERT in this batch carried its last completion
      }
    }
    return tx.exec(
        "UPDATE audit_statements SET rows = ?, bytes = ? WHERE session_id = ? AND "
        "statement_id = ?",
        {i64(rows), i64(bytes), sid(), i64(statement_id)});
  }
  Status operator()(const ResultRowsEvent& e) { return documents(e.statement_id, e.document_ids); }
  Status operator()(const ResultEndEvent& e) { return completed(e.statement_id, e.rows, e.bytes); }
  Status operator()(const ResultEvent& e) {
    if (Status st = documents(e.statement_id, e.document_ids); !st) {
      return st;
    }
    return completed(e.statement_id, e.rows.size(), e.bytes);
  }
  Status operator()(const ErrorEvent& e) {
    if (e.statement_id == 0) {
      return Status::ok();
    }
    std::string code = e.http_status != 0 ? "HTTP " + std::to_string(e.http_status) : e.sqlstate;
    if (Status st = tx.exec(
            "UPDATE audit_statements SET error = ? WHERE session_id = ? AND statement_id = ?",
            {(code.empty() ? "" : code + ": ") + e.message, sid(), i64(e.statement_id)});
        !st) {
      return st;
    }
    return e.http_status != 0 ? index_http::errorStatus(http(), e.statement_id, e.http_status)
                              : Status::ok();
  }
  Status operator()(const HttpRequestEvent& e) {
    if (Status st = ensureSession(""); !st) {
      return st;
    }
    return index_http::request(http(), e);
  }
  Status operator()(const HttpResponseEvent& e) { return index_http::response(http(), e); }
  Status operator()(const HttpBodyEvent& e) { return index_http::body(http(), e); }
  Status operator()(const HttpResponseEndEvent& e) { return index_http::end(http(), e); }
  Status operator()(const McpMessageEvent& e) {
    if (index_http::indexedAsRow(e)) {
      if (Status st = ensureSession(""); !st) {
        return st;
      }
    }
    return index_http::mcpMessage(http(), e);
  }
  Status operator()(const CancelEvent&) { return Status::ok(); }
  Status operator()(const SessionEndEvent& e) {
    return tx.exec("UPDATE audit_sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?",
                   {ts(), str(e.reason), sid()});
  }
  Status operator()(const AccessEvent&) { return Status::ok(); }
  Status operator()(const ReplayEvent& e) {
    // Replays are searchable like statements: kind "replay", run by the actor.
    if (Status st = ensureSession("(audit)"); !st) {
      return st;
    }
    if (Status st = tx.exec("UPDATE audit_sessions SET subject = ? WHERE session_id = ?",
                            {str(e.actor), sid()});
        !st) {
      return st;
    }
    StatementEvent st;
    st.kind = "replay";
    st.decision = "allow";
    st.text = "replay " + e.replayed_session + (e.raw ? " --raw" : "") +
              (e.reason.empty() ? "" : " (reason: " + e.reason + ")");
    return insertStatement(1, st);
  }
};

}  // namespace

const std::vector<store::Migration>& indexMigrations() {
  static const std::vector<store::Migration> kMigrations = {
      {1,
       "audit index: sessions, statements, tables, documents",
       {R"(CREATE TABLE audit_sessions(
             session_id TEXT PRIMARY KEY, instance TEXT NOT NULL, segment INTEGER NOT NULL,
             first_seq INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
             end_reason TEXT, client_addr TEXT, resource TEXT, protocol TEXT, tls TEXT,
             auth_ok INTEGER, subject TEXT, email TEXT, issuer TEXT, client_id TEXT))",
        "CREATE INDEX audit_sessions_subject ON audit_sessions(subject)",
        "CREATE INDEX audit_sessions_email ON audit_sessions(email)",
        "CREATE INDEX audit_sessions_resource ON audit_sessions(resource)",
        "CREATE INDEX audit_sessions_segment ON audit_sessions(instance, segment)",
        R"(CREATE TABLE audit_session_groups(session_id TEXT NOT NULL, grp TEXT NOT NULL,
             PRIMARY KEY(session_id, grp)))",
        "CREATE INDEX audit_session_groups_grp ON audit_session_groups(grp)",
        R"(CREATE TABLE audit_statements(
             instance TEXT NOT NULL, seq INTEGER NOT NULL, segment INTEGER NOT NULL,
             session_id TEXT NOT NULL, statement_id INTEGER NOT NULL, ts INTEGER NOT NULL,
             kind TEXT, decision TEXT, rule_id TEXT, review_id TEXT, grant_id TEXT,
             fingerprint TEXT, text TEXT NOT NULL, tables TEXT, rows INTEGER, bytes INTEGER,
             error TEXT, PRIMARY KEY(instance, seq)))",
        "CREATE INDEX audit_statements_ts ON audit_statements(ts)",
        "CREATE INDEX audit_statements_session ON audit_statements(session_id, statement_id)",
        "CREATE INDEX audit_statements_kind ON audit_statements(kind, ts)",
        "CREATE INDEX audit_statements_decision ON audit_statements(decision, ts)",
        "CREATE INDEX audit_statements_rule ON audit_statements(rule_id)",
        "CREATE INDEX audit_statements_review ON audit_statements(review_id)",
        "CREATE INDEX audit_statements_fingerprint ON audit_statements(fingerprint)",
        "CREATE INDEX audit_statements_segment ON audit_statements(instance, segment)",
        R"(CREATE TABLE audit_statement_tables(instance TEXT NOT NULL, seq INTEGER NOT NULL,
             tbl TEXT NOT NULL, PRIMARY KEY(instance, seq, tbl)))",
        "CREATE INDEX audit_statement_tables_tbl ON audit_statement_tables(tbl)",
        R"(CREATE TABLE audit_documents(
             instance TEXT NOT NULL, seq INTEGER NOT NULL, segment INTEGER NOT NULL,
             session_id TEXT NOT NULL, statement_id INTEGER NOT NULL, document_id TEXT NOT NULL,
             ts INTEGER NOT NULL, PRIMARY KEY(instance, seq, document_id)))",
        "CREATE INDEX audit_documents_id ON audit_documents(document_id, ts)",
        "CREATE INDEX audit_documents_stmt ON audit_documents(session_id, statement_id)"}},
      {2, "audit index: HTTP exchanges (method, path, status)", index_http::migration2()},
      {3, "audit index: MCP (JSON-RPC method, tool)", index_http::migration3()},
      {4, "audit index: claimed user names, executions of prepared statements",
       index_pg::migration4()},
  };
  return kMigrations;
}

Indexer::Indexer(store::Store& store) : store_(store), thread_([this] { run(); }) {}

Indexer::~Indexer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Indexer::onDurable(const std::string& instance, std::vector<DurableEvent>&& batch) {
  {
    std::lock_guard lk(mu_);
    queue_.emplace_back(instance, std::move(batch));
  }
  cv_.notify_one();
}

void Indexer::onSegmentsRemoved(const std::string& instance,
                                const std::vector<uint64_t>& segments) {
  Status st = removeSegments(instance, segments);
  if (!st) {
    log::error("", "audit index: removing rows of deleted segments failed: {}", st.message());
  }
}

void Indexer::run() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stop_ and drained
    }
    // Everything queued goes in one store transaction: under load the recorder hands over a
    // batch per frame, and a transaction (a commit) per frame would cost more than the rows.
    std::deque<std::pair<std::string, std::vector<DurableEvent>>> items;
    items.swap(queue_);
    busy_ = true;
    lk.unlock();
    Status st = store_.transaction([&](Tx& tx) -> Status {
      for (const auto& [instance, batch] : items) {
        if (Status s = applyIn(tx, instance, batch); !s) {
          return s;
        }
      }
      return Status::ok();
    });
    if (!st) {
      log::error("", "audit index: {} (run `jitgate audit reindex` to rebuild)", st.message());
    }
    items.clear();
    lk.lock();
    if (!st && error_.isOk()) {
      error_ = st;
    }
    busy_ = false;
    idle_.notify_all();
  }
}

Status Indexer::flush() {
  std::unique_lock lk(mu_);
  idle_.wait(lk, [&] { return queue_.empty() && !busy_; });
  Status st = error_;
  error_ = Status::ok();
  return st;
}

Status Indexer::applyIn(Tx& tx, const std::string& instance,
                        const std::vector<DurableEvent>& batch) {
  Completions completions = completionsOf(batch);
  for (const auto& de : batch) {
    RowWriter w{tx, instance, de, &completions};
    if (Status st = std::visit(w, de.event.body); !st) {
      return st;
    }
  }
  return Status::ok();
}

Status Indexer::apply(const std::string& instance, const std::vector<DurableEvent>& batch) {
  return store_.transaction([&](Tx& tx) -> Status { return applyIn(tx, instance, batch); });
}

Status Indexer::removeSegments(const std::string& instance, const std::vector<uint64_t>& segs) {
  return store_.transaction([&](Tx& tx) -> Status {
    for (uint64_t seg : segs) {
      std::vector<Value> p = {instance, i64(seg)};
      for (const char* sql :
           {"DELETE FROM audit_statement_tables WHERE instance = ?1 AND seq IN (SELECT seq "
            "FROM audit_statements WHERE instance = ?1 AND segment = ?2)",
            "DELETE FROM audit_statements WHERE instance = ? AND segment = ?",
            "DELETE FROM audit_documents WHERE instance = ? AND segment = ?",
            "DELETE FROM audit_session_groups WHERE session_id IN (SELECT session_id FROM "
            "audit_sessions s WHERE s.instance = ?1 AND s.segment <= ?2 AND NOT EXISTS "
            "(SELECT 1 FROM audit_statements t WHERE t.session_id = s.session_id))",
            "DELETE FROM audit_sessions WHERE instance = ?1 AND segment <= ?2 AND NOT EXISTS "
            "(SELECT 1 FROM audit_statements t WHERE t.session_id = "
            "audit_sessions.session_id)"}) {
        if (Status st = tx.exec(sql, p); !st) {
          return st;
        }
      }
    }
    return Status::ok();
  });
}

Result<std::vector<StatementHit>> search(store::Store& store, const SearchQuery& q) {
  std::string sql =
      "SELECT st.session_id, st.statement_id, st.ts, st.instance, st.segment, st.seq, "
      "se.subject, se.email, se.resource, se.client_addr, st.kind, st.decision, st.rule_id, "
      "st.review_id, st.text, st.tables, st.rows, st.error, se.protocol, st.method, st.path, "
      "st.status, st.bytes, st.rpc_method, st.tool, se.db_user "
      "FROM audit_statements st LEFT JOIN audit_sessions se ON se.session_id = st.session_id "
      "WHERE st.hidden IS NULL";
  std::vector<Value> p;
  auto eq = [&](const std::string& v, const char* clause) {
    if (!v.empty()) {
      sql += clause;
      p.emplace_back(v);
    }
  };
  if (!q.user.empty()) {
    // A refused login is found by the user name it claimed; a session by its identity only.
    sql +=
        " AND (se.subject = ? OR se.email = ? OR (se.auth_ok = 0 AND se.subject IS NULL AND "
        "se.db_user = ?))";
    p.emplace_back(q.user);
    p.emplace_back(q.user);
    p.emplace_back(q.user);
  }
  eq(q.group,
     " AND EXISTS (SELECT 1 FROM audit_session_groups g WHERE g.session_id = st.session_id "
     "AND g.grp = ?)");
  eq(q.resource, " AND se.resource = ?");
  if (!q.table.empty()) {
    sql += index_pg::tableCondition(q.table, p);
  }
  eq(q.kind, " AND st.kind = ?");
  eq(q.decision, " AND st.decision = ?");
  eq(q.rule, " AND st.rule_id = ?");
  eq(q.review, " AND st.review_id = ?");
  eq(q.fingerprint, " AND st.fingerprint = ?");
  eq(q.session, " AND st.session_id = ?");
  eq(q.document,
     " AND EXISTS (SELECT 1 FROM audit_documents d WHERE d.session_id = st.session_id AND "
     "d.statement_id = st.statement_id AND d.document_id = ?)");
  // instr() is SQLite's, strpos() PostgreSQL's: the same substring test, no pattern syntax.
  eq(q.contains,
     store.dialect() == "sqlite" ? " AND instr(st.text, ?) > 0" : " AND strpos(st.text, ?) > 0");
  eq(q.protocol, " AND se.protocol = ?");
  eq(q.method, " AND upper(st.method) = upper(?)");
  if (!q.path.empty()) {
    bool sqlite = store.dialect() == "sqlite";
    sql += sqlite ? " AND st.path GLOB ?" : " AND st.path LIKE ? ESCAPE '\\'";
    p.emplace_back(sqlite ? q.path : index_http::globToLike(q.path));
  }
  eq(q.rpc_method, " AND st.rpc_method = ?");
  if (!q.tool.empty()) {
    bool sqlite = store.dialect() == "sqlite";
    sql += sqlite ? " AND st.tool GLOB ?" : " AND st.tool LIKE ? ESCAPE '\\'";
    p.emplace_back(sqlite ? q.tool : index_http::globToLike(q.tool));
  }
  if (q.status) {
    sql += " AND st.status = ?";
    p.emplace_back(int64_t{*q.status});
  }
  if (q.since_us) {
    sql += " AND st.ts >= ?";
    p.emplace_back(*q.since_us);
  }
  if (q.until_us) {
    sql += " AND st.ts < ?";
    p.emplace_back(*q.until_us);
  }
  sql += " ORDER BY st.ts DESC, st.seq DESC LIMIT ?";
  p.emplace_back(int64_t{q.limit});
  std::vector<StatementHit> hits;
  Status st = store.query(sql, p, [&](const store::Row& r) {
    StatementHit h;
    h.session_id = store::asString(r[0]);
    h.statement_id = static_cast<uint64_t>(store::asInt(r[1]));
    h.ts_us = store::asInt(r[2]);
    h.instance = store::asString(r[3]);
    h.segment = static_cast<uint64_t>(store::asInt(r[4]));
    h.seq = static_cast<uint64_t>(store::asInt(r[5]));
    h.subject = store::asString(r[6]);
    h.email = store::asString(r[7]);
    h.resource = store::asString(r[8]);
    h.client_addr = store::asString(r[9]);
    h.kind = store::asString(r[10]);
    h.decision = store::asString(r[11]);
    h.rule = store::asString(r[12]);
    h.review = store::asString(r[13]);
    h.text = store::asString(r[14]);
    h.tables = store::asString(r[15]);
    h.rows = store::isNull(r[16]) ? -1 : store::asInt(r[16]);
    h.error = store::asString(r[17]);
    h.protocol = store::asString(r[18]);
    h.method = store::asString(r[19]);
    h.path = store::asString(r[20]);
    h.status = store::isNull(r[21]) ? 0 : static_cast<int>(store::asInt(r[21]));
    h.bytes = store::isNull(r[22]) ? -1 : store::asInt(r[22]);
    h.rpc_method = store::asString(r[23]);
    h.tool = store::asString(r[24]);
    h.db_user = store::asString(r[25]);
    hits.push_back(std::move(h));
    return true;
  });
  if (!st) {
    return st;
  }
  return hits;
}

Result<std::optional<SessionLocation>> findSession(store::Store& store,
                                                   const std::string& session_id) {
  std::optional<SessionLocation> loc;
  Status st = store.query(
      "SELECT instance, segment, first_seq FROM audit_sessions WHERE session_id = ?", {session_id},
      [&](const store::Row& r) {
        loc = SessionLocation{store::asString(r[0]), static_cast<uint64_t>(store::asInt(r[1])),
                              static_cast<uint64_t>(store::asInt(r[2]))};
        return false;
      });
  if (!st) {
    return st;
  }
  return loc;
}

Result<uint64_t> reindex(const std::string& dir, store::Store& store, const ProgressFn& progress) {
  Indexer indexer(store);
  uint64_t total = 0;
  for (const auto& inst : listInstances(dir)) {
    auto segments = listSegments(dir + "/" + inst);
    uint64_t done = 0;
    for (const auto& seg : segments) {
      auto reader = SegmentReader::open(seg.path);
      if (!reader) {
        return reader.status();
      }
      Frame f;
      while (reader->next(f) == SegmentReader::Outcome::kFrame) {
        std::vector<DurableEvent> batch;
        for (const auto& e : f.entries) {
          boost::json::error_code ec;
          auto v = boost::json::parse(e.record, ec);
          if (ec || !v.is_object()) {
            continue;
          }
          auto ev = decodeEvent(v.as_object());
          if (ev) {
            batch.push_back(DurableEvent{e.seq, seg.number, std::move(*ev)});
          }
        }
        total += batch.size();
        if (Status st = indexer.apply(inst, batch); !st) {
          return st;
        }
      }
      if (progress) {
        progress(Progress{inst, ++done, segments.size(), total});
      }
    }
  }
  return total;
}

boost::json::object toJson(const StatementHit& h) {
  boost::json::object j{{"time", formatUtc(fromMicros(h.ts_us))},
                        {"session", h.session_id},
                        {"statement", h.statement_id},
                        {"instance", h.instance},
                        {"seq", h.seq},
                        {"subject", h.subject},
                        {"email", h.email},
                        {"resource", h.resource},
                        {"client", h.client_addr},
                        {"kind", h.kind},
                        {"decision", h.decision},
                        {"rule", h.rule},
                        {"review", h.review},
                        {"tables", boost::json::value_from(h.tables)},
                        {"text", h.text},
                        {"error", h.error}};
  if (h.rows >= 0) {
    j["rows"] = h.rows;
  }
  if (!h.protocol.empty()) {
    j["protocol"] = h.protocol;
  }
  if (!h.method.empty()) {
    j["method"] = h.method;
    j["path"] = h.path;
  }
  if (h.status != 0) {
    j["status"] = h.status;
  }
  if (h.bytes >= 0) {
    j["bytes"] = h.bytes;
  }
  if (!h.rpc_method.empty()) {
    j["rpc_method"] = h.rpc_method;
  }
  if (!h.tool.empty()) {
    j["tool"] = h.tool;
  }
  if (!h.db_user.empty()) {
    j["db_user"] = h.db_user;
  }
  return j;
}

}  // namespace jg::audit
