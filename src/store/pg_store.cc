#include "store/pg_store.h"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "config/node.h"
#include "store/pg_events.h"
#include "store/pg_pool.h"
#include "store/pg_sql.h"

namespace jg::store {
namespace {

// Per connection; beyond this many distinct statements the cache starts over (DEALLOCATE ALL).
constexpr size_t kMaxPreparedPerConnection = 512;

// Type OIDs from pg_type.h (stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

std::string oneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  for (char& c : s) {
    c = c == '\n' ? ' ' : c;
  }
  return s;
}

Status pgError(PGconn* conn, const PGresult* r, std::string_view what) {
  std::string msg = oneLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn));
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (PQstatus(conn) != CONNECTION_OK) {
    msg = "connection lost: " + msg;
  }
  return Status::error(Code::kUnavailable, "state store: " + std::string(what) + ": " + msg,
                       state != nullptr ? state : "");
}

bool resultOk(const PGresult* r) {
  auto s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

Value column(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col) != 0) {
    return std::monostate{};
  }
  const char* p = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
      return int64_t{std::strtoll(p, nullptr, 10)};
    case kBoolOid:
      return int64_t{p[0] == 't' ? 1 : 0};
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return std::strtod(p, nullptr);
    default:
      return std::string(p, static_cast<size_t>(PQgetlength(r, row, col)));
  }
}

// Text forms of the parameters; nullptr for NULL. Text with a NUL byte cannot be sent.
Status paramTexts(const std::vector<Value>& params, std::vector<std::string>& storage,
                  std::vector<const char*>& out) {
  storage.resize(params.size());
  out.assign(params.size(), nullptr);
  for (size_t i = 0; i < params.size(); ++i) {
    const Value& v = params[i];
    if (const auto* s = std::get_if<std::string>(&v)) {
      if (std::memchr(s->data(), '\0', s->size()) != nullptr) {
        return invalidArgument("state store: parameter " + std::to_string(i + 1) +
                               " holds a NUL byte, which PostgreSQL text cannot store");
      }
      storage[i] = *s;
    } else if (const auto* d = std::get_if<double>(&v)) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
      storage[i].assign(buf, end);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      storage[i] = std::to_string(*n);
    } else {
      continue;  // NULL
    }
    out[i] = storage[i].c_str();
  }
  return Status::ok();
}

class PgTx final : public Tx {
 public:
  explicit PgTx(PgConn& c) : c_(c) {}

  Status exec(std::string_view sql, const std::vector<Value>& params = {}) override {
    return run(sql, params, nullptr);
  }
  Status query(std::string_view sql, const std::vector<Value>& params,
               const RowCallback& on_row) override {
    return run(sql, params, &on_row);
  }
  int64_t changes() const override { return changes_; }
  Status publish(std::string_view kind, std::string_view ref) override {
    return publishEvent(*this, kind, ref);
  }

  // SQL without parameters, possibly several statements (BEGIN, COMMIT, migrations).
  Status script(const std::string& sql) {
    PgResultPtr r(PQexec(c_.pg.get(), sql.c_str()));
    if (!r || !resultOk(r.get())) {
      return pgError(c_.pg.get(), r.get(), "exec");
    }
    return Status::ok();
  }

