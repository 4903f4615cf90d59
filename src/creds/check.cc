// Issuer::check: what `jitgate creds check RESOURCE` reports.
#include <fmt/format.h>

#include "creds/admin_pool.h"
#include "creds/issuer.h"

namespace jg::creds {
namespace {

class Report {
 public:
  explicit Report(std::string& out) : out_(out) {}
  void ok(const std::string& what) { out_ += "  ok    " + what + "\n"; }
  void warn(const std::string& what, const std::string& fix = {}) {
    out_ += "  warn  " + what + "\n";
    addFix(fix);
  }
  void fail(const std::string& what, const std::string& fix = {}) {
    out_ += "  FAIL  " + what + "\n";
    addFix(fix);
    ++failures_;
  }
  int failures() const { return failures_; }

 private:
  void addFix(const std::string& fix) {
    if (!fix.empty()) {
      out_ += "        fix: " + fix + "\n";
    }
  }
  std::string& out_;
  int failures_ = 0;
};

bool isTrue(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col)) == "t";
}

constexpr std::string_view kAdminSql =
    "SELECT r.rolsuper, r.rolcreaterole, "
    "pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE'), "
    "current_setting('server_version'), current_setting('server_version_num')::int "
    "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

constexpr std::string_view kMappedSql =
    "SELECT rolsuper, rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls, "
    "rolcanlogin, pg_catalog.pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION'), "
    "has_database_privilege(rolname, current_database(), 'CONNECT') "
    "FROM pg_catalog.pg_roles WHERE rolname = $1";

// Privileges of the admin user. Returns the server version number (0 when unknown).
int checkAdmin(PGconn* conn, const ResourceCreds& rc, Report& report) {
  ExecResult res = execParams(conn, kAdminSql, {});
  if (!res.ok || PQntuples(res.last.get()) != 1) {
    report.fail("cannot read the admin user's attributes: " + res.message);
    return 0;
  }
  const PGresult* r = res.last.get();
  const std::string& admin = rc.admin.user;
  int version = std::atoi(PQgetvalue(r, 0, 4));
  report.ok(
      fmt::format("admin connection as {} (PostgreSQL {})", rc.admin.where(), PQgetvalue(r, 0, 3)));
  if (isTrue(r, 0, 0)) {
    report.warn(fmt::format("admin user {} is a superuser; it needs only CREATEROLE", admin),
                fmt::format("ALTER ROLE {} NOSUPERUSER CREATEROLE; GRANT pg_signal_backend TO {};",
                            admin, admin));
    return version;
  }
  if (isTrue(r, 0, 1)) {
    report.ok(fmt::format("admin user {} has CREATEROLE", admin));
  } else {
    report.fail(
        fmt::format("admin user {} lacks CREATEROLE, so it cannot create session roles", admin),
        fmt::format("ALTER ROLE {} CREATEROLE;", admin));
  }
  if (isTrue(r, 0, 2)) {
    report.ok(fmt::format("admin user {} may end session backends (pg_signal_backend)", admin));
  } else {
    report.fail(fmt::format("admin user {} may not end the backends of session roles, so a "
                            "connection could outlive its credential",
                            admin),
                fmt::format("GRANT pg_signal_backend TO {};", admin));
  }
  return version;
}

void checkMapped(PGconn* conn, const ResourceCreds& rc, int version, Report& report) {
  for (const auto& [policy_role, upstream] : rc.roles) {
    const std::string label = fmt::format("roles.{} -> {}", policy_role, upstream);
    ExecResult res = execParams(conn, kMappedSql, {upstream});
    if (!res.ok) {
      report.fail(label + ": " + res.message);
      continue;
    }
    const PGresult* r = res.last.get();
    if (PQntuples(r) == 0) {
      report.fail(label + ": the upstream role does not exist",
                  fmt::format("CREATE ROLE {} NOLOGIN; then GRANT it the privileges sessions with "
                              "policy role {} need",
                              upstream, policy_role));
      continue;
    }
    if (isTrue(r, 0, 0)) {
      report.fail(label +
                      ": a superuser role; membership in it cannot be granted by a "
                      "CREATEROLE admin",
                  "map to a role holding only the privileges the sessions need");
      continue;
    }
    if (version >= 160000 && !isTrue(r, 0, 3)) {
      report.fail(label +
                      ": the admin user has no ADMIN OPTION on it (required from "
                      "PostgreSQL 16 to grant membership)",
                  fmt::format("GRANT {} TO {} WITH ADMIN OPTION;", upstream, rc.admin.user));
      continue;
    }
    if (!isTrue(r, 0, 4)) {
      report.fail(
          label + fmt::format(": may not connect to database {}", rc.upstream.database),
          fmt::format("GRANT CONNECT ON DATABASE {} TO {};", rc.upstream.database, upstream));
      continue;
    }
    report.ok(label + ": exists");
    if (isTrue(r, 0, 1)) {
      report.warn(label +
                      ": has CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS — not inherited "
                      "by members, but a session may SET ROLE to it",
                  fmt::format("ALTER ROLE {} NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;",
                              upstream));
    }
  }
}

