#include "sql/classifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace jg::sql {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

Statement one(std::string_view sql) {
  Classification c = classifyUncached(sql);
  EXPECT_TRUE(c.status.isOk()) << sql << ": " << c.status.message();
  EXPECT_EQ(c.statements.size(), 1u) << sql;
  return c.statements.empty() ? Statement{} : c.statements[0];
}

KindSet kinds(std::initializer_list<Kind> ks) {
  KindSet s;
  for (Kind k : ks) {
    s.add(k);
  }
  return s;
}

TableRef r(std::string schema, std::string name) {
  return TableRef{schema, name, false};
}
TableRef w(std::string schema, std::string name) {
  return TableRef{schema, name, true};
}

TEST(Classifier, SelectReportsTablesColumnsAndNoWrites) {
  Statement s = one("SELECT a.x, \"B\" FROM \"CRM\".\"Customers\" a JOIN Crm.Orders o USING (id)");
  EXPECT_EQ(s.kind, Kind::kSelect);
  EXPECT_EQ(s.kinds, KindSet::of(Kind::kSelect));
  EXPECT_THAT(s.tables, ElementsAre(r("CRM", "Customers"), r("crm", "orders")));
  EXPECT_THAT(s.columns, UnorderedElementsAre("x", "B"));
  EXPECT_FALSE(s.writes);
  EXPECT_FALSE(s.locks);
  EXPECT_NE(s.fingerprint, 0u);
}

TEST(Classifier, StarAndWholeRowReferencesReadEveryColumn) {
  EXPECT_THAT(one("SELECT * FROM t").columns, ElementsAre("*"));
  EXPECT_THAT(one("SELECT c FROM crm.customers c").columns, UnorderedElementsAre("c", "*"));
  EXPECT_THAT(one("SELECT row_to_json(customers) FROM crm.customers").columns,
              UnorderedElementsAre("customers", "*"));
}

TEST(Classifier, RowLockingClausesAddKindLock) {
  for (const char* clause : {"FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE", "FOR KEY SHARE"}) {
    Statement s = one("SELECT 1 FROM t WHERE id = $1 " + std::string(clause));
    EXPECT_TRUE(s.locks) << clause;
    EXPECT_EQ(s.kind, Kind::kSelect);
    EXPECT_EQ(s.kinds, kinds({Kind::kSelect, Kind::kLock})) << clause;
  }
  EXPECT_TRUE(one("SELECT * FROM (SELECT * FROM t FOR SHARE) x").kinds.has(Kind::kLock));
  EXPECT_FALSE(one("EXPLAIN SELECT * FROM t FOR UPDATE").kinds.has(Kind::kLock));
}

TEST(Classifier, InsertUpdateDeleteMergeWriteTheirTarget) {
  Statement i = one("INSERT INTO a.b (x, y) SELECT x, y FROM c");
  EXPECT_EQ(i.kind, Kind::kInsert);
  EXPECT_THAT(i.tables, ElementsAre(w("a", "b"), r("", "c")));
  EXPECT_TRUE(i.kinds.has(Kind::kSelect));
  EXPECT_TRUE(i.writes);
  EXPECT_THAT(i.columns, UnorderedElementsAre("x", "y"));

  Statement u = one("UPDATE t SET a = 1 FROM u WHERE t.id = u.id");
  EXPECT_EQ(u.kind, Kind::kUpdate);
  EXPECT_THAT(u.tables, ElementsAre(w("", "t"), r("", "u")));
  EXPECT_THAT(u.columns, UnorderedElementsAre("a", "id"));

  Statement d = one("DELETE FROM crm.customers WHERE id IN (SELECT id FROM x)");
  EXPECT_EQ(d.kind, Kind::kDelete);
  EXPECT_THAT(d.tables, ElementsAre(w("crm", "customers"), r("", "x")));

  Statement m =
      one("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a "
          "WHEN NOT MATCHED THEN INSERT VALUES (s.id)");
  EXPECT_EQ(m.kind, Kind::kMerge);
  EXPECT_THAT(m.tables, ElementsAre(w("", "t"), r("", "s")));
}