 private:
  Result<const PgPrepared*> prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = c_.statements.find(key); it != c_.statements.end()) {
      return &it->second;
    }
    if (c_.statements.size() >= kMaxPreparedPerConnection) {
      if (Status st = script("DEALLOCATE ALL"); !st) {
        return st;
      }
      c_.statements.clear();
    }
    PgSql pg = translatePlaceholders(sql);
    PgPrepared p{.name = "jg" + std::to_string(++c_.next_statement), .params = pg.params};
    PgResultPtr r(PQprepare(c_.pg.get(), p.name.c_str(), pg.text.c_str(), pg.params, nullptr));
    if (!r || !resultOk(r.get())) {
      return pgError(c_.pg.get(), r.get(), "prepare");
    }
    return &c_.statements.emplace(std::move(key), std::move(p)).first->second;
  }

  Status run(std::string_view sql, const std::vector<Value>& params, const RowCallback* on_row) {
    auto prepared = prepare(sql);
    if (!prepared) {
      return prepared.status();
    }
    if (static_cast<size_t>((*prepared)->params) != params.size()) {
      return internalError("state store: parameter count mismatch");
    }
    std::vector<std::string> storage;
    std::vector<const char*> values;
    if (Status st = paramTexts(params, storage, values); !st) {
      return st;
    }
    PgResultPtr r(PQexecPrepared(c_.pg.get(), (*prepared)->name.c_str(),
                                 static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                                 0));
    if (!r || !resultOk(r.get())) {
      return pgError(c_.pg.get(), r.get(), "statement");
    }
    changes_ = std::strtoll(PQcmdTuples(r.get()), nullptr, 10);
    if (on_row == nullptr) {
      return Status::ok();
    }
    const int rows = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    for (int i = 0; i < rows; ++i) {
      Row row;
      row.reserve(static_cast<size_t>(cols));
      for (int k = 0; k < cols; ++k) {
        row.push_back(column(r.get(), i, k));
      }
      if (!(*on_row)(row)) {
        break;
      }
    }
    return Status::ok();
  }

  PgConn& c_;
  int64_t changes_ = 0;
};

class PgStore final : public Store {
 public:
  PgStore(PgUrl url, std::string password) : pool_(std::move(url), std::move(password)) {}

  // Creates schema_version once, even when replicas start together, and the events table.
  Status init() {
    Status st = transaction([&](Tx& tx) -> Status {
      if (Status locked = lock(tx, "schema_version"); !locked) {
        return locked;
      }
      return static_cast<PgTx&>(tx).script(
          "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY,"
          " version INTEGER NOT NULL, applied_at BIGINT NOT NULL)");
    });
    if (!st) {
      return st;
    }
    return migrate("store_events", eventMigrations());
  }

  Status migrate(std::string_view component, const std::vector<Migration>& migrations) override {
    return transaction([&](Tx& tx) -> Status {
      if (Status st = lock(tx, component); !st) {
        return st;
      }
      auto current = versionIn(tx, component);
      if (!current) {
        return current.status();
      }
      int known = migrations.empty() ? 0 : migrations.back().version;
      if (*current > known) {
        return Status::error(Code::kInternal, "state store: schema of '" + std::string(component) +
                                                  "' is at version " + std::to_string(*current) +
                                                  ", newer than this binary (" +
                                                  std::to_string(known) + ")");
      }
      for (const auto& m : migrations) {
        if (m.version > *current) {
          if (Status st = applyStep(static_cast<PgTx&>(tx), component, m); !st) {
            return st;
          }
        }
      }
      return Status::ok();
    });
  }

  Result<int> schemaVersion(std::string_view component) override {
    std::optional<Result<int>> out;
    Status st = transaction([&](Tx& tx) -> Status {
      out = versionIn(tx, component);
      return out->status();
    });
    if (!st) {
      return st;
    }
    return **out;
  }

  Status transaction(const std::function<Status(Tx&)>& fn) override {
    for (int attempt = 0;; ++attempt) {
      auto conn = pool_.acquire();
      if (!conn) {
        return conn.status();
      }
      PgTx tx(**conn);
      Status begun = tx.script("BEGIN");
      if (!begun) {
        bool broken = (*conn)->broken();
        release(std::move(*conn));
        if (broken && attempt == 0) {
          continue;  // nothing ran yet: safe to try again on a fresh connection
        }
        return begun;
      }
      Status st = runAndCommit(**conn, tx, fn);
      release(std::move(*conn));
      return st;
    }
  }

