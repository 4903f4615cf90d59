#include "audit/sandbox.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <map>

#include "audit/replay.h"
#include "core/bytes.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

constexpr std::string_view kSealedHint = "parameters sealed, pass --key-file";

// Kinds as named by sql::kindName, or the parse-tree node names some recordings carry. The
// read-only transaction is the real guard: a write hidden in a SELECT fails there.
bool readOnlyKind(std::string_view kind) {
  return kind == "select" || kind == "show" || kind == "explain" || kind == "SelectStmt" ||
         kind == "VariableShowStmt" || kind == "ExplainStmt";
}

// Bind parameters are recorded without their format code. A value that is not printable UTF-8
// text was almost certainly sent in binary format, which a text-format re-run would misread.
bool looksBinary(const std::string& v) {
  for (size_t i = 0; i < v.size();) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return true;
    }
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > v.size()) {
      return true;
    }
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(v[i + k]) >> 6) != 0x2) {
        return true;
      }
    }
    i += n;
  }
  return false;
}

std::string rowHashBytes(const Row& row) {
  std::string buf;
  ByteWriter w(buf);
  for (const auto& cell : row) {
    if (!cell) {
      w.u8(0xFF);
      continue;
    }
    w.u8(0x00);
    w.u32(static_cast<uint32_t>(cell->size()));
    w.bytes(*cell);
  }
  return sha256Hex(buf);
}

std::string digestOf(const std::vector<std::string>& hashes) {
  std::string all;
  for (const auto& h : hashes) {
    all += h;
  }
  return sha256Hex(all);
}

// One statement of the recording, with what is needed to re-run and compare it.
struct Candidate {
  SandboxStatementReport report;
  bool runnable = false;
  SandboxQuery query;
  bool mixed_formats = false;
  int results = 0;  // result_start records
  bool ended = false;
  std::string tag;
  uint64_t masked_cells = 0;
  bool basis_masked = false;  // some compared rows are masked rows
  bool maybe_masked = false;  // raw payloads off: masked only if result_end counted any
  std::vector<std::string> hashes;
  std::string error_sqlstate;
  std::string error_message;
};

struct ParseInfo {
  std::string kind;
  std::string decision;
};

// Walks a session's records and builds its candidates.
class Collector {
 public:
  explicit Collector(const RawOpener* opener) : opener_(opener) {}

  void add(const ReplayedRecord& r) {
    rec_ = &r;
    std::visit([this](const auto& e) { on(e); }, r.event.body);
  }
  std::vector<Candidate>& candidates() { return candidates_; }

 private:
  Candidate* find(uint64_t statement_id) {
    auto it = by_id_.find(statement_id);
    return it == by_id_.end() ? nullptr : &candidates_[it->second];
  }

  // `sent` resolves raw rows that masking left as sent (null entries); null for parameters.
  std::optional<std::vector<Row>> open(const RawBytes& raw, std::string_view type,
                                       std::string_view field, std::string& why,
                                       const std::vector<Row>* sent = nullptr) {
    if (opener_ == nullptr || !opener_->hasKey(rec_->raw_key_id)) {
      why = "no key";
      return std::nullopt;
    }
    auto rows = openSealedRows(*opener_, *rec_, raw, type, field, sent);
    if (!rows) {
      why = rows.status().message();
      return std::nullopt;
    }
    return std::move(*rows);
  }

  static void skip(Candidate& c, std::string reason) {
    c.runnable = false;
    c.report.outcome = SandboxOutcome::kSkipped;
    c.report.reason = std::move(reason);
  }

  void on(const StatementEvent& e) {
    if (e.protocol == "extended") {
      parsed_[e.prepared_name] = ParseInfo{e.kind, e.decision};
      if (e.decision == "allow") {
        return;  // its Bind records are what ran
      }
    }
    Candidate c;
    c.report.statement_id = e.statement_id;
    c.report.text = e.text;
    c.report.kind = e.kind;
    c.report.protocol = e.protocol;
    c.report.params = e.param_digests.size();
    std::string decision = e.decision;
    if (e.protocol == "bind") {
      auto it = parsed_.find(e.prepared_name);
      if (it == parsed_.end()) {
        by_id_[e.statement_id] = candidates_.size();
        skip(c, "its prepared statement is not in the recording");
        candidates_.push_back(std::move(c));
        return;
      }
      c.report.kind = it->second.kind;
      decision = it->second.decision;
    }
    c.runnable = true;
    c.query.sql = e.text;
    if (decision != "allow") {
      skip(c, "not run: decision " + (decision.empty() ? "unknown" : decision));
    } else if (c.report.kind.empty()) {
      skip(c, "statement kind unknown");
    } else if (c.report.kind.find(',') != std::string::npos) {
      skip(c, "several statements in one query");
    } else if (!readOnlyKind(c.report.kind)) {
      skip(c, "not read-only (" + c.report.kind + ")");
    } else if (!e.param_digests.empty()) {
      setParams(c, e);
    }
    by_id_[e.statement_id] = candidates_.size();
    candidates_.push_back(std::move(c));
  }

