#include "creds/admin_pool.h"

#include <fmt/format.h>

namespace jg::creds {
namespace {

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

// libpq reports connection failures as text only; map the common ones to a SQLSTATE.
std::string connectSqlstate(const std::string& msg) {
  if (msg.find("authentication failed") != std::string::npos ||
      msg.find("password") != std::string::npos) {
    return "28P01";
  }
  if (msg.find("pg_hba.conf") != std::string::npos ||
      msg.find("does not exist") != std::string::npos ||
      msg.find("not permitted to log in") != std::string::npos) {
    return "28000";
  }
  return "08001";
}

}  // namespace

Result<PgConnPtr> connectPg(const ConnTarget& t, std::string_view application_name,
                            std::string_view options, std::chrono::seconds connect_timeout) {
  const std::string port = std::to_string(t.port);
  const std::string timeout = std::to_string(connect_timeout.count());
  const std::string app(application_name);
  const std::string opts(options);
  std::vector<const char*> keys = {
      "host",           "port",    "dbname",          "user",
      "password",       "sslmode", "connect_timeout", "application_name",
      "client_encoding"};
  std::vector<const char*> values = {t.host.c_str(),
                                     port.c_str(),
                                     t.database.c_str(),
                                     t.user.c_str(),
                                     t.password.reveal().c_str(),
                                     t.sslmode.c_str(),
                                     timeout.c_str(),
                                     app.c_str(),
                                     "UTF8"};
  if (!t.sslrootcert.empty()) {
    keys.push_back("sslrootcert");
    values.push_back(t.sslrootcert.c_str());
  }
  if (!opts.empty()) {
    keys.push_back("options");
    values.push_back(opts.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PgConnPtr conn(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!conn) {
    return Status::error(Code::kResourceExhausted, "out of memory opening a connection", "08001");
  }
  // Server notices (e.g. "permission will be denied to set role" from ALTER ROLE ... SET role,
  // which is expected: the session role, not the admin, is the member) must not reach stderr.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(conn.get()));
    std::string state = connectSqlstate(msg);
    return Status::error(state == "08001" ? Code::kUnavailable : Code::kPermissionDenied,
                         std::move(msg), std::move(state));
  }
  return conn;
}

std::string LibpqQuoter::identifier(std::string_view name) const {
  char* q = PQescapeIdentifier(conn_, name.data(), name.size());
  std::string out = q ? q : "";
  PQfreemem(q);
  return out;
}

std::string LibpqQuoter::literal(std::string_view value) const {
  char* q = PQescapeLiteral(conn_, value.data(), value.size());
  std::string out = q ? q : "";
  PQfreemem(q);
  return out;
}

namespace {

ExecResult finish(PGconn* conn, PGresult* raw) {
  ExecResult r;
  r.last.reset(raw);
  ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    r.ok = true;
    return r;
  }
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = raw ? PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  r.sqlstate = state ? state : "";
  r.message = primary ? primary : trimmed(PQerrorMessage(conn));
  r.connection_lost = PQstatus(conn) != CONNECTION_OK;
  if (r.sqlstate.empty()) {
    r.sqlstate = "08006";
  }
  return r;
}

}  // namespace

ExecResult execSql(PGconn* conn, const std::string& sql) {
  return finish(conn, PQexec(conn, sql.c_str()));
}

ExecResult execParams(PGconn* conn, std::string_view sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) {
    values.push_back(p.c_str());
  }
  std::string text(sql);
  return finish(conn, PQexecParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, 0));
}

AdminPool::~AdminPool() {
  closeAll();
}

AdminPool::Handle::~Handle() {
  if (pool_) {
    pool_->giveBack(std::move(conn_));
  }
}

Result<AdminPool::Handle> AdminPool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, wait, [&] { return !idle_.empty() || open_ < size_; })) {
    return Status::error(
        Code::kResourceExhausted,
        fmt::format("all {} admin connections to {} are busy", size_, target_.where()), "08001");
  }
  if (!idle_.empty()) {
    PgConnPtr c = std::move(idle_.back());
    idle_.pop_back();
    return Handle(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  // Durable commits buy nothing here: a role lost to an upstream crash only fails its session,
  // and a drop lost to one is redone by the reaper. Cap statements so a lock cannot hang us.
  auto conn = connectPg(target_, "jitgate-creds",
                        "-c synchronous_commit=off -c statement_timeout=15000 "
                        "-c lock_timeout=10000");
  if (!conn) {
    std::lock_guard relock(mu_);
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Handle(this, std::move(*conn));
}

void AdminPool::giveBack(PgConnPtr conn) {
  std::lock_guard lock(mu_);
  if (conn && PQstatus(conn.get()) == CONNECTION_OK &&
      PQtransactionStatus(conn.get()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

void AdminPool::closeAll() {
  std::lock_guard lock(mu_);
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
}

}  // namespace jg::creds
