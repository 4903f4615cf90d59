#include "sql/where_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jg::sql {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> docs(std::string_view sql,
                              const std::vector<std::optional<std::string>>& params = {}) {
  return keyValues(whereKeyFilters(sql, "doc_id"), params);
}

TEST(WhereKeyFilters, AnEqualityOnTheIdColumnNamesTheDocumentAndItsTable) {
  auto f = whereKeyFilters("select chunk_id, body from chunks where doc_id = 3", "doc_id");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].table.name, "chunks");
  EXPECT_EQ(f[0].table.schema, "");
  EXPECT_THAT(f[0].values, ElementsAre("3"));
}

TEST(WhereKeyFilters, InListsReversedOperandsCastsAndStringsAreRead) {
  EXPECT_THAT(docs("select body from chunks where doc_id in (3, 4)"), ElementsAre("3", "4"));
  EXPECT_THAT(docs("select body from chunks where 5 = doc_id"), ElementsAre("5"));
  EXPECT_THAT(docs("select body from chunks where doc_id = '6'::int"), ElementsAre("6"));
  EXPECT_THAT(docs("select body from chunks where doc_id = 0"), ElementsAre("0"));
}

TEST(WhereKeyFilters, ParametersTakeTheBoundValues) {
  EXPECT_THAT(docs("select body from chunks where doc_id = $1", {std::string("7")}),
              ElementsAre("7"));
  EXPECT_THAT(docs("select body from chunks where doc_id in ($2, $1)",
                   {std::string("8"), std::string("9")}),
              ElementsAre("9", "8"));
  EXPECT_THAT(docs("select body from chunks where doc_id = $1", {std::nullopt}), IsEmpty());
  EXPECT_THAT(docs("select body from chunks where doc_id = $3", {std::string("1")}), IsEmpty());
}

TEST(WhereKeyFilters, QualifiersAndAliasesNameTheRelation) {
  auto f = whereKeyFilters(
      "select c.body from public.chunks c join docs d on d.id = c.chunk_id where c.doc_id = 3 "
      "and d.doc_id = 4",
      "doc_id");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].table.qualified(), "public.chunks");
  EXPECT_EQ(f[1].table.qualified(), "docs");
}

TEST(WhereKeyFilters, AndOrAndSubqueriesAreSearchedButNotNegations) {
  EXPECT_THAT(docs("select 1 from chunks where doc_id = 1 or (doc_id = 2 and body <> '')"),
              ElementsAre("1", "2"));
  EXPECT_THAT(docs("select * from t where x in (select body from chunks where doc_id = 3)"),
              ElementsAre("3"));
  EXPECT_THAT(docs("select 1 from chunks where not doc_id = 1"), IsEmpty());
  EXPECT_THAT(docs("delete from chunks where doc_id = 4"), ElementsAre("4"));
}

TEST(WhereKeyFilters, OtherColumnsOperatorsAndBadSqlNameNothing) {
  EXPECT_THAT(docs("select 1 from chunks where chunk_id = 1"), IsEmpty());
  EXPECT_THAT(docs("select 1 from chunks where doc_id > 1"), IsEmpty());
  EXPECT_THAT(docs("select 1 from chunks where doc_id = other_id"), IsEmpty());
  EXPECT_THAT(docs("select from where"), IsEmpty());
}

}  // namespace
}  // namespace jg::sql