// Issues a real session role per mapped role, logs in as it over SCRAM, and releases it.
void trialLogins(Issuer& issuer, const ResourceCreds& rc, const Clock& clock, Report& report) {
  for (const auto& [policy_role, upstream] : rc.roles) {
    auto lease = issuer.issue(rc.resource, policy_role, "creds-check",
                              clock.now() + std::chrono::seconds(60));
    if (!lease) {
      report.fail(
          fmt::format("trial session role for {}: {}", policy_role, lease.status().message()));
      continue;
    }
    ConnTarget as = rc.upstream;
    as.user = lease->user;
    as.password = lease->password;
    auto conn = connectPg(as, "jitgate-creds-check");
    if (!conn) {
      report.fail(fmt::format("trial login as a session role (member of {}) to {}:{}/{}: {}",
                              upstream, as.host, as.port, as.database, conn.status().message()),
                  fmt::format("let roles matching {}* log in with scram-sha-256 in pg_hba.conf",
                              rc.prefix));
    } else {
      ExecResult who = execParams(conn->get(), "SELECT current_user", {});
      std::string current = who.ok ? PQgetvalue(who.last.get(), 0, 0) : who.message;
      if (current == upstream) {
        report.ok(fmt::format("trial login as a session role for {} over SCRAM-SHA-256 acts as {}",
                              policy_role, upstream));
      } else {
        report.fail(fmt::format("trial session role for {} acts as {}, expected {}", policy_role,
                                current, upstream));
      }
    }
    if (conn) {
      conn->reset();  // log out before the role is dropped
    }
    issuer.release(*lease);
  }
}

}  // namespace

Status Issuer::check(std::string_view resource, std::string& out) {
  const ResourceCreds* rc = settings(resource);
  if (rc == nullptr) {
    return Status::error(Code::kNotFound, fmt::format("no resource named {}", resource));
  }
  Report report(out);
  out += fmt::format("resource {}: {} credentials\n", rc->resource, modeName(rc->mode));
  if (rc->mode == Mode::kStatic) {
    report.warn(fmt::format("static credentials: every session logs in as the standing user {}; "
                            "the database does not bound a session to its grant",
                            rc->admin.user),
                "prefer credentials: ephemeral with an admin user that has CREATEROLE");
    if (rc->admin.user.empty()) {
      report.fail("no static upstream user", "set upstream.user");
      return Status::error(Code::kInvalidArgument, "resource " + rc->resource + " is not ready");
    }
    if (rc->admin.password.empty()) {
      report.fail("no password for the static upstream user",
                  "set upstream.password_file or upstream.password_env");
      return Status::error(Code::kInvalidArgument, "resource " + rc->resource + " is not ready");
    }
    auto conn = connectPg(rc->admin, "jitgate-creds-check");
    if (!conn) {
      report.fail(fmt::format("login as {}: {}", rc->admin.where(), conn.status().message()),
                  "check upstream.user and its password file");
    } else {
      report.ok(fmt::format("login as {}", rc->admin.where()));
    }
  } else {
    auto conn = connectPg(rc->admin, "jitgate-creds-check");
    if (!conn) {
      const bool refused = conn.status().sqlstate() != "08001";
      report.fail(
          fmt::format("admin connection as {}: {}", rc->admin.where(), conn.status().message()),
          refused ? "check admin.user and its password_file/password_env, and that "
                    "pg_hba.conf lets it connect"
                  : "check the admin host and port, and that the server is running");
    } else {
      int version = checkAdmin(conn->get(), *rc, report);
      checkMapped(conn->get(), *rc, version, report);
      if (report.failures() == 0) {
        trialLogins(*this, *rc, clock_, report);
      }
    }
  }
  if (report.failures() > 0) {
    return Status::error(Code::kInvalidArgument, fmt::format("resource {}: {} problem(s) found",
                                                             rc->resource, report.failures()));
  }
  return Status::ok();
}

}  // namespace jg::creds
