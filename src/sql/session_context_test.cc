#include "sql/session_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/classifier.h"

namespace jg::sql {
namespace {

using ::testing::ElementsAre;

struct Session {
  SessionContext ctx{{"$user", "public"}};
  Resolved last;
  std::vector<std::shared_ptr<const Classification>> keep;

  // Classifies `sql`, applies every statement and returns the tables of the last one.
  std::vector<TableRef> run(std::string_view sql) {
    auto c = std::make_shared<const Classification>(classifyUncached(sql));
    keep.push_back(c);
    EXPECT_TRUE(c->status.isOk()) << sql;
    for (const auto& st : c->statements) {
      ctx.resolve(st, last);
      ctx.apply(st, c);
    }
    return last.tables;
  }
};

TableRef r(std::string s, std::string n) {
  return TableRef{s, n, false};
}

TEST(SessionContext, UnqualifiedNamesResolveThroughTheDefaultPath) {
  Session s;
  EXPECT_THAT(s.run("SELECT * FROM pgbench_accounts"),
              ElementsAre(r("public", "pgbench_accounts")));
  EXPECT_THAT(s.run("SELECT * FROM crm.customers"), ElementsAre(r("crm", "customers")));
}

TEST(SessionContext, CatalogNamesAlsoResolveToPgCatalog) {
  Session s;
  EXPECT_THAT(s.run("SELECT * FROM pg_authid"),
              ElementsAre(r("pg_catalog", "pg_authid"), r("public", "pg_authid")));
}

TEST(SessionContext, EverySchemaEverOnThePathIsACandidate) {
  Session s;
  s.run("SET search_path = crm, public");
  EXPECT_THAT(s.run("SELECT * FROM customers"),
              ElementsAre(r("public", "customers"), r("crm", "customers")));
  s.run("SET search_path = public");
  EXPECT_THAT(s.run("SELECT * FROM customers"),
              ElementsAre(r("public", "customers"), r("crm", "customers")));
  EXPECT_THAT(s.ctx.searchPath(), ElementsAre("public"));
}

TEST(SessionContext, SetConfigChangesThePathAndUnknownValuesPoisonIt) {
  Session s;
  s.run("SELECT set_config('search_path', 'CRM', false)");
  EXPECT_THAT(s.run("SELECT * FROM x"), ElementsAre(r("public", "x"), r("crm", "x")));
  s.run("SELECT set_config('search_path', $1, false)");
  EXPECT_TRUE(s.ctx.pathUnknown());
  EXPECT_THAT(s.run("SELECT * FROM x"), ElementsAre(r("*", "x")));
}

TEST(SessionContext, UserSchemaCountsOnlyWhenTheUserIsKnown) {
  SessionContext ctx({"$user", "public"}, "kb_reader");
  EXPECT_THAT(ctx.candidateSchemas(), ElementsAre("kb_reader", "public"));
}

TEST(SessionContext, ExecuteUsesTheStatementPreparedEarlier) {
  Session s;
  s.run("PREPARE p AS DELETE FROM customers");
  s.run("SET search_path = crm");  // resolution happened at PREPARE time
  auto tables = s.run("EXECUTE p");
  ASSERT_TRUE(s.last.known);
  EXPECT_EQ(s.last.stmt->explained, Kind::kDelete);
  EXPECT_TRUE(s.last.stmt->kinds.has(Kind::kDelete));
  EXPECT_THAT(tables, ElementsAre(TableRef{"public", "customers", true}));
  s.run("DEALLOCATE p");
  s.run("EXECUTE p");
  EXPECT_FALSE(s.last.known);
}

TEST(SessionContext, MultiStatementSetAppliesToLaterStatements) {
  Session s;
  auto tables = s.run("SET search_path = crm; SELECT * FROM customers");
  EXPECT_THAT(tables, ElementsAre(r("public", "customers"), r("crm", "customers")));
}

}  // namespace
}  // namespace jg::sql