TEST(Classifier, DataModifyingCteWrites) {
  Statement s = one("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
  EXPECT_EQ(s.kind, Kind::kSelect);
  EXPECT_TRUE(s.kinds.has(Kind::kDelete));
  EXPECT_TRUE(s.writes);
  EXPECT_THAT(s.tables, ElementsAre(w("", "t")));  // `d` is the CTE, not a table
}

TEST(Classifier, CteNameShadowsOnlyInsideItsScope) {
  // The CTE body reads the real table of the same name.
  Statement s = one("WITH customers AS (SELECT * FROM customers) SELECT * FROM customers");
  EXPECT_THAT(s.tables, ElementsAre(r("", "customers")));
  // A qualified name is never a CTE.
  Statement q = one("WITH customers AS (SELECT 1) SELECT * FROM crm.customers, customers");
  EXPECT_THAT(q.tables, ElementsAre(r("crm", "customers")));
  // Outside the subquery that defines it, the name is a table again.
  Statement sub = one("SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t");
  EXPECT_THAT(sub.tables, ElementsAre(r("", "t")));
  Statement rec =
      one("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r");
  EXPECT_TRUE(rec.tables.empty());
}

TEST(Classifier, SelectIntoAndCreateTableAsWrite) {
  Statement s = one("SELECT * INTO x FROM y");
  EXPECT_TRUE(s.writes);
  EXPECT_TRUE(s.kinds.has(Kind::kDdl));
  EXPECT_THAT(s.tables, UnorderedElementsAre(w("", "x"), r("", "y")));
  Statement c = one("CREATE TABLE x AS SELECT * FROM y");
  EXPECT_EQ(c.kind, Kind::kDdl);
  EXPECT_THAT(c.tables, UnorderedElementsAre(w("", "x"), r("", "y")));
}

TEST(Classifier, CopyDirectionsAndServerSideTargets) {
  Statement in = one("COPY t FROM STDIN");
  EXPECT_EQ(in.kind, Kind::kCopyIn);
  EXPECT_THAT(in.tables, ElementsAre(w("", "t")));
  EXPECT_FALSE(in.copy_file);
  Statement out = one("COPY t (a, b) TO STDOUT");
  EXPECT_EQ(out.kind, Kind::kCopyOut);
  EXPECT_THAT(out.tables, ElementsAre(r("", "t")));
  EXPECT_THAT(out.columns, ElementsAre("a", "b"));
  EXPECT_TRUE(one("COPY t TO PROGRAM 'curl x'").copy_program);
  EXPECT_TRUE(one("COPY t FROM '/etc/passwd'").copy_file);
  Statement q = one("COPY (SELECT * FROM crm.customers) TO STDOUT");
  EXPECT_THAT(q.tables, ElementsAre(r("crm", "customers")));
}

TEST(Classifier, ExplainWithoutAnalyzeRunsNothing) {
  Statement s = one("EXPLAIN DELETE FROM t");
  EXPECT_EQ(s.kind, Kind::kExplain);
  EXPECT_EQ(s.explained, Kind::kDelete);
  EXPECT_EQ(s.kinds, KindSet::of(Kind::kExplain));
  EXPECT_FALSE(s.writes);
  EXPECT_THAT(s.tables, ElementsAre(r("", "t")));
}

TEST(Classifier, ExplainAnalyzeOfAWriteIsAWrite) {
  for (auto sql : {"EXPLAIN ANALYZE DELETE FROM t", "explain (analyze, format json) delete from t",
                   "EXPLAIN (ANALYZE true) DELETE FROM t"}) {
    Statement s = one(sql);
    EXPECT_TRUE(s.kinds.has(Kind::kDelete)) << sql;
    EXPECT_TRUE(s.writes) << sql;
    EXPECT_THAT(s.tables, ElementsAre(w("", "t"))) << sql;
  }
  EXPECT_FALSE(one("EXPLAIN (ANALYZE false) DELETE FROM t").writes);
  EXPECT_TRUE(one("EXPLAIN ANALYZE EXECUTE p").kinds.has(Kind::kUnknown));
}

TEST(Classifier, SetResetShowAndSearchPath) {
  Statement s = one("SET search_path TO \"CRM\", public");
  EXPECT_EQ(s.kind, Kind::kSet);
  ASSERT_TRUE(s.search_path.has_value());
  EXPECT_THAT(*s.search_path, ElementsAre("CRM", "public"));
  EXPECT_THAT(s.settings, ElementsAre("search_path"));
  EXPECT_TRUE(one("RESET search_path").resets_search_path);
  EXPECT_TRUE(one("SET search_path TO DEFAULT").resets_search_path);
  EXPECT_EQ(one("RESET ALL").kind, Kind::kReset);
  EXPECT_EQ(one("SHOW search_path").kind, Kind::kShow);
  EXPECT_THAT(one("SET ROLE admin").settings, ElementsAre("role"));
  EXPECT_THAT(one("SET SESSION AUTHORIZATION bob").settings, ElementsAre("session_authorization"));
  EXPECT_THAT(one("RESET ROLE").settings, ElementsAre("role"));
}

TEST(Classifier, SetConfigIsTrackedAndFolded) {
  Statement s = one("SELECT set_config('search_path', 'CRM, \"Pub\"', false)");
  EXPECT_TRUE(s.kinds.has(Kind::kSet));
  ASSERT_TRUE(s.search_path.has_value());
  EXPECT_THAT(*s.search_path, ElementsAre("crm", "Pub"));
  Statement dyn = one("SELECT set_config($1, $2, false)");
  EXPECT_THAT(dyn.settings, ElementsAre("*"));
  EXPECT_TRUE(dyn.search_path_unknown);
  EXPECT_THAT(one("SELECT pg_catalog.set_config('role', 'x', false)").settings,
              ElementsAre("role"));
}

TEST(Classifier, FunctionsNestedAnywhereAreReported) {
  Statement s =
      one("SELECT id FROM t WHERE length(coalesce((SELECT pg_catalog.pg_read_file('/etc/passwd')), "
          "'')) > 0");
  // COALESCE is an expression node, not a function call.
  EXPECT_THAT(s.functions, UnorderedElementsAre("length", "pg_catalog.pg_read_file"));
  EXPECT_THAT(one("SELECT * FROM pg_ls_dir('.')").functions, ElementsAre("pg_ls_dir"));
  EXPECT_THAT(one("CALL p(1)").functions, ElementsAre("p"));
}

TEST(Classifier, BuiltinFunctionCallsAddTheirKinds) {
  EXPECT_EQ(one("SELECT nextval('s')").kinds, kinds({Kind::kSelect, Kind::kSequence}));
  EXPECT_TRUE(one("SELECT nextval('s')").writes);
  EXPECT_TRUE(one("SELECT pg_catalog.lo_from_bytea(0, 'x')").kinds.has(Kind::kLargeObject));
  EXPECT_TRUE(one("SELECT lo_get(1)").writes);
  EXPECT_TRUE(one("SELECT 1 WHERE pg_notify('c', 'x') IS NULL").kinds.has(Kind::kNotify));
  EXPECT_TRUE(one("SELECT * FROM t WHERE pg_try_advisory_lock(id)").kinds.has(Kind::kLock));
  EXPECT_TRUE(one("SELECT query_to_xml('select 1', true, false, '')").kinds.has(Kind::kSqlText));
  EXPECT_TRUE(one("SELECT db.pg_catalog.setval('s', 1)").kinds.has(Kind::kSequence));
  EXPECT_TRUE(one("SELECT * FROM pg_ls_dir('.')").kinds.has(Kind::kServerFiles));
  EXPECT_TRUE(one("SELECT pg_switch_wal()").kinds.has(Kind::kServerAdmin));
  EXPECT_TRUE(one("UPDATE t SET a = pg_cancel_backend(1)").kinds.has(Kind::kSignal));
  EXPECT_TRUE(one("EXECUTE p(nextval('s'))").kinds.has(Kind::kSequence));
  EXPECT_TRUE(one("CREATE TABLE x (id int DEFAULT nextval('s'))").kinds.has(Kind::kSequence));
}

TEST(Classifier, FunctionsOutsidePgCatalogAddNoKind) {
  EXPECT_EQ(one("SELECT public.nextval('s')").kinds, KindSet::of(Kind::kSelect));
  EXPECT_EQ(one("SELECT \"NEXTVAL\"('s')").kinds, KindSet::of(Kind::kSelect));
  EXPECT_FALSE(one("SELECT currval('s'), clock_timestamp()").writes);
  // Not run: EXPLAIN without ANALYZE only plans.
  EXPECT_EQ(one("EXPLAIN SELECT nextval('s')").kinds, KindSet::of(Kind::kExplain));
  EXPECT_TRUE(one("EXPLAIN ANALYZE SELECT nextval('s')").kinds.has(Kind::kSequence));
}

TEST(Classifier, FieldSelectionIsReportedAsTheCallPostgresMakesOfIt) {
  // PostgreSQL runs f(x) for (x).f when x has no field f: ('s'::regclass).nextval advances s.
  Statement s = one("SELECT ('s'::regclass).nextval, (t.r).pg_read_file FROM t");
  EXPECT_TRUE(s.kinds.has(Kind::kSequence));
  EXPECT_TRUE(s.kinds.has(Kind::kServerFiles));
  EXPECT_THAT(s.functions, UnorderedElementsAre("nextval", "pg_read_file"));
  EXPECT_THAT(one("SELECT (3::bigint).pg_advisory_lock.x").functions,
              ElementsAre("pg_advisory_lock", "x"));
  EXPECT_TRUE(one("SELECT (1).pg_advisory_lock").kinds.has(Kind::kLock));
  EXPECT_TRUE(one("SELECT t.nextval FROM t").functions.empty());  // a column of t
}

TEST(Classifier, SettingValuesAreTheConstantsPostgresReads) {
  using V = SettingValue;
  EXPECT_THAT(one("SET client_encoding = 'GBK'").setting_values,
              ElementsAre(V{"client_encoding", "GBK"}));
  EXPECT_THAT(one("SET NAMES 'sjis'").setting_values, ElementsAre(V{"client_encoding", "sjis"}));
  EXPECT_THAT(one("SET LOCAL Standard_Conforming_Strings TO off").setting_values,
              ElementsAre(V{"standard_conforming_strings", "off"}));
  EXPECT_THAT(one("SET standard_conforming_strings = 0").setting_values,
              ElementsAre(V{"standard_conforming_strings", "0"}));
  EXPECT_THAT(one("SET standard_conforming_strings = 1.5").setting_values,
              ElementsAre(V{"standard_conforming_strings", "1.5"}));
  EXPECT_THAT(one("SET search_path = a, b").setting_values, ElementsAre(V{"search_path", "a, b"}));
  EXPECT_THAT(one("SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE").setting_values,
              ElementsAre(V{"timezone", std::nullopt}));
  EXPECT_TRUE(one("SET client_encoding TO DEFAULT").setting_values.empty());
  EXPECT_TRUE(one("SET NAMES DEFAULT").setting_values.empty());
  EXPECT_TRUE(one("RESET client_encoding").setting_values.empty());
  EXPECT_THAT(one("SELECT set_config('Client_Encoding', 'GBK', false), set_config('x.y', $1, true)")
                  .setting_values,
              ElementsAre(V{"client_encoding", "GBK"}, V{"x.y", std::nullopt}));
  EXPECT_TRUE(one("SELECT set_config($1, 'off', false)").setting_values.empty());
}

TEST(Classifier, TwoPhaseCommitIsNotTransactionControl) {
  for (const char* sql :
       {"PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'"}) {
    Statement s = one(sql);
    EXPECT_EQ(s.kind, Kind::kTwoPhase) << sql;
    EXPECT_EQ(s.kinds, KindSet::of(Kind::kTwoPhase)) << sql;
  }
  EXPECT_EQ(one("COMMIT").kind, Kind::kTransaction);
}

TEST(Classifier, TransactionPrepareExecuteDeallocate) {
  EXPECT_EQ(one("BEGIN").kind, Kind::kTransaction);
  EXPECT_EQ(one("ROLLBACK TO SAVEPOINT s").kind, Kind::kTransaction);
  Statement p = one("PREPARE p(int) AS DELETE FROM t WHERE a = $1");
  EXPECT_EQ(p.kind, Kind::kPrepare);
  EXPECT_EQ(p.explained, Kind::kDelete);
  EXPECT_TRUE(p.kinds.has(Kind::kDelete));
  EXPECT_EQ(p.prepared_name, "p");
  Statement e = one("EXECUTE p(1)");
  EXPECT_EQ(e.kind, Kind::kExecute);
  EXPECT_TRUE(e.kinds.empty());
  EXPECT_EQ(one("DEALLOCATE p").prepared_name, "p");
  EXPECT_EQ(one("DEALLOCATE ALL").prepared_name, "");
}

TEST(Classifier, DdlDclAndMaintenanceKinds) {
  EXPECT_EQ(one("CREATE TABLE x (a int)").kind, Kind::kDdl);
  Statement drop = one("DROP TABLE a.b, c");
  EXPECT_THAT(drop.tables, ElementsAre(w("a", "b"), w("", "c")));
  EXPECT_THAT(one("DROP SCHEMA crm CASCADE").tables, ElementsAre(w("crm", "*")));
  EXPECT_THAT(one("ALTER TABLE crm.customers ADD COLUMN x int").tables,
              ElementsAre(w("crm", "customers")));
  EXPECT_THAT(one("COMMENT ON TABLE crm.customers IS 'x'").tables,
              ElementsAre(w("crm", "customers")));
  Statement view = one("CREATE VIEW v AS SELECT * FROM crm.customers");
  EXPECT_THAT(view.tables, ElementsAre(w("", "v"), r("crm", "customers")));
  EXPECT_THAT(one("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'").tables,
              ElementsAre(w("*", "*")));
  EXPECT_EQ(one("ALTER SYSTEM SET work_mem = '1MB'").tag, "AlterSystemStmt");
  EXPECT_EQ(one("CREATE EXTENSION dblink").tag, "CreateExtensionStmt");
  EXPECT_EQ(one("GRANT SELECT ON t TO bob").kind, Kind::kDcl);
  EXPECT_THAT(one("GRANT SELECT ON ALL TABLES IN SCHEMA crm TO bob").tables,
              ElementsAre(w("crm", "*")));
  EXPECT_EQ(one("ALTER ROLE bob SUPERUSER").kind, Kind::kDcl);
  EXPECT_EQ(one("TRUNCATE a, b.c").kind, Kind::kTruncate);
  EXPECT_THAT(one("TRUNCATE a, b.c").tables, ElementsAre(w("", "a"), w("b", "c")));
  EXPECT_EQ(one("VACUUM ANALYZE t").kind, Kind::kVacuum);
  EXPECT_EQ(one("ANALYZE t").kind, Kind::kAnalyze);
  EXPECT_EQ(one("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").kind, Kind::kLock);
  EXPECT_TRUE(one("LOCK TABLE t").locks);
  EXPECT_EQ(one("CLUSTER t").kind, Kind::kMaintenance);
}

TEST(Classifier, SessionLevelKinds) {
  EXPECT_EQ(one("DO $$ BEGIN PERFORM 1; END $$").kind, Kind::kDo);
  EXPECT_EQ(one("LISTEN c").kind, Kind::kListen);
  EXPECT_EQ(one("UNLISTEN *").kind, Kind::kListen);
  EXPECT_EQ(one("NOTIFY c, 'x'").kind, Kind::kNotify);
  EXPECT_EQ(one("DECLARE c CURSOR FOR SELECT * FROM t").kind, Kind::kCursor);
  EXPECT_TRUE(one("DECLARE c CURSOR FOR SELECT * FROM t").kinds.has(Kind::kSelect));
  EXPECT_EQ(one("FETCH 10 FROM c").kind, Kind::kCursor);
  EXPECT_EQ(one("DISCARD ALL").kind, Kind::kReset);
  EXPECT_EQ(one("LOAD 'x'").kind, Kind::kOther);
}

TEST(Classifier, MultiStatementStringsClassifyEachStatement) {
  Classification c = classifyUncached("SELECT 1;  DELETE FROM t ; -- trailing\n");
  ASSERT_TRUE(c.status.isOk());
  ASSERT_EQ(c.statements.size(), 2u);
  EXPECT_EQ(c.statements[0].kind, Kind::kSelect);
  EXPECT_EQ(c.statements[0].text, "SELECT 1");
  EXPECT_EQ(c.statements[1].kind, Kind::kDelete);
  EXPECT_EQ(c.statements[1].text, "DELETE FROM t");
}

TEST(Classifier, ParseErrorsCarry42601AndPosition) {
  Classification c = classifyUncached("SELEC 1");
  EXPECT_FALSE(c.status.isOk());
  EXPECT_EQ(c.status.sqlstate(), "42601");
  EXPECT_THAT(c.status.message(), ::testing::HasSubstr("syntax error"));
  EXPECT_EQ(c.error_position, 1);
  EXPECT_FALSE(classifyUncached(std::string("SELECT 1\0; DROP TABLE t", 23)).status.isOk());
}

TEST(Classifier, EmptyQueryHasNoStatements) {
  Classification c = classifyUncached("  -- nothing\n");
  EXPECT_TRUE(c.status.isOk());
  EXPECT_TRUE(c.statements.empty());
}

TEST(ClassifierCache, RepeatedTextIsAHit) {
  Classifier cl(64);
  auto a = cl.classify("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
  auto b = cl.classify("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
  EXPECT_EQ(a.get(), b.get());
  CacheStats s = cl.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(ClassifierCache, BoundedAndCountsEvictionsAndErrors) {
  Classifier cl(16);
  for (int i = 0; i < 200; ++i) {
    (void)cl.classify("SELECT * FROM t" + std::to_string(i));
  }
  (void)cl.classify("SELEC oops");
  CacheStats s = cl.stats();
  EXPECT_LE(s.entries, s.capacity);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.parse_errors, 1u);
  EXPECT_FALSE(cl.classify("SELEC oops")->status.isOk());
}

TEST(ClassifierCache, LiteralVariantsOfPlainDmlShareOneEntry) {
  Classifier cl(64);
  auto a = cl.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 48213");
  auto b = cl.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 7");
  auto c = cl.classify("select abalance from pgbench_accounts where aid = 'x'");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());  // the text outside the literals differs: its own entry
  auto d = cl.classify("UPDATE crm.customers SET name = 'b' WHERE id = 2");
  auto e = cl.classify("UPDATE crm.customers SET name = 'a' WHERE id = 1");
  EXPECT_EQ(d.get(), e.get());
  ASSERT_EQ(e->statements.size(), 1u);
  EXPECT_THAT(e->statements[0].tables, ElementsAre(w("crm", "customers")));
  CacheStats s = cl.stats();
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.normalized_hits, 2u);
  EXPECT_EQ(s.entries, 3u);
}

TEST(ClassifierCache, DifferentNamesNeverShare) {
  Classifier cl(64);
  auto a = cl.classify("SELECT * FROM t1 WHERE id = 1");
  auto b = cl.classify("SELECT * FROM t2 WHERE id = 1");
  auto c = cl.classify("SELECT * FROM \"T1\" WHERE id = 2");
  auto d = cl.classify("SELECT secret FROM t1 WHERE id = 3");
  EXPECT_THAT(a->statements[0].tables, ElementsAre(r("", "t1")));
  EXPECT_THAT(b->statements[0].tables, ElementsAre(r("", "t2")));
  EXPECT_THAT(c->statements[0].tables, ElementsAre(r("", "T1")));
  EXPECT_THAT(d->statements[0].columns, ::testing::Contains("secret"));
  EXPECT_EQ(cl.stats().normalized_hits, 0u);
}

// Statements whose classification reads a literal are cached by their exact text only.
TEST(ClassifierCache, LiteralDependentStatementsAreNotShared) {
  Classifier cl(64);
  auto a = cl.classify("SELECT set_config('application_name', 'x', false)");
  auto b = cl.classify("SELECT set_config('role', 'x', false)");
  EXPECT_THAT(a->statements[0].settings, ElementsAre("application_name"));
  EXPECT_THAT(b->statements[0].settings, ElementsAre("role"));
  auto c = cl.classify("SELECT set_config('search_path', 'crm', false)");
  auto d = cl.classify("SELECT set_config('search_path', 'vault', false)");
  EXPECT_THAT(*c->statements[0].search_path, ElementsAre("crm"));
  EXPECT_THAT(*d->statements[0].search_path, ElementsAre("vault"));
  auto e = cl.classify("SET search_path = crm, 'public'");
  auto f = cl.classify("SET search_path = crm, 'vault'");
  EXPECT_THAT(*f->statements[0].search_path, ElementsAre("crm", "vault"));
  EXPECT_NE(e.get(), f.get());
  auto g = cl.classify("COPY t FROM '/tmp/a'");
  auto h = cl.classify("COPY t FROM PROGRAM 'cat /etc/passwd'");
  EXPECT_TRUE(h->statements[0].copy_program);
  auto i = cl.classify("SELECT 1; SELECT 2");
  auto j = cl.classify("SELECT 1; SELECT 3");
  EXPECT_NE(i.get(), j.get());
  auto k = cl.classify("EXPLAIN (ANALYZE 'false') DELETE FROM t WHERE id = 1");
  auto l = cl.classify("EXPLAIN (ANALYZE 'true') DELETE FROM t WHERE id = 1");
  EXPECT_FALSE(k->statements[0].kinds.has(Kind::kDelete));
  EXPECT_TRUE(l->statements[0].kinds.has(Kind::kDelete));
  EXPECT_EQ(cl.stats().normalized_hits, 0u);
  EXPECT_EQ(cl.classify("SELECT set_config('role', 'x', false)").get(), b.get());  // exact hit
}

TEST(ClassifierCache, TextsWithNulAreNeverCached) {
  Classifier cl(64);
  std::string nul("SELECT 1\0", 9);
  EXPECT_FALSE(cl.classify(nul)->status.isOk());
  EXPECT_FALSE(cl.classify(nul)->status.isOk());
  EXPECT_EQ(cl.stats().entries, 0u);
}

TEST(ClassifierCache, SharedBetweenThreads) {
  Classifier cl(128);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cl] {
      for (int i = 0; i < 300; ++i) {
        auto c = cl.classify("SELECT * FROM t" + std::to_string(i % 50));
        ASSERT_TRUE(c->status.isOk());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(cl.stats().hits + cl.stats().misses, 1200u);
}

}  // namespace
}  // namespace jg::sql
