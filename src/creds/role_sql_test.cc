#include "creds/role_sql.h"

#include <gtest/gtest.h>

namespace jg::creds {
namespace {

// Marks quoting so tests can see that every value went through the quoter.
class MarkingQuoter final : public Quoter {
 public:
  std::string identifier(std::string_view n) const override { return "I<" + std::string(n) + ">"; }
  std::string literal(std::string_view v) const override { return "L<" + std::string(v) + ">"; }
};

TEST(RoleSql, CreateQuotesEveryValueAndGrantsOnlyTheMappedRole) {
  NewRole r{"jg_abc", "kb_reader", "SCRAM-SHA-256$16:s$k:v", "2030-01-01T00:00:00Z",
            "jitgate:v1:gw1:1893456000"};
  std::string sql = createRoleSql(MarkingQuoter(), r);
  EXPECT_EQ(sql,
            "CREATE ROLE I<jg_abc> WITH LOGIN INHERIT CONNECTION LIMIT 1 VALID UNTIL "
            "L<2030-01-01T00:00:00Z> PASSWORD L<SCRAM-SHA-256$16:s$k:v> IN ROLE I<kb_reader>; "
            "COMMENT ON ROLE I<jg_abc> IS L<jitgate:v1:gw1:1893456000>; "
            "ALTER ROLE I<jg_abc> SET role = L<kb_reader>");
}

TEST(RoleSql, DropBlocksLoginEndsBackendsThenDrops) {
  std::string sql = dropRoleSql(MarkingQuoter(), "jg_abc");
  auto nologin = sql.find("ALTER ROLE I<jg_abc> NOLOGIN");
  auto terminate = sql.find("pg_terminate_backend");
  auto drop = sql.find("DROP ROLE IF EXISTS I<jg_abc>");
  ASSERT_NE(nologin, std::string::npos);
  ASSERT_NE(terminate, std::string::npos);
  ASSERT_NE(drop, std::string::npos);
  EXPECT_LT(nologin, terminate);
  EXPECT_LT(terminate, drop);
  EXPECT_NE(sql.find("usename = L<jg_abc>"), std::string::npos);
}

TEST(RoleMarker, RoundTrips) {
  auto m = parseRoleMarker(roleMarker("gw-1:eu", 1893456000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->instance, "gw-1:eu");
  EXPECT_EQ(m->expires_unix, 1893456000);
}

TEST(RoleMarker, ForeignCommentsAreNotMarkers) {
  EXPECT_FALSE(parseRoleMarker("reporting role for finance"));
  EXPECT_FALSE(parseRoleMarker("jitgate:v1:"));
  EXPECT_FALSE(parseRoleMarker("jitgate:v1:gw:"));
  EXPECT_FALSE(parseRoleMarker("jitgate:v1:gw:12x"));
  EXPECT_FALSE(parseRoleMarker("jitgate:v2:gw:12"));
}

}  // namespace
}  // namespace jg::creds
