#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

namespace jg::store {
namespace {

Status sqliteError(sqlite3* db, std::string_view what) {
  return Status::error(Code::kUnavailable,
                       "state store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

class SqliteTx final : public Tx {
 public:
  SqliteTx(sqlite3* db, std::unordered_map<std::string, sqlite3_stmt*>& cache)
      : db_(db), cache_(cache) {}

  Status exec(std::string_view sql, const std::vector<Value>& params = {}) override {
    return run(sql, params, nullptr);
  }
  Status query(std::string_view sql, const std::vector<Value>& params,
               const RowCallback& on_row) override {
    return run(sql, params, &on_row);
  }
  int64_t changes() const override { return sqlite3_changes64(db_); }

  // Runs SQL that may hold several statements and no parameters (migrations, pragmas).
  Status script(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Status::error(Code::kUnavailable, "state store: " + msg);
    }
    return Status::ok();
  }

 private:
  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) {
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      return sqliteError(db_, "prepare");
    }
    cache_.emplace(std::string(sql), stmt);
    return stmt;
  }

  Status bind(sqlite3_stmt* stmt, const std::vector<Value>& params) {
    if (static_cast<size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
      return internalError("state store: parameter count mismatch");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              return sqlite3_bind_null(stmt, idx);
            } else if constexpr (std::is_same_v<T, int64_t>) {
              return sqlite3_bind_int64(stmt, idx, v);
            } else if constexpr (std::is_same_v<T, double>) {
              return sqlite3_bind_double(stmt, idx, v);
            } else {
              return sqlite3_bind_text64(stmt, idx, v.data(), v.size(), SQLITE_TRANSIENT,
                                         SQLITE_UTF8);
            }
          },
          params[i]);
      if (rc != SQLITE_OK) {
        return sqliteError(db_, "bind");
      }
    }
    return Status::ok();
  }

  static Value column(sqlite3_stmt* stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER:
        return int64_t{sqlite3_column_int64(stmt, i)};
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, i);
      case SQLITE_NULL:
        return std::monostate{};
      default: {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
      }
    }
  }

  Status run(std::string_view sql, const std::vector<Value>& params, const RowCallback* on_row) {
    auto stmt = prepare(sql);
    if (!stmt) {
      return stmt.status();
    }
    sqlite3_stmt* s = *stmt;
    Status st = bind(s, params);
    while (st) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) {
        break;
      }
      if (rc != SQLITE_ROW) {
        st = sqliteError(db_, "step");
        break;
      }
      if (on_row != nullptr) {
        Row row;
        int n = sqlite3_column_count(s);
        row.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
          row.push_back(column(s, i));
        }
        if (!(*on_row)(row)) {
          break;
        }
      }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return st;
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*>& cache_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db), tx_(db, cache_) {}
  ~SqliteStore() override {
    for (auto& [sql, stmt] : cache_) {
      sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
  }

  Status init() {
    std::lock_guard lk(mu_);
    sqlite3_busy_timeout(db_, 5000);
    return tx_.script(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY,"
        " version INTEGER NOT NULL, applied_at INTEGER NOT NULL);");
  }

  Status migrate(std::string_view component, const std::vector<Migration>& migrations) override {
    auto current = schemaVersion(component);
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
      if (m.version <= *current) {
        continue;
      }
      Status st = transaction([&](Tx&) -> Status {
        for (const auto& sql : m.statements) {
          if (Status s = tx_.script(sql); !s) {
            return Status::error(s.code(), s.message() + " (migration " + std::string(component) +
                                               " v" + std::to_string(m.version) + ")");
          }
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        return tx_.exec(
            "INSERT INTO schema_version(component, version, applied_at) VALUES (?, ?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version, "
            "applied_at = excluded.applied_at",
            {std::string(component), int64_t{m.version}, int64_t{now}});
      });
      if (!st) {
        return st;
      }
    }
    return Status::ok();
  }

  Result<int> schemaVersion(std::string_view component) override {
    int version = 0;
    Status st = query("SELECT version FROM schema_version WHERE component = ?",
                      {std::string(component)}, [&](const Row& r) {
                        version = static_cast<int>(asInt(r[0]));
                        return false;
                      });
    if (!st) {
      return st;
    }
    return version;
  }

  Status transaction(const std::function<Status(Tx&)>& fn) override {
    std::lock_guard lk(mu_);
    if (Status st = tx_.exec("BEGIN IMMEDIATE"); !st) {
      return st;
    }
    Status st = fn(tx_);
    if (st) {
      st = tx_.exec("COMMIT");
    }
    if (!st) {
      (void)tx_.exec("ROLLBACK");
    }
    return st;
  }

  Status query(std::string_view sql, const std::vector<Value>& params,
               const RowCallback& on_row) override {
    std::lock_guard lk(mu_);
    return tx_.query(sql, params, on_row);
  }

  std::string_view dialect() const override { return "sqlite"; }

 private:
  sqlite3* db_;
  std::mutex mu_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  SqliteTx tx_;
};

}  // namespace

Result<std::unique_ptr<Store>> openSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Status::error(Code::kUnavailable, "state store: cannot open " + path + ": " + msg);
  }
  auto store = std::make_unique<SqliteStore>(db);
  if (Status st = store->init(); !st) {
    return st;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace jg::store
