#include "sql/lineage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/classifier.h"

namespace jg::sql {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Names = std::vector<std::string>;

Statement one(std::string_view sql) {
  Classification c = classifyUncached(sql);
  EXPECT_TRUE(c.status.isOk()) << sql << ": " << c.status.message();
  EXPECT_EQ(c.statements.size(), 1u) << sql;
  return c.statements.empty() ? Statement{} : c.statements[0];
}

// "schema.table.column" (or "table.column" when unqualified), "*" for everything.
Names names(const Lineage& l, const SourceIds& ids) {
  Names out;
  for (uint32_t id : ids) {
    const Source& s = l.sources[id];
    out.push_back(
        s.everything() ? "*" : (s.schema.empty() ? "" : s.schema + ".") + s.table + "." + s.column);
  }
  return out;
}

// The sources of each output column.
std::vector<Names> outputs(std::string_view sql) {
  Statement st = one(sql);
  EXPECT_EQ(st.lineage.kind, Outputs::kKnown) << sql;
  std::vector<Names> out;
  for (const auto& o : st.lineage.outputs) {
    out.push_back(names(st.lineage, o.sources));
  }
  return out;
}

Names first(std::string_view sql) {
  auto o = outputs(sql);
  return o.empty() ? Names{"<no output>"} : o[0];
}

Names callSources(const Statement& st, std::string_view name) {
  for (const Call& c : st.lineage.calls) {
    if (c.name == name) {
      return names(st.lineage, c.sources);
    }
  }
  return {"<no call>"};
}

TEST(Lineage, EveryExpressionFormOverAColumnComesFromThatColumn) {
  for (const char* e :
       {"lower(note)", "note || ''", "coalesce(note, '')", "max(note)", "note::name",
        "CAST(note AS varchar)", "format('%s', note)", "string_agg(note, ',')", "array_agg(note)",
        "substr(note, 2, 1)", "CASE WHEN id > 1 THEN 'x' ELSE note END", "greatest(note, 'a')",
        "nullif(note, '')", "note COLLATE \"C\"", "ARRAY[note]", "ROW(note)", "(note)",
        "lag(note) OVER (ORDER BY id)", "encode(note::bytea, 'hex')"}) {
    Names got = first(std::string("SELECT ") + e + " FROM crm.customers");
    Names want = {"crm.customers.note"};
    if (std::string_view(e).find("id") != std::string_view::npos) {
      want.push_back("crm.customers.id");
    }
    EXPECT_THAT(got, ::testing::UnorderedElementsAreArray(want)) << e;
  }
  EXPECT_THAT(first("SELECT translate(owner, '@', '#') FROM crm.customers"),
              ElementsAre("crm.customers.owner"));
}

TEST(Lineage, PlainColumnReferencesAreMarkedPlainAndExpressionsAreNot) {
  Statement st = one("SELECT note, c.note, lower(note), note::text FROM crm.customers c");
  ASSERT_EQ(st.lineage.outputs.size(), 4u);
  EXPECT_TRUE(st.lineage.outputs[0].plain);
  EXPECT_TRUE(st.lineage.outputs[1].plain);
  EXPECT_FALSE(st.lineage.outputs[2].plain);
  EXPECT_FALSE(st.lineage.outputs[3].plain);
  EXPECT_EQ(st.lineage.outputs[2].name, "lower");
  EXPECT_EQ(st.lineage.outputs[3].name, "note");
}

TEST(Lineage, WholeRowReferencesReachEveryColumnOfTheTable) {
  // A bare name may also be a column of that name: both count.
  for (const char* e : {"to_json(c)", "row_to_json(c)", "c", "c::text", "md5(c::text)",
                        "jsonb_build_object('r', c)", "(c).note"}) {
    EXPECT_THAT(first(std::string("SELECT ") + e + " FROM crm.customers c"),
                UnorderedElementsAre("crm.customers.*", "crm.customers.c"))
        << e;
  }
  EXPECT_THAT(first("SELECT to_json(c.*) FROM crm.customers c"), ElementsAre("crm.customers.*"));
  EXPECT_THAT(first("SELECT row_to_json(customers) FROM crm.customers"),
              UnorderedElementsAre("crm.customers.*", "crm.customers.customers"));
}

TEST(Lineage, SetOperationOutputComesFromTheSamePositionOfEveryBranch) {
  for (const char* op : {"UNION", "UNION ALL", "INTERSECT", "EXCEPT"}) {
    auto o = outputs(std::string("SELECT a, b FROM t ") + op + " SELECT x, lower(y) FROM u");
    ASSERT_EQ(o.size(), 2u) << op;
    EXPECT_THAT(o[0], UnorderedElementsAre("t.a", "u.x")) << op;
    EXPECT_THAT(o[1], UnorderedElementsAre("t.b", "u.y")) << op;
  }
  EXPECT_THAT(first("SELECT 'x' UNION SELECT note FROM t UNION SELECT name FROM u"),
              UnorderedElementsAre("t.note", "u.name"));
  Statement st = one("SELECT note FROM t UNION SELECT note FROM u");
  EXPECT_FALSE(st.lineage.outputs[0].plain);
}

TEST(Lineage, CteAndSubqueryOutputsCarryTheirSources) {
  auto o = outputs(
      "WITH c AS (SELECT lower(note) AS n, id FROM crm.customers) SELECT upper(n), id FROM c");
  EXPECT_THAT(o, ElementsAre(ElementsAre("crm.customers.note"), ElementsAre("crm.customers.id")));
  Statement st = one("SELECT s.x FROM (SELECT note AS x FROM t) s");
  EXPECT_THAT(names(st.lineage, st.lineage.outputs[0].sources), ElementsAre("t.note"));
  EXPECT_TRUE(st.lineage.outputs[0].plain);
  EXPECT_THAT(first("SELECT x FROM (SELECT note FROM t) s(x)"), ElementsAre("t.note"));
  EXPECT_THAT(first("SELECT (SELECT max(note) FROM t)"), ElementsAre("t.note"));
  EXPECT_THAT(first("SELECT ARRAY(SELECT note FROM t)"), ElementsAre("t.note"));
  EXPECT_THAT(first("WITH a AS (SELECT note FROM t), b AS (SELECT note || '' AS n FROM a) "
                    "SELECT n FROM b"),
              ElementsAre("t.note"));
}

TEST(Lineage, ACteNameShadowsATableOnlyInsideItsScope) {
  EXPECT_THAT(first("WITH t AS (SELECT name FROM u) SELECT lower(name) FROM t"),
              ElementsAre("u.name"));
  EXPECT_THAT(first("SELECT lower(note) FROM t"), ElementsAre("t.note"));
}

TEST(Lineage, RecursiveCteReachesWhatEveryRoundAdds) {
  auto o = outputs(
      "WITH RECURSIVE r(n, m) AS (SELECT note, '' FROM t UNION ALL SELECT n || 'x', n FROM r) "
      "SELECT m FROM r");
  EXPECT_THAT(o, ElementsAre(ElementsAre("t.note")));
}

TEST(Lineage, StarInsideASubqueryFeedingAnExpressionCountsEveryColumn) {
  EXPECT_THAT(first("SELECT to_json(s) FROM (SELECT * FROM crm.customers) s"),
              ElementsAre("crm.customers.*"));
  EXPECT_THAT(first("SELECT md5(s::text) FROM (SELECT c.* FROM crm.customers c) s"),
              ElementsAre("crm.customers.*"));
  EXPECT_THAT(first("SELECT lower(note) FROM (SELECT * FROM crm.customers) s"),
              ElementsAre("crm.customers.*"));
  EXPECT_THAT(first("SELECT (SELECT count(*) FROM t) + 1"), IsEmpty());
}

TEST(Lineage, UnqualifiedNamesInAJoinCountForEveryTableInScope) {
  EXPECT_THAT(first("SELECT lower(note) FROM a JOIN b ON a.id = b.id"),
              UnorderedElementsAre("a.note", "b.note"));
  EXPECT_THAT(first("SELECT lower(b.note) FROM a JOIN b ON a.id = b.id"), ElementsAre("b.note"));
  EXPECT_THAT(first("SELECT lower(x.note) FROM a x, crm.b y"), ElementsAre("a.note"));
  EXPECT_THAT(first("SELECT crm.b.note || '' FROM crm.b, a"), ElementsAre("crm.b.note"));
}

TEST(Lineage, AnUnqualifiedNameInASubqueryMayBeAnOuterReference) {
  EXPECT_THAT(first("SELECT (SELECT lower(note) FROM orders LIMIT 1) FROM customers"),
              UnorderedElementsAre("orders.note", "customers.note"));
  // A derived table that certainly has the name ends the search.
  EXPECT_THAT(first("SELECT (SELECT n FROM (SELECT 1 AS n) s) FROM customers"), IsEmpty());
}

TEST(Lineage, ANonLateralSubqueryDoesNotSeeItsSiblings) {
  EXPECT_THAT(outputs("SELECT c.name, o.x FROM customers c, (SELECT lower(note) x FROM orders) o"),
              ElementsAre(ElementsAre("customers.name"), ElementsAre("orders.note")));
  EXPECT_THAT(first("SELECT l.x FROM customers c, LATERAL (SELECT lower(note) x) l"),
              ElementsAre("customers.note"));
  // g may also be a column of customers: both count.
  EXPECT_THAT(first("SELECT g FROM customers c, unnest(string_to_array(c.note, ' ')) g"),
              UnorderedElementsAre("customers.note", "customers.g"));
}

TEST(Lineage, SelectStarIsOnePlainEntryOfUnknownWidth) {
  Statement st = one("SELECT *, lower(note) FROM crm.customers");
  ASSERT_EQ(st.lineage.outputs.size(), 2u);
  EXPECT_TRUE(st.lineage.outputs[0].expands);
  EXPECT_TRUE(st.lineage.outputs[0].plain);
  std::vector<SourceIds> cols;
  std::vector<bool> plain;
  st.lineage.align(4, cols, plain);
  EXPECT_THAT(names(st.lineage, cols[0]), ElementsAre("crm.customers.*"));
  EXPECT_THAT(names(st.lineage, cols[2]), ElementsAre("crm.customers.*"));
  EXPECT_THAT(names(st.lineage, cols[3]), ElementsAre("crm.customers.note"));
  EXPECT_THAT(plain, ElementsAre(true, true, true, false));
}

TEST(Lineage, AlignmentBetweenTwoStarsIsTheirUnion) {
  Statement st = one("SELECT lower(a.x), a.*, b.*, upper(b.y) FROM a, b");
  std::vector<SourceIds> cols;
  std::vector<bool> plain;
  st.lineage.align(6, cols, plain);
  EXPECT_THAT(names(st.lineage, cols[0]), ElementsAre("a.x"));
  EXPECT_THAT(names(st.lineage, cols[2]), UnorderedElementsAre("a.*", "b.*"));
  EXPECT_THAT(names(st.lineage, cols[5]), ElementsAre("b.y"));
  st.lineage.align(1, cols, plain);  // cannot fit: every column gets everything it could be
  EXPECT_THAT(names(st.lineage, cols[0]), UnorderedElementsAre("a.x", "a.*", "b.*", "b.y"));
}

TEST(Lineage, StarOverDerivedTablesExpandsToTheirColumns) {
  auto o = outputs(
      "SELECT * FROM (SELECT 1 AS id, lower(note) AS n FROM t) a "
      "JOIN (SELECT 1 AS id, name FROM u) b USING (id)");
  EXPECT_THAT(o, ElementsAre(IsEmpty(), ElementsAre("t.note"), ElementsAre("u.name")));
  EXPECT_THAT(outputs("SELECT * FROM (VALUES (1, 'a')) v(a, b), (SELECT note FROM t) s"),
              ElementsAre(IsEmpty(), IsEmpty(), ElementsAre("t.note")));
}

TEST(Lineage, NaturalJoinOfATableIsOnePlainEntryOfUnknownWidth) {
  Statement st = one("SELECT * FROM crm.customers NATURAL JOIN (SELECT id, note AS n FROM t) d");
  ASSERT_EQ(st.lineage.outputs.size(), 1u);
  EXPECT_TRUE(st.lineage.outputs[0].expands);
  EXPECT_TRUE(st.lineage.outputs[0].plain);
  EXPECT_THAT(names(st.lineage, st.lineage.outputs[0].sources),
              UnorderedElementsAre("crm.customers.*", "t.id", "t.note"));
  st = one("SELECT * FROM crm.customers NATURAL JOIN (SELECT lower(note) AS n FROM t) d");
  EXPECT_FALSE(st.lineage.outputs[0].plain);
}

TEST(Lineage, TableAliasColumnNamesHideWhichColumnIsMeant) {
  EXPECT_THAT(first("SELECT lower(a) FROM crm.customers AS x(a, b)"),
              ElementsAre("crm.customers.*"));
}

TEST(Lineage, ReturningShowsWhatTheStatementWrote) {
  EXPECT_THAT(first("INSERT INTO t2 SELECT note FROM t RETURNING x"),
              UnorderedElementsAre("t2.x", "t.note"));
  Statement st = one("INSERT INTO t2 (x) SELECT note FROM t RETURNING x");
  EXPECT_FALSE(st.lineage.outputs[0].plain);
  EXPECT_THAT(first("UPDATE t SET a = lower(b) RETURNING a"), UnorderedElementsAre("t.a", "t.b"));
  EXPECT_THAT(first("UPDATE t SET a = u.x FROM u WHERE u.id = t.id RETURNING t.a"),
              UnorderedElementsAre("t.a", "u.x"));
  EXPECT_THAT(first("UPDATE t SET a = u.x FROM u WHERE u.id = t.id RETURNING a"),
              UnorderedElementsAre("t.a", "u.x", "u.a"));
  EXPECT_THAT(first("DELETE FROM t RETURNING lower(note)"), ElementsAre("t.note"));
  EXPECT_TRUE(one("DELETE FROM t RETURNING note").lineage.outputs[0].plain);
  EXPECT_THAT(first("WITH d AS (DELETE FROM t RETURNING note) SELECT upper(note) FROM d"),
              ElementsAre("t.note"));
  EXPECT_EQ(one("UPDATE t SET a = 1").lineage.kind, Outputs::kNone);
}

TEST(Lineage, FunctionsThatRunSqlTextReachEverything) {
  EXPECT_THAT(first("SELECT query_to_xml('select note from t', true, true, '')"), ElementsAre("*"));
}

TEST(Lineage, CallsAndOperatorsRecordWhatTheirArgumentsComeFrom) {
  Statement st =
      one("SELECT lower(note) FROM t WHERE substr(name, 1, 1) = 'a' AND note LIKE 'x%' "
          "AND id IN (SELECT u.cid FROM u)");
  EXPECT_THAT(callSources(st, "lower"), ElementsAre("t.note"));
  EXPECT_THAT(callSources(st, "substr"), ElementsAre("t.name"));
  EXPECT_THAT(callSources(st, "="), UnorderedElementsAre("t.name", "t.id", "u.cid"));
  EXPECT_THAT(callSources(st, "~~"), ElementsAre("t.note"));
  EXPECT_THAT(callSources(st, "count"), ElementsAre("<no call>"));
  EXPECT_THAT(callSources(one("SELECT coalesce(note, '') FROM t"), "coalesce"),
              ElementsAre("t.note"));
}

TEST(Lineage, ReadCoversEveryClause) {
  Statement st =
      one("SELECT 1 FROM t JOIN u ON t.id = u.tid WHERE t.note LIKE 'a%' GROUP BY u.g "
          "HAVING max(t.name) > '' ORDER BY u.o");
  EXPECT_THAT(names(st.lineage, st.lineage.read),
              UnorderedElementsAre("t.id", "u.tid", "t.note", "u.g", "t.name", "u.o"));
}

TEST(Lineage, CopyOutputsAreItsColumnsOrItsQuery) {
  auto o = outputs("COPY crm.customers (id, note) TO STDOUT");
  EXPECT_THAT(o, ElementsAre(ElementsAre("crm.customers.id"), ElementsAre("crm.customers.note")));
  Statement st = one("COPY crm.customers TO STDOUT");
  ASSERT_EQ(st.lineage.outputs.size(), 1u);
  EXPECT_TRUE(st.lineage.outputs[0].expands && st.lineage.outputs[0].plain);
  EXPECT_THAT(first("COPY (SELECT lower(note) FROM t) TO STDOUT"), ElementsAre("t.note"));
  EXPECT_EQ(one("COPY t FROM STDIN").lineage.kind, Outputs::kNone);
}

TEST(Lineage, DeclareAndPrepareCarryTheirQueryFetchAndExecuteAreOpaque) {
  EXPECT_THAT(first("DECLARE c CURSOR FOR SELECT lower(note) FROM t"), ElementsAre("t.note"));
  EXPECT_THAT(first("PREPARE p AS SELECT upper(note) FROM t"), ElementsAre("t.note"));
  EXPECT_EQ(one("FETCH 10 FROM c").lineage.kind, Outputs::kOpaque);
  EXPECT_EQ(one("EXECUTE p").lineage.kind, Outputs::kOpaque);
  EXPECT_EQ(one("SHOW search_path").lineage.kind, Outputs::kNone);
  std::vector<SourceIds> cols;
  std::vector<bool> plain;
  one("FETCH 10 FROM c").lineage.align(2, cols, plain);
  EXPECT_THAT(cols,
              ElementsAre(ElementsAre(Lineage::kEverything), ElementsAre(Lineage::kEverything)));
}

TEST(Lineage, UtilityStatementsReadTheColumnsTheyName) {
  Statement st = one("ALTER TABLE crm.customers ALTER note TYPE int USING note::int");
  EXPECT_THAT(names(st.lineage, st.lineage.read), ElementsAre("crm.customers.note"));
  st = one("CREATE TABLE x AS SELECT note::int FROM t");
  EXPECT_THAT(names(st.lineage, st.lineage.read), ::testing::Contains("t.note"));
  EXPECT_EQ(st.lineage.kind, Outputs::kNone);
}

TEST(Lineage, NestingTooDeepToFollowCountsAsEverything) {
  std::string sql = "SELECT ";
  for (int i = 0; i < 1200; ++i) {
    sql += "lower(";
  }
  sql += "1";
  for (int i = 0; i < 1200; ++i) {
    sql += ")";
  }
  Classification c = classifyUncached(sql);
  if (!c.status.isOk()) {
    GTEST_SKIP() << "the parser refuses this depth: " << c.status.message();
  }
  const Lineage& l = c.statements[0].lineage;
  EXPECT_TRUE(l.truncated);
  EXPECT_THAT(l.outputs[0].sources, ElementsAre(Lineage::kEverything));
}

}  // namespace
}  // namespace jg::sql