  void setParams(Candidate& c, const StatementEvent& e) {
    if (e.params.empty()) {
      skip(c, "parameters not recorded (raw_payloads: off)");
      return;
    }
    if (opener_ == nullptr || !opener_->hasKey(rec_->raw_key_id)) {
      skip(c, std::string(kSealedHint));
      return;
    }
    std::string why;
    auto rows = open(e.params, "statement", "params", why);
    if (!rows || rows->empty()) {
      skip(c, "parameters could not be opened: " + (why.empty() ? "empty" : why));
      return;
    }
    for (const auto& v : (*rows)[0]) {
      if (v && looksBinary(*v)) {
        skip(c, "binary-format parameter values cannot be re-run");
        return;
      }
    }
    // Binary values are recorded decoded to text by type; one of a type the gateway does not
    // decode is hex, which its type's text input would not read back.
    for (const auto& note : e.param_notes) {
      if (note.ends_with("shown as hex")) {
        skip(c, "a binary parameter of a type the gateway does not decode cannot be re-run");
        return;
      }
    }
    c.query.params = std::move((*rows)[0]);
  }

  void on(const ResultStartEvent& e) {
    Candidate* c = find(e.statement_id);
    if (c == nullptr) {
      return;
    }
    ++c->results;
    size_t binary = 0;
    for (const auto& col : e.columns) {
      binary += col.format == 1 ? 1 : 0;
    }
    c->query.binary_results = binary > 0 && binary == e.columns.size();
    c->mixed_formats = binary > 0 && binary < e.columns.size();
  }

  void on(const ResultRowsEvent& e) {
    Candidate* c = find(e.statement_id);
    if (c == nullptr) {
      return;
    }
    const std::vector<Row>* rows = &e.rows;
    std::optional<std::vector<Row>> raw;
    if (!e.raw_rows.empty()) {
      std::string why;
      raw = open(e.raw_rows, "result_rows", "raw_rows", why, &e.rows);
      if (raw) {
        rows = &*raw;
      } else {
        c->basis_masked = true;
      }
    } else if (rec_->raw_key_id.empty()) {
      c->maybe_masked = true;
    }
    for (const auto& row : *rows) {
      c->hashes.push_back(rowHashBytes(row));
    }
  }

  void on(const ResultEndEvent& e) {
    Candidate* c = find(e.statement_id);
    if (c == nullptr) {
      return;
    }
    c->ended = true;
    c->tag = e.command_tag;
    for (const auto& [label, n] : e.masked_cells) {
      c->masked_cells += n;
    }
  }

  void on(const ErrorEvent& e) {
    Candidate* c = find(e.statement_id);
    if (c != nullptr && e.statement_id != 0 && c->error_sqlstate.empty()) {
      c->error_sqlstate = e.sqlstate.empty() ? "XX000" : e.sqlstate;
      c->error_message = e.message;
    }
  }

  void on(const ResultEvent& e) {
    for (const auto& part : splitEvent(Event{{}, {}, e})) {
      std::visit([this](const auto& p) { on(p); }, part.body);
    }
  }

  template <typename T>
  void on(const T&) {}

  const RawOpener* opener_;
  const ReplayedRecord* rec_ = nullptr;
  std::vector<Candidate> candidates_;
  std::map<uint64_t, size_t> by_id_;
  std::map<std::string, ParseInfo> parsed_;
};

// Decides before running whether the recording has something to compare with.
void checkRecording(Candidate& c) {
  if (!c.runnable) {
    return;
  }
  if (c.mixed_formats) {
    c.runnable = false;
    c.report.reason = "mixed text and binary result columns";
  } else if (c.results > 1) {
    c.runnable = false;
    c.report.reason = "several results recorded for one statement";
  } else if (c.error_sqlstate.empty() && !c.ended) {
    c.runnable = false;
    c.report.reason = "no complete result in the recording";
  } else if (c.error_sqlstate.empty() && c.tag.empty()) {
    c.runnable = false;
    c.report.reason = "result fetched in parts (portal suspended)";
  }
  if (!c.runnable) {
    c.report.outcome = SandboxOutcome::kSkipped;
  }
}

