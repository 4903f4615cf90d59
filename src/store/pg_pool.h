// A bounded pool of libpq connections for the PostgreSQL store.
//
// libpq is blocking: everything here blocks the calling thread, so the store is called from the
// blocking pool and its own worker threads, never from an I/O thread. At most `pool_size`
// connections exist; acquire() waits up to `pool_timeout` for one and then fails (never an
// unbounded queue). Connections open lazily; a failed connect is retried once. A connection that
// comes back broken, or not idle, is closed instead of reused. Each connection carries its own
// cache of prepared statements (keyed by the SQL as the caller wrote it).
//
// Thread-safe; a leased connection is used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/pg_url.h"

namespace jg::store {

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultCloser>;

struct PgPrepared {
  std::string name;  // "jg1", "jg2", ... on this connection
  int params = 0;
};

struct PgConn {
  std::unique_ptr<PGconn, PgConnCloser> pg;
  std::unordered_map<std::string, PgPrepared> statements;
  int next_statement = 0;
  bool broken() const { return PQstatus(pg.get()) != CONNECTION_OK; }
};

class PgPool {
 public:
  // `password` may be empty (libpq then tries its own sources, e.g. a client certificate).
  PgPool(PgUrl url, std::string password);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection to use and give back with release(). Fails with kResourceExhausted when none
  // is free within the pool timeout, kUnavailable when connecting failed twice.
  [[nodiscard]] Result<std::unique_ptr<PgConn>> acquire();
  void release(std::unique_ptr<PgConn> conn);
  // A connection outside the pool (not counted, never released to it), named
  // `application_name` in pg_stat_activity; for a long-lived LISTEN. One attempt, no retry.
  [[nodiscard]] Result<std::unique_ptr<PgConn>> connectDedicated(
      const std::string& application_name);
  // Closes every idle connection (after one turned out broken: a restarted server broke all).
  void discardIdle();

  const PgUrl& url() const { return url_; }
  int openConnections();

 private:
  Result<std::unique_ptr<PgConn>> connect();
  Result<std::unique_ptr<PgConn>> connectOnce(const std::string& application_name);

  const PgUrl url_;
  std::string password_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  int open_ = 0;  // idle + leased + being opened
};

}  // namespace jg::store
