#include "sql/literal_key.h"

#include <gtest/gtest.h>
#include <pg_query.h>

#include <map>
#include <random>

namespace jg::sql {
namespace {

// The parser's view of a text with its constants replaced: the oracle literalKey must agree with.
std::string parserNormalized(const std::string& sql) {
  PgQueryNormalizeResult r = pg_query_normalize(sql.c_str());
  std::string out = r.error != nullptr ? "<error>" : r.normalized_query;
  pg_query_free_normalize_result(r);
  return out;
}

TEST(LiteralKey, ReplacesNumbersAndStringsKeepsTheRest) {
  EXPECT_EQ(literalKey("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"),
            "SELECT abalance FROM pgbench_accounts WHERE aid = \x01;");
  EXPECT_EQ(literalKey("select * from t1 where x>=-1.5e3 and y = 'it''s' and z=0.5"),
            "select * from t1 where x>=-\x02 and y = \x03 and z=\x02");
  EXPECT_EQ(literalKey("SELECT \"Col 7\" FROM \"T2\" WHERE a IN (1,2,3)"),
            "SELECT \"Col 7\" FROM \"T2\" WHERE a IN (\x01,\x01,\x01)");
  EXPECT_EQ(literalKey("select 'café' || x from t where d > date '2024-01-01'"),
            "select \x03 || x from t where d > date \x03");
  EXPECT_EQ(literalKey("select 'a'\n'b'"), "select \x03\n\x03");  // one constant to PostgreSQL
}

TEST(LiteralKey, IntegerAndDecimalConstantsHaveDifferentMarkers) {
  EXPECT_NE(literalKey("select 1 from t"), literalKey("select 1.0 from t"));
  EXPECT_NE(literalKey("select 1 from t"), literalKey("select '1' from t"));
  EXPECT_EQ(literalKey("select 123456789"), "select \x01");
}

TEST(LiteralKey, LeavesToTheParserWhatItDoesNotModel) {
  for (const char* sql : {
           "select 1 -- comment", "select /* c */ 1",     "select $1 + 1",
           "select $$x$$",        "select E'a\\nb'",      "select 'a\\'b'",
           "select B'101'",       "select X'ff'",         "select N'x'",
           "select U&'d\\0061t'", "select 1abc",          "select 1.",
           "select 1..2",         "select 1.5.3",         "select 1e",
           "select 1e+",          "select 1_000",         "select 0x1F",
           "select 1234567890",   "select 'unterminated", "select \"unterminated",
           "select t.5",          "select 1'a'",          "sélect 1",
           "select 1 \x01",       "select {1}",
       }) {
    EXPECT_EQ(literalKey(sql), std::nullopt) << sql;
  }
}

TEST(LiteralKey, TextsWithoutConstantsHaveNoKey) {
  EXPECT_EQ(literalKey("select * from t1 where a = b"), std::nullopt);
  EXPECT_EQ(literalKey("select \"1\" from t"), std::nullopt);
}

// Texts with the same key must be the same statement to the PostgreSQL parser, constants aside:
// random texts over an alphabet that stresses every boundary the scanner decides, grouped by key,
// must each group normalize (by the parser) to one text, or all fail to parse.
TEST(LiteralKey, SameKeyMeansSameStatementToTheParser) {
  const std::vector<std::string> pieces = {
      "1",      "9",         "0",          "12",  "1.5",     ".5",    "1e5",  "1E-3",
      "2.5e+2", "123456789", "1234567890", "'a'", "'it''s'", "''",    "'1'",  "'x y'",
      "'é'",    "\"c\"",     "\"1\"",      "a",   "x1",      "_t",    "e",    "E",
      " ",      "  ",        "\n",         ",",   "(",       ")",     "=",    "-",
      "+",      "*",         ".",          "::",  "and",     "or",    "in",   "&",
      "|",      "<",         ">",          "/",   "[",       "]",     "%",    "'",
      "\"",     "$1",        "--",         "/*",  "!",       "::int", "date", "interval"};
  std::mt19937 rng(20261129);
  std::map<std::string, std::pair<std::string, std::string>> seen;  // key → (text, oracle)
  size_t checked = 0, grouped = 0;
  for (int n = 0; n < 60000; ++n) {
    std::string body;
    int len = 1 + static_cast<int>(rng() % 7);
    for (int k = 0; k < len; ++k) {
      body += pieces[rng() % pieces.size()];
    }
    for (const std::string& sql : {"select " + body, "select * from t where a = " + body}) {
      std::optional<std::string> key = literalKey(sql);
      if (!key) {
        continue;
      }
      ++checked;
      std::string oracle = parserNormalized(sql);
      auto [it, fresh] = seen.emplace(*key, std::make_pair(sql, oracle));
      if (!fresh) {
        ++grouped;
        ASSERT_EQ(it->second.second, oracle)
            << "same key, different statements:\n  " << it->second.first << "\n  " << sql;
      }
    }
  }
  EXPECT_GT(checked, 20000u);
  EXPECT_GT(grouped, 5000u);
}

}  // namespace
}  // namespace jg::sql
