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

TEST(SessionContext, ExecuteResolvesThePreparedStatementAsTheServerAnalysesItAgain) {
  Session s;
  s.run("PREPARE p AS DELETE FROM customers");
  EXPECT_THAT(s.run("EXECUTE p"), ElementsAre(TableRef{"public", "customers", true}));
  s.run("SET search_path = crm");  // PostgreSQL re-analyses p against the new path
  auto tables = s.run("EXECUTE p");
  ASSERT_TRUE(s.last.known);
  EXPECT_EQ(s.last.stmt->explained, Kind::kDelete);
  EXPECT_TRUE(s.last.stmt->kinds.has(Kind::kDelete));
  EXPECT_THAT(tables, ElementsAre(TableRef{"public", "customers", true},
                                  TableRef{"crm", "customers", true}));
  s.run("DEALLOCATE p");
  s.run("EXECUTE p");
  EXPECT_FALSE(s.last.known);
}

TEST(SessionContext, MultiStatementSetAppliesToLaterStatements) {
  Session s;
  auto tables = s.run("SET search_path = crm; SELECT * FROM customers");
  EXPECT_THAT(tables, ElementsAre(r("public", "customers"), r("crm", "customers")));
}

TEST(SessionContext, GenerationChangesOnlyWhenANameMayResolveSomewhereNew) {
  Session s;
  EXPECT_EQ(s.ctx.generation(), 0u);
  s.run("SET search_path = public");
  EXPECT_EQ(s.ctx.generation(), 0u);
  s.run("SET search_path = crm, public");
  uint64_t g = s.ctx.generation();
  EXPECT_GT(g, 0u);
  s.run("RESET search_path");
  EXPECT_EQ(s.ctx.generation(), g);  // crm stays a candidate
  s.run("SELECT set_config('search_path', current_user, false)");
  EXPECT_GT(s.ctx.generation(), g);
}

TEST(SessionContext, FetchIsDecidedAsItsCursorsQueryWhenAsked) {
  Session s;
  s.ctx.setDecideFetch(true);
  s.run("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM crm.customers");
  auto tables = s.run("FETCH 10 FROM c");
  ASSERT_TRUE(s.last.known);
  EXPECT_EQ(s.last.stmt->tag, "DeclareCursorStmt");
  EXPECT_THAT(tables, ElementsAre(r("crm", "customers")));
  s.run("CLOSE c");
  s.run("FETCH 10 FROM c");
  EXPECT_FALSE(s.last.known);
}

TEST(SessionContext, FetchIsHousekeepingUnlessAsked) {
  Session s;
  s.run("DECLARE c CURSOR FOR SELECT * FROM crm.customers");
  EXPECT_TRUE(s.run("FETCH c").empty());
  EXPECT_EQ(s.last.stmt->kind, Kind::kCursor);
}

TEST(SessionContext, PreparedStatementsAndCursorsPastTheLimitAreRefusedNotForgotten) {
  Session s;
  s.ctx.setLimit(2);
  s.run("PREPARE a AS SELECT 1");
  s.run("PREPARE b AS SELECT 2");
  auto third = classifyUncached("PREPARE c AS SELECT 3");
  auto again = classifyUncached("PREPARE a AS SELECT 4");
  EXPECT_TRUE(s.ctx.full(third.statements[0]));
  EXPECT_FALSE(s.ctx.full(again.statements[0]));  // replaces a name it has
  s.run("EXECUTE a");
  EXPECT_TRUE(s.last.known);
  s.run("DEALLOCATE b");
  EXPECT_FALSE(s.ctx.full(third.statements[0]));
}

TEST(SessionContext, StartupPathIsParsedAsPostgresqlParsesIt) {
  EXPECT_THAT(*parseSearchPath("\"$user\", Public, \"CRM\""),
              ElementsAre("$user", "public", "CRM"));
  EXPECT_FALSE(parseSearchPath("public, \"unterminated").has_value());
}

}  // namespace
}  // namespace jg::sql
