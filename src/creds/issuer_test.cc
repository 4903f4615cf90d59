// Issuer against a real PostgreSQL 15 (skipped when one cannot be started).
#include "creds/issuer.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <thread>

#include "core/log.h"
#include "creds/admin_pool.h"
#include "creds/test_postgres.h"

namespace jg::creds {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::TestPostgres;

constexpr const char* kAdminPassword = "admin-pw-9c1f";
constexpr const char* kWeakPassword = "weak-pw-71aa";

class IssuerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::setup(log::Format::kText, "warn");
    std::string why;
    if (!TestPostgres::available(&why)) {
      skip_ = why;
      return;
    }
    pg_ = new TestPostgres();
    if (!pg_->start(&why)) {
      skip_ = why;
      return;
    }
    std::string err;
    pg_->sql("CREATE DATABASE kb", "postgres", &err);
    pg_->sql(fmt::format("CREATE ROLE jitgate_admin LOGIN CREATEROLE PASSWORD '{}';"
                         "GRANT pg_signal_backend TO jitgate_admin;"
                         "CREATE ROLE weak_admin LOGIN PASSWORD '{}';"
                         "CREATE ROLE kb_reader NOLOGIN; CREATE ROLE kb_writer NOLOGIN;",
                         kAdminPassword, kWeakPassword),
             "postgres", &err);
    pg_->sql(
        "CREATE TABLE docs (id int, body text); INSERT INTO docs VALUES (1, 'hello');"
        "GRANT SELECT ON docs TO kb_reader; GRANT ALL ON docs TO kb_writer;"
        "GRANT CREATE ON SCHEMA public TO kb_writer;",
        "kb", &err);
    ASSERT_EQ(err, "");
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) {
      GTEST_SKIP() << skip_;
    }
  }
  void TearDown() override {
    if (pg_) {
      pg_->sql(
          "DO $$DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE "
          "rolname LIKE 'jg\\_%' LOOP EXECUTE format('DROP ROLE %I', r.rolname); END LOOP; "
          "END$$");
    }
  }

  ResourceCreds creds(const std::string& admin = "jitgate_admin",
                      const std::string& password = kAdminPassword) {
    ResourceCreds rc;
    rc.resource = "kb";
    rc.mode = Mode::kEphemeral;
    rc.admin = pg_->target(admin, password, "kb");
    rc.upstream = pg_->target("", "", "kb");
    rc.roles = {{"reader", "kb_reader"}, {"writer", "kb_writer"}};
    rc.max_ttl = hours(1);
    return rc;
  }
  std::unique_ptr<Issuer> issuer(const std::string& instance = "gw-test", ResourceCreds rc = {}) {
    if (rc.resource.empty()) {
      rc = creds();
    }
    std::map<std::string, ResourceCreds> m;
    m.emplace("kb", std::move(rc));
    auto i = Issuer::create(std::move(m), instance, clock_);
    EXPECT_TRUE(i) << i.status().message();
    return std::move(*i);
  }
  PgConnPtr login(const Lease& lease) {
    ConnTarget t = pg_->target(lease.user, lease.password.reveal(), "kb");
    auto c = connectPg(t, "test");
    EXPECT_TRUE(c) << c.status().message();
    return c ? std::move(*c) : nullptr;
  }
  int sessionRoles() {
    return std::stoi(pg_->sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'jg\\_%'"));
  }

  static inline TestPostgres* pg_ = nullptr;
  static inline std::string skip_;
  ManualClock clock_{std::chrono::system_clock::now()};
};