void compare(Candidate& c, const SandboxRun& run) {
  SandboxStatementReport& r = c.report;
  r.recorded_rows = c.hashes.size();
  r.basis = c.basis_masked || (c.maybe_masked && c.masked_cells > 0) ? "masked" : "raw";
  if (!c.error_sqlstate.empty()) {
    r.basis.clear();
    if (!run.ok && run.sqlstate == c.error_sqlstate) {
      r.outcome = SandboxOutcome::kMatch;
      r.reason = "failed as recorded (SQLSTATE " + run.sqlstate + ")";
    } else {
      r.outcome = SandboxOutcome::kDiffers;
      r.reason = fmt::format("recorded an error (SQLSTATE {}), sandbox {}", c.error_sqlstate,
                             run.ok ? fmt::format("returned {} row(s)", run.rows.size())
                                    : "failed with SQLSTATE " + run.sqlstate);
    }
    return;
  }
  if (!run.ok) {
    r.outcome = SandboxOutcome::kError;
    r.basis.clear();
    r.reason = fmt::format("sandbox error {}: {}", run.sqlstate, run.message);
    return;
  }
  std::vector<std::string> got;
  got.reserve(run.rows.size());
  for (const auto& row : run.rows) {
    got.push_back(rowHashBytes(row));
  }
  r.sandbox_rows = got.size();
  r.recorded_digest = digestOf(c.hashes);
  r.sandbox_digest = digestOf(got);
  if (got == c.hashes) {
    r.outcome = SandboxOutcome::kMatch;
    return;
  }
  auto mismatch = std::mismatch(c.hashes.begin(), c.hashes.end(), got.begin(), got.end());
  r.first_difference = mismatch.first - c.hashes.begin();
  std::vector<std::string> a = c.hashes, b = got;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) {
    r.outcome = SandboxOutcome::kMatch;
    r.order_differs = true;
    r.first_difference = -1;
    r.reason = "same rows in a different order";
    return;
  }
  r.outcome = SandboxOutcome::kDiffers;
  r.reason = fmt::format("recorded {} row(s), sandbox {}; first difference at row {}",
                         r.recorded_rows, r.sandbox_rows, r.first_difference + 1);
  if (r.basis == "masked") {
    r.reason += " (compared with masked rows: pass --key-file to compare with raw rows)";
  }
}

// ---- libpq executor --------------------------------------------------------------------------

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PgExecutor final : public SandboxExecutor {
 public:
  PgExecutor(PGconn* conn, std::chrono::milliseconds timeout) : conn_(conn), timeout_(timeout) {}
  ~PgExecutor() override { PQfinish(conn_); }

  Status begin() override {
    if (Status st = command("BEGIN READ ONLY"); !st) {
      return st;
    }
    if (timeout_.count() > 0) {
      return command(fmt::format("SET LOCAL statement_timeout = {}", timeout_.count()));
    }
    return Status::ok();
  }

  Result<SandboxRun> run(const SandboxQuery& q) override {
    if (Status st = command("SAVEPOINT jg_sandbox"); !st) {
      return st;
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const auto& p : q.params) {
      values.push_back(p ? p->c_str() : nullptr);
      lengths.push_back(p ? static_cast<int>(p->size()) : 0);
    }
    PgResult res(PQexecParams(conn_, q.sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), lengths.data(), nullptr, q.binary_results ? 1 : 0));
    SandboxRun run;
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      run.command_tag = PQcmdStatus(res.get());
      for (int i = 0, n = PQntuples(res.get()); i < n; ++i) {
        Row row;
        for (int j = 0, m = PQnfields(res.get()); j < m; ++j) {
          row.push_back(PQgetisnull(res.get(), i, j)
                            ? std::nullopt
                            : std::optional<std::string>(std::string(
                                  PQgetvalue(res.get(), i, j), PQgetlength(res.get(), i, j))));
        }
        run.rows.push_back(std::move(row));
      }
      return command("RELEASE SAVEPOINT jg_sandbox").isOk() ? Result<SandboxRun>(std::move(run))
                                                            : Result<SandboxRun>(lost());
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
      return lost();
    }
    run.ok = false;
    const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* msg = res ? PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    run.sqlstate = state != nullptr ? state : "XX000";
    run.message = msg != nullptr ? msg : PQerrorMessage(conn_);
    if (Status rb = command("ROLLBACK TO SAVEPOINT jg_sandbox"); !rb) {
      return rb;
    }
    return run;
  }

  Status rollback() override { return command("ROLLBACK"); }

 private:
  Status lost() const {
    return Status::error(Code::kUnavailable,
                         std::string("sandbox connection failed: ") + PQerrorMessage(conn_));
  }

  Status command(const std::string& sql) {
    PgResult res(PQexec(conn_, sql.c_str()));
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
      std::string msg = res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
        msg.pop_back();
      }
      return Status::error(Code::kUnavailable, "sandbox: " + sql + ": " + msg);
    }
    return Status::ok();
  }

  PGconn* conn_;
  std::chrono::milliseconds timeout_;
};

