// A small pool of libpq connections to one upstream, used for role management.
//
// libpq is blocking, so everything here blocks the calling thread: call it from a worker pool,
// never from an I/O thread. The pool is thread-safe; a borrowed connection is used by one thread
// at a time. Connections are opened lazily, at most `size` exist, and a broken one is discarded
// and replaced. Connection parameters go to libpq as keyword/value arrays (never a conninfo
// string or a command line), so the password is neither quoted nor exposed.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "creds/role_sql.h"
#include "creds/settings.h"

namespace jg::creds {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Opens one connection. On failure the Status has SQLSTATE 08001 (unreachable) or 28P01/28000
// (refused) and libpq's message (which never contains the password). `application_name` and
// `options` (e.g. "-c synchronous_commit=off") are passed through.
Result<PgConnPtr> connectPg(const ConnTarget& target, std::string_view application_name,
                            std::string_view options = {},
                            std::chrono::seconds connect_timeout = std::chrono::seconds(5));

// Quotes with PQescapeIdentifier/PQescapeLiteral on a live connection.
class LibpqQuoter final : public Quoter {
 public:
  explicit LibpqQuoter(PGconn* conn) : conn_(conn) {}
  std::string identifier(std::string_view name) const override;
  std::string literal(std::string_view value) const override;

 private:
  PGconn* conn_;
};

// The outcome of one statement batch: ok, or the SQLSTATE and server message of the failure.
struct ExecResult {
  bool ok = false;
  bool connection_lost = false;
  std::string sqlstate;
  std::string message;
  PgResultPtr last;  // the last result (rows of the final statement)
};

// Runs `sql` (possibly several statements) with PQexec, or with text parameters via PQexecParams.
ExecResult execSql(PGconn* conn, const std::string& sql);
ExecResult execParams(PGconn* conn, std::string_view sql, const std::vector<std::string>& params);

class AdminPool {
 public:
  AdminPool(ConnTarget target, int size) : target_(std::move(target)), size_(size) {}
  ~AdminPool();

  // A borrowed connection; returns itself to the pool when destroyed. Call discard() when the
  // connection turned out to be broken.
  class Handle {
   public:
    Handle(AdminPool* pool, PgConnPtr conn) : pool_(pool), conn_(std::move(conn)) {}
    Handle(Handle&& o) noexcept
        : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)) {}
    Handle& operator=(Handle&&) = delete;
    ~Handle();
    PGconn* get() const { return conn_.get(); }
    void discard() { conn_.reset(); }

   private:
    AdminPool* pool_;
    PgConnPtr conn_;
  };

  // Waits up to `wait` for a free connection, opening a new one when under the size limit.
  Result<Handle> acquire(std::chrono::milliseconds wait = std::chrono::seconds(10));
  const ConnTarget& target() const { return target_; }
  void closeAll();

 private:
  void giveBack(PgConnPtr conn);

  const ConnTarget target_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PgConnPtr> idle_;
  int open_ = 0;  // idle + borrowed
};

}  // namespace jg::creds
