#include "store/pg_url.h"

#include <gtest/gtest.h>

namespace jg::store {
namespace {

TEST(PgUrl, FullUrlIsParsedWithDefaults) {
  auto u = parsePgUrl("postgresql://jit%40gate@db.example.com:6432/state?pool_size=8");
  ASSERT_TRUE(u.isOk()) << u.status().message();
  EXPECT_EQ(u->user, "jit@gate");
  EXPECT_EQ(u->host, "db.example.com");
  EXPECT_EQ(u->port, 6432);
  EXPECT_EQ(u->dbname, "state");
  EXPECT_EQ(u->pool_size, 8);
  EXPECT_EQ(u->sslmode, "require");
  EXPECT_EQ(u->pool_timeout.count(), 5000);
}

TEST(PgUrl, NamingACaCertificateDefaultsToVerifyFull) {
  auto u = parsePgUrl("postgres://u@db:5432/s?sslrootcert=/etc/ca.pem");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->sslmode, "verify-full");
  EXPECT_EQ(u->sslrootcert, "/etc/ca.pem");
}

TEST(PgUrl, WeakTlsIsRefusedForARemoteHostButAllowedOnLoopback) {
  EXPECT_FALSE(parsePgUrl("postgresql://u@db.example.com/s?sslmode=disable").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@10.0.0.5/s?sslmode=prefer").isOk());
  EXPECT_TRUE(parsePgUrl("postgresql://u@127.0.0.1/s?sslmode=disable").isOk());
  EXPECT_TRUE(parsePgUrl("postgresql://u@localhost/s?sslmode=prefer").isOk());
  EXPECT_TRUE(parsePgUrl("postgresql://u@[::1]:5433/s?sslmode=disable").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@localhost/s?sslmode=sometimes").isOk());
}

TEST(PgUrl, PasswordInTheUrlIsRefusedAndNotEchoed) {
  auto u = parsePgUrl("postgresql://u:hunter2@db/s");
  ASSERT_FALSE(u.isOk());
  EXPECT_EQ(u.status().message().find("hunter2"), std::string::npos) << u.status().message();
  auto q = parsePgUrl("postgresql://u@db/s?password=hunter2");
  ASSERT_FALSE(q.isOk());
  EXPECT_EQ(q.status().message().find("hunter2"), std::string::npos) << q.status().message();
}

TEST(PgUrl, MissingUserOrDatabaseAndBadNumbersAreErrors) {
  EXPECT_FALSE(parsePgUrl("postgresql://db/s").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db:99999/s").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db/s?pool_size=0").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db/s?pool_size=1000").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db/s?colour=blue").isOk());
  EXPECT_FALSE(parsePgUrl("postgresql://u@db/s%zz").isOk());
}

TEST(PgUrl, RedactionMasksThePasswordAndDropsTheQuery) {
  EXPECT_EQ(redactUrl("postgresql://u:pw@db:5432/s?password=x"), "postgresql://u:***@db:5432/s");
  EXPECT_EQ(redactUrl("postgresql://u@db/s"), "postgresql://u@db/s");
  EXPECT_EQ(redactUrl("mysql://a:b@c"), "mysql://a:***@c");
  EXPECT_EQ(redactUrl("postgres://app:p@ss@db/x"), "postgres://app:***@db/x");
  EXPECT_EQ(redactUrl("postgres://app:p/s?s@db/x?a=1"), "postgres://app:***@db/x");
}

}  // namespace
}  // namespace jg::store