std::string oneLine(const std::string& text, size_t max) {
  std::string out;
  for (char ch : text) {
    out += (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
  }
  return out.size() > max ? out.substr(0, max - 3) + "..." : out;
}

}  // namespace

std::string rowHash(const Row& row) {
  return rowHashBytes(row);
}

std::string_view outcomeName(SandboxOutcome o) {
  switch (o) {
    case SandboxOutcome::kMatch:
      return "match";
    case SandboxOutcome::kDiffers:
      return "differs";
    case SandboxOutcome::kError:
      return "error";
    case SandboxOutcome::kSkipped:
      return "skipped";
  }
  return "skipped";
}

int SandboxReport::exitCode() const {
  return errors > 0 ? 2 : differed > 0 ? 1 : 0;
}

Result<std::unique_ptr<SandboxExecutor>> connectSandbox(
    const std::string& dsn, std::chrono::milliseconds statement_timeout) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string msg = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
      msg.pop_back();
    }
    return Status::error(Code::kUnavailable, "cannot connect to the sandbox: " + msg);
  }
  return std::unique_ptr<SandboxExecutor>(std::make_unique<PgExecutor>(conn, statement_timeout));
}

Result<SandboxReport> sandboxReplay(const std::string& dir, const std::string& session_id,
                                    const std::optional<SessionLocation>& hint,
                                    SandboxExecutor& exec, const RawOpener* opener) {
  Collector collector(opener);
  Status read =
      forEachSessionRecord(dir, session_id, hint, [&](ReplayedRecord&& r) { collector.add(r); });
  if (!read) {
    return read;
  }
  SandboxReport report;
  report.session_id = session_id;
  if (Status st = exec.begin(); !st) {
    return st;
  }
  for (Candidate& c : collector.candidates()) {
    checkRecording(c);
    if (c.runnable) {
      auto run = exec.run(c.query);
      if (!run) {
        (void)exec.rollback();
        return run.status();
      }
      compare(c, *run);
    }
    switch (c.report.outcome) {
      case SandboxOutcome::kMatch:
        ++report.matched;
        break;
      case SandboxOutcome::kDiffers:
        ++report.differed;
        break;
      case SandboxOutcome::kError:
        ++report.errors;
        break;
      case SandboxOutcome::kSkipped:
        ++report.skipped;
        break;
    }
    report.statements.push_back(std::move(c.report));
  }
  if (Status st = exec.rollback(); !st) {
    return st;
  }
  return report;
}

void renderSandboxText(const SandboxReport& report, std::ostream& out) {
  out << "sandbox replay of session " << report.session_id << "\n";
  for (const auto& s : report.statements) {
    out << fmt::format("[{}] {:<8} {}\n", s.statement_id, outcomeName(s.outcome),
                       oneLine(s.text, 100));
    std::string detail;
    if (s.outcome == SandboxOutcome::kMatch || s.outcome == SandboxOutcome::kDiffers) {
      if (!s.basis.empty()) {
        detail = fmt::format("{} row(s) recorded, {} in the sandbox; compared with {} rows",
                             s.recorded_rows, s.sandbox_rows, s.basis);
      }
    }
    if (!s.reason.empty()) {
      detail += (detail.empty() ? "" : "; ") + s.reason;
    }
    if (!detail.empty()) {
      out << "          " << detail << "\n";
    }
  }
  out << fmt::format("{} match, {} differ, {} error(s), {} skipped\n", report.matched,
                     report.differed, report.errors, report.skipped);
}

json::object sandboxJson(const SandboxReport& report) {
  json::array statements;
  for (const auto& s : report.statements) {
    json::object o{
        {"statement", s.statement_id}, {"text", s.text},     {"kind", s.kind},
        {"protocol", s.protocol},      {"params", s.params}, {"outcome", outcomeName(s.outcome)}};
    if (!s.reason.empty()) {
      o["reason"] = s.reason;
    }
    if (!s.basis.empty()) {
      o["compared_with"] = s.basis;
      o["recorded_rows"] = s.recorded_rows;
      o["sandbox_rows"] = s.sandbox_rows;
      o["recorded_digest"] = s.recorded_digest;
      o["sandbox_digest"] = s.sandbox_digest;
      o["order_differs"] = s.order_differs;
      if (s.first_difference >= 0) {
        o["first_difference"] = s.first_difference;
      }
    }
    statements.push_back(std::move(o));
  }
  return json::object{{"session", report.session_id},
                      {"ok", report.exitCode() == 0},
                      {"matched", report.matched},
                      {"differed", report.differed},
                      {"errors", report.errors},
                      {"skipped", report.skipped},
                      {"statements", std::move(statements)}};
}

}  // namespace jg::audit