TEST_F(IssuerTest, IssueCreatesExactlyOneMarkedRoleWithTheMappedMembershipOnly) {
  auto is = issuer();
  auto lease = is->issue("kb", "reader", "s1", clock_.now() + seconds(600));
  ASSERT_TRUE(lease) << lease.status().message();
  EXPECT_TRUE(lease->user.starts_with("jg_"));
  EXPECT_EQ(lease->password.reveal().size(), 64u);
  EXPECT_EQ(sessionRoles(), 1);
  const std::string q = "'" + lease->role_name + "'";
  EXPECT_EQ(pg_->sql("SELECT string_agg(m.rolname, ',') FROM pg_auth_members a JOIN pg_roles m "
                     "ON m.oid = a.roleid JOIN pg_roles r ON r.oid = a.member WHERE r.rolname = " +
                     q),
            "kb_reader");
  EXPECT_EQ(pg_->sql("SELECT rolconnlimit::text || rolcanlogin::text || rolinherit::text || "
                     "rolcreaterole::text || rolsuper::text FROM pg_roles WHERE rolname = " +
                     q),
            "1truetruefalsefalse");
  const int64_t expect_until = clock_.nowUnixSeconds() + 600;
  EXPECT_EQ(pg_->sql("SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE "
                     "rolname = " +
                     q),
            std::to_string(expect_until));
  EXPECT_EQ(
      pg_->sql("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = " + q),
      "jitgate:v1:gw-test:" + std::to_string(expect_until));
  // The server holds only a verifier, never the plaintext.
  std::string stored = pg_->sql("SELECT rolpassword FROM pg_authid WHERE rolname = " + q);
  EXPECT_TRUE(stored.starts_with("SCRAM-SHA-256$16:")) << stored;
  EXPECT_EQ(stored.find(lease->password.reveal()), std::string::npos);
  is->release(*lease);
  EXPECT_EQ(sessionRoles(), 0);
}

TEST_F(IssuerTest, SessionRoleActsAsTheMappedRoleAndPostgresRefusesWritesForAReader) {
  auto is = issuer();
  auto lease = is->issue("kb", "reader", "s2", clock_.now() + seconds(600));
  ASSERT_TRUE(lease) << lease.status().message();
  PgConnPtr c = login(*lease);
  ASSERT_TRUE(c);
  ExecResult who = execParams(c.get(), "SELECT current_user || ',' || session_user", {});
  ASSERT_TRUE(who.ok);
  EXPECT_EQ(std::string(PQgetvalue(who.last.get(), 0, 0)), "kb_reader," + lease->role_name);
  EXPECT_TRUE(execSql(c.get(), "SELECT body FROM docs").ok);
  ExecResult write = execSql(c.get(), "INSERT INTO docs VALUES (2, 'x')");
  EXPECT_FALSE(write.ok);
  EXPECT_EQ(write.sqlstate, "42501");
  ExecResult escalate = execSql(c.get(), "SET ROLE kb_writer");
  EXPECT_FALSE(escalate.ok);
  // A second login with the same credential is refused (CONNECTION LIMIT 1).
  ConnTarget again = pg_->target(lease->user, lease->password.reveal(), "kb");
  EXPECT_FALSE(connectPg(again, "test"));
  c.reset();
  is->release(*lease);
}

TEST_F(IssuerTest, WriterSessionsCanCreateObjectsAndTheRoleStillDrops) {
  auto is = issuer();
  auto lease = is->issue("kb", "writer", "s3", clock_.now() + seconds(600));
  ASSERT_TRUE(lease) << lease.status().message();
  PgConnPtr c = login(*lease);
  ASSERT_TRUE(c);
  EXPECT_TRUE(execSql(c.get(), "INSERT INTO docs VALUES (3, 'w')").ok);
  EXPECT_TRUE(execSql(c.get(), "CREATE TABLE scratch_" + lease->role_name + " (x int)").ok);
  c.reset();
  is->release(*lease);
  EXPECT_EQ(sessionRoles(), 0);
  EXPECT_EQ(pg_->sql("SELECT tableowner FROM pg_tables WHERE tablename = 'scratch_" +
                         lease->role_name + "'",
                     "kb"),
            "kb_writer");
}

TEST_F(IssuerTest, ReleaseEndsTheOpenConnectionAndDropsTheRole) {
  auto is = issuer();
  auto lease = is->issue("kb", "reader", "s4", clock_.now() + seconds(600));
  ASSERT_TRUE(lease);
  PgConnPtr c = login(*lease);
  ASSERT_TRUE(c);
  is->release(*lease);
  EXPECT_EQ(sessionRoles(), 0);
  EXPECT_FALSE(execSql(c.get(), "SELECT 1").ok);
  EXPECT_EQ(is->liveCount(), 0u);
}

