// A throwaway PostgreSQL server for tests: initdb + pg_ctl as the `postgres` OS user (via
// runuser, so the test must run as root), loopback only, on a free port, in a temp directory.
// The superuser logs in over the Unix socket without a password; TCP logins need SCRAM. Tests
// that need it call available() and skip when the binaries or privileges are missing.
// Not thread-safe; one per test suite.
#pragma once

#include <string>

#include "creds/settings.h"

namespace jg::creds::testing {

class TestPostgres {
 public:
  static bool available(std::string* why);
  TestPostgres() = default;
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  bool start(std::string* error);
  void stop();
  // Runs SQL as the superuser over the Unix socket; returns the first column of the first row
  // (empty when none), or sets *error.
  std::string sql(const std::string& statement, const std::string& db = "postgres",
                  std::string* error = nullptr) const;
  // A TCP target on this server (sslmode disable).
  ConnTarget target(const std::string& user, const std::string& password,
                    const std::string& db) const;
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace jg::creds::testing