  Status query(std::string_view sql, const std::vector<Value>& params,
               const RowCallback& on_row) override {
    for (int attempt = 0;; ++attempt) {
      auto conn = pool_.acquire();
      if (!conn) {
        return conn.status();
      }
      PgTx tx(**conn);
      Status st = tx.query(sql, params, on_row);
      bool broken = (*conn)->broken();
      release(std::move(*conn));
      // query() is for reads (see store.h), so repeating it on a new connection is harmless.
      if (st || !broken || attempt > 0) {
        return st;
      }
    }
  }

  std::string_view dialect() const override { return "postgresql"; }

  Result<std::unique_ptr<EventFeed>> follow(EventHandler handler) override {
    auto newest = newestEvent(*this);  // events committed from here on are all delivered
    if (!newest) {
      return newest.status();
    }
    auto feed = startPgFeed(pool_, std::move(handler), *newest);
    if (!feed) {
      return Status::error(Code::kResourceExhausted, "state store: cannot start the event feed");
    }
    return feed;
  }

 private:
  static Status lock(Tx& tx, std::string_view name) {
    return tx.exec("SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))",
                   {advisoryLockKey("jitgate.schema:" + std::string(name))});
  }

  static Result<int> versionIn(Tx& tx, std::string_view component) {
    int version = 0;
    Status st = tx.query("SELECT version FROM schema_version WHERE component = ?",
                         {std::string(component)}, [&](const Row& r) {
                           version = static_cast<int>(asInt(r[0]));
                           return false;
                         });
    if (!st) {
      return st;
    }
    return version;
  }

  static Status applyStep(PgTx& tx, std::string_view component, const Migration& m) {
    for (const auto& sql : m.statements) {
      if (Status s = tx.script(translateMigration(sql)); !s) {
        return Status::error(s.code(), s.message() + " (migration " + std::string(component) +
                                           " v" + std::to_string(m.version) + ")");
      }
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return tx.exec(
        "INSERT INTO schema_version(component, version, applied_at) VALUES (?, ?, ?) "
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version, "
        "applied_at = excluded.applied_at",
        {std::string(component), int64_t{m.version}, int64_t{now}});
  }

  // After BEGIN: runs fn, then COMMIT, or ROLLBACK when anything failed. A COMMIT that fails on
  // a lost connection may or may not have committed, so it is never repeated.
  static Status runAndCommit(PgConn& conn, PgTx& tx, const std::function<Status(Tx&)>& fn) {
    Status st = fn(tx);
    if (st && PQtransactionStatus(conn.pg.get()) == PQTRANS_INERROR) {
      st = Status::error(Code::kUnavailable,
                         "state store: a statement failed, so the transaction was rolled back");
    }
    if (st) {
      st = tx.script("COMMIT");
      if (!st && conn.broken()) {
        return Status::error(Code::kUnavailable,
                             st.message() + " (during COMMIT: the outcome is unknown)",
                             std::string(st.sqlstate()));
      }
    }
    if (!st && !conn.broken()) {
      (void)tx.script("ROLLBACK");
    }
    return st;
  }

  void release(std::unique_ptr<PgConn> conn) {
    if (conn->broken()) {
      pool_.discardIdle();  // a restarted server broke them all; do not hand them out again
    }
    pool_.release(std::move(conn));
  }

  PgPool pool_;
};

Result<std::string> password(const PgUrl& u) {
  if (!u.password_file.empty()) {
    auto s = config::readSecretFile(u.password_file);
    if (!s) {
      return Status::error(s.status().code(), "state store: " + s.status().message());
    }
    return std::move(*s);
  }
  for (const char* env : {"JITGATE_STORE_PASSWORD", "PGPASSWORD"}) {
    if (const char* p = std::getenv(env); p != nullptr && *p != '\0') {
      return std::string(p);
    }
  }
  return std::string();
}

}  // namespace

Result<std::unique_ptr<Store>> openPostgres(std::string_view url) {
  auto u = parsePgUrl(url);
  if (!u) {
    return u.status();
  }
  auto pw = password(*u);
  if (!pw) {
    return pw.status();
  }
  auto store = std::make_unique<PgStore>(std::move(*u), std::move(*pw));
  if (Status st = store->init(); !st) {
    return st;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace jg::store