TEST_F(IssuerTest, ValidUntilIsTheEarlierOfTheDeadlineAndMaxTtl) {
  auto is = issuer();
  auto lease = is->issue("kb", "reader", "s5", clock_.now() + hours(10));
  ASSERT_TRUE(lease);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(lease->valid_until),
            clock_.nowUnixSeconds() + 3600);
  is->release(*lease);
  auto expired = is->issue("kb", "reader", "s5", clock_.now() - seconds(1));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.status().sqlstate(), "28000");
}

TEST_F(IssuerTest, UnmappedPolicyRoleIsRefusedWithoutCreatingAnything) {
  auto is = issuer();
  auto lease = is->issue("kb", "admin", "s6", clock_.now() + seconds(60));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.status().sqlstate(), "28000");
  EXPECT_NE(lease.status().message().find("roles:"), std::string::npos);
  EXPECT_EQ(sessionRoles(), 0);
}

TEST_F(IssuerTest, ReapAfterARestartDropsLeftoversAndEndsTheirBackends) {
  auto crashed = issuer("gw-a");
  auto lease = crashed->issue("kb", "reader", "s7", clock_.now() + seconds(600));
  ASSERT_TRUE(lease);
  PgConnPtr c = login(*lease);
  ASSERT_TRUE(c);
  auto other = issuer("gw-b");
  auto foreign = other->issue("kb", "reader", "s8", clock_.now() + seconds(600));
  ASSERT_TRUE(foreign);
  pg_->sql("CREATE ROLE jg_not_ours NOLOGIN; COMMENT ON ROLE jg_not_ours IS 'hand-made'");

  auto restarted = issuer("gw-a");  // same instance id, empty live set
  EXPECT_EQ(restarted->reap(), 1u);
  EXPECT_FALSE(execSql(c.get(), "SELECT 1").ok);
  EXPECT_EQ(pg_->sql("SELECT count(*) FROM pg_roles WHERE rolname = '" + lease->role_name + "'"),
            "0");
  EXPECT_EQ(pg_->sql("SELECT count(*) FROM pg_roles WHERE rolname IN ('" + foreign->role_name +
                     "', 'jg_not_ours')"),
            "2");
  // The live issuer of the other instance keeps its role through its own reap.
  EXPECT_EQ(other->reap(), 0u);
  other->release(*foreign);
  pg_->sql("DROP ROLE jg_not_ours");
}

TEST_F(IssuerTest, ReapDropsTheRolesOfAnInstanceNamedDeadAndNoOthers) {
  auto dead = issuer("gw-dead");
  auto orphan = dead->issue("kb", "reader", "s11", clock_.now() + seconds(600));
  ASSERT_TRUE(orphan);
  PgConnPtr c = login(*orphan);
  ASSERT_TRUE(c);
  auto alive = issuer("gw-alive");
  auto kept = alive->issue("kb", "reader", "s12", clock_.now() + seconds(600));
  ASSERT_TRUE(kept);
  auto survivor = issuer("gw-survivor");
  EXPECT_EQ(survivor->reap(), 0u);  // nothing is known to be dead yet
  survivor->setDeadInstances([] { return std::set<std::string>{"gw-dead", "gw-survivor"}; });
  EXPECT_EQ(survivor->reap(), 1u);
  EXPECT_FALSE(execSql(c.get(), "SELECT 1").ok);  // its backend ended too
  EXPECT_EQ(pg_->sql("SELECT count(*) FROM pg_roles WHERE rolname = '" + orphan->role_name + "'"),
            "0");
  EXPECT_EQ(pg_->sql("SELECT count(*) FROM pg_roles WHERE rolname = '" + kept->role_name + "'"),
            "1");
  alive->release(*kept);
}

TEST_F(IssuerTest, ReapDropsExpiredRolesOfAnyInstanceAfterAGracePeriod) {
  auto a = issuer("gw-a");
  auto lease = a->issue("kb", "reader", "s9", clock_.now() + seconds(30));
  ASSERT_TRUE(lease);
  auto b = issuer("gw-b");
  EXPECT_EQ(b->reap(), 0u);
  clock_.advance(seconds(45));
  EXPECT_EQ(b->reap(), 0u);  // still within the owner's grace
  EXPECT_EQ(a->reap(), 1u);  // the owner drops its own expired role at once
  auto lease2 = a->issue("kb", "reader", "s10", clock_.now() + seconds(30));
  ASSERT_TRUE(lease2);
  clock_.advance(seconds(90));
  EXPECT_EQ(b->reap(), 1u);
  EXPECT_EQ(sessionRoles(), 0);
}

