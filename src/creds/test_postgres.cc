#include "creds/test_postgres.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace jg::creds::testing {
namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool run(const std::string& cmd) {
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

bool TestPostgres::available(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root to run PostgreSQL as the postgres user";
    return false;
  }
  if (::getpwnam("postgres") == nullptr ||
      !std::filesystem::exists(std::string(kPgBin) + "/initdb")) {
    *why = "PostgreSQL 15 server binaries or the postgres user are missing";
    return false;
  }
  return true;
}

TestPostgres::~TestPostgres() {
  stop();
}

bool TestPostgres::start(std::string* error) {
  char tmpl[] = "/tmp/jg-creds-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  port_ = freePort();
  const passwd* pw = ::getpwnam("postgres");
  ::chmod(dir_.c_str(), 0755);
  if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    *error = "chown failed";
    return false;
  }
  const std::string data = dir_ + "/data";
  if (!run(fmt::format("runuser -u postgres -- {}/initdb -D {} -A trust -U postgres --no-sync "
                       "-E UTF8 --locale=C.UTF-8 >{}/initdb.log 2>&1",
                       kPgBin, data, dir_))) {
    *error = "initdb failed (see " + dir_ + "/initdb.log)";
    return false;
  }
  std::ofstream(data + "/pg_hba.conf") << "local all all trust\n"
                                          "host all postgres 127.0.0.1/32 reject\n"
                                          "host all all 127.0.0.1/32 scram-sha-256\n";
  std::ofstream(data + "/postgresql.conf", std::ios::app) << fmt::format(
      "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = "
      "'{}'\nfsync = off\nsynchronous_commit = off\nmax_connections = 60\n"
      "password_encryption = 'scram-sha-256'\n",
      port_, dir_);
  if (!run(fmt::format("runuser -u postgres -- {}/pg_ctl -D {} -l {}/postgres.log -w -t 30 start "
                       ">/dev/null 2>&1",
                       kPgBin, data, dir_))) {
    *error = "pg_ctl start failed (see " + dir_ + "/postgres.log)";
    return false;
  }
  running_ = true;
  return true;
}

void TestPostgres::stop() {
  if (running_) {
    (void)run(
        fmt::format("runuser -u postgres -- {}/pg_ctl -D {}/data -m immediate -w stop "
                    ">/dev/null 2>&1",
                    kPgBin, dir_));
    running_ = false;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string TestPostgres::sql(const std::string& statement, const std::string& db,
                              std::string* error) const {
  const std::string port = std::to_string(port_);
  const char* keys[] = {"host", "port", "dbname", "user", nullptr};
  const char* values[] = {dir_.c_str(), port.c_str(), db.c_str(), "postgres", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 0);
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    if (error) {
      *error = PQerrorMessage(conn);
    }
    PQfinish(conn);
    return out;
  }
  PGresult* r = PQexec(conn, statement.c_str());
  auto st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
    out = PQgetvalue(r, 0, 0);
  } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && error) {
    *error = PQresultErrorMessage(r);
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

ConnTarget TestPostgres::target(const std::string& user, const std::string& password,
                                const std::string& db) const {
  ConnTarget t;
  t.host = "127.0.0.1";
  t.port = static_cast<uint16_t>(port_);
  t.database = db;
  t.user = user;
  t.password = Secret(password);
  t.sslmode = "disable";
  return t;
}

}  // namespace jg::creds::testing