TEST_F(IssuerTest, AdminWithoutCreateroleGetsAnActionableError) {
  auto is = issuer("gw-test", creds("weak_admin", kWeakPassword));
  auto lease = is->issue("kb", "reader", "s11", clock_.now() + seconds(60));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.status().sqlstate(), "08001");
  EXPECT_NE(lease.status().message().find("lacks CREATEROLE"), std::string::npos)
      << lease.status().message();
  EXPECT_NE(lease.status().message().find("ALTER ROLE weak_admin CREATEROLE"), std::string::npos);
  EXPECT_EQ(is->liveCount(), 0u);
}

TEST_F(IssuerTest, WrongAdminPasswordIsExplainedWithoutRevealingIt) {
  auto is = issuer("gw-test", creds("jitgate_admin", "not-the-password-42"));
  auto lease = is->issue("kb", "reader", "s12", clock_.now() + seconds(60));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.status().sqlstate(), "08001");
  EXPECT_NE(lease.status().message().find("password authentication failed"), std::string::npos)
      << lease.status().message();
  EXPECT_EQ(lease.status().message().find("not-the-password-42"), std::string::npos);
}

TEST_F(IssuerTest, MissingMappedRoleIsNamed) {
  ResourceCreds rc = creds();
  rc.roles["auditor"] = "kb_auditor";
  auto is = issuer("gw-test", std::move(rc));
  auto lease = is->issue("kb", "auditor", "s13", clock_.now() + seconds(60));
  ASSERT_FALSE(lease);
  EXPECT_NE(lease.status().message().find("kb_auditor does not exist"), std::string::npos)
      << lease.status().message();
}

TEST_F(IssuerTest, CheckPassesOnAGoodSetupAndLeavesNothingBehind) {
  auto is = issuer();
  std::string report;
  Status s = is->check("kb", report);
  EXPECT_TRUE(s) << report;
  EXPECT_NE(report.find("trial login as a session role for reader"), std::string::npos) << report;
  EXPECT_EQ(report.find("FAIL"), std::string::npos) << report;
  EXPECT_EQ(sessionRoles(), 0);
}

TEST_F(IssuerTest, CheckSaysExactlyWhatTheAdminLacks) {
  ResourceCreds rc = creds("weak_admin", kWeakPassword);
  rc.roles["auditor"] = "kb_auditor";
  auto is = issuer("gw-test", std::move(rc));
  std::string report;
  EXPECT_FALSE(is->check("kb", report));
  EXPECT_NE(report.find("fix: ALTER ROLE weak_admin CREATEROLE;"), std::string::npos) << report;
  EXPECT_NE(report.find("fix: GRANT pg_signal_backend TO weak_admin;"), std::string::npos);
  EXPECT_NE(report.find("roles.auditor -> kb_auditor: the upstream role does not exist"),
            std::string::npos);
  EXPECT_NE(report.find("roles.reader -> kb_reader: exists"), std::string::npos);
}

TEST_F(IssuerTest, ConcurrentSessionsShareTheAdminPool) {
  auto is = issuer();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto lease = is->issue("kb", "reader", "c", clock_.now() + seconds(60));
        if (lease) {
          ++ok;
          is->release(*lease);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(sessionRoles(), 0);
}

TEST_F(IssuerTest, StaticResourcesHandOutTheFixedLogin) {
  ResourceCreds rc;
  rc.resource = "kb";
  rc.mode = Mode::kStatic;
  rc.admin = pg_->target("app", "app-pw", "kb");
  auto is = issuer("gw-test", std::move(rc));
  auto lease = is->issue("kb", "anything", "s14", clock_.now() + seconds(60));
  ASSERT_TRUE(lease);
  EXPECT_FALSE(lease->ephemeral());
  EXPECT_EQ(lease->user, "app");
  EXPECT_EQ(lease->password.reveal(), "app-pw");
  is->release(*lease);  // no-op
}

}  // namespace
}  // namespace jg::creds
