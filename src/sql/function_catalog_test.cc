#include "sql/function_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <string>

namespace jg::sql {
namespace {

// The names of tests/policy/pg15_volatile_functions.txt ('#' starts a comment line).
std::set<std::string> pg15Snapshot() {
  std::ifstream in(JG_PG15_VOLATILE_FUNCTIONS);
  EXPECT_TRUE(in) << "cannot read " << JG_PG15_VOLATILE_FUNCTIONS;
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') {
      names.insert(line);
    }
  }
  return names;
}

bool reviewed(std::string_view name) {
  auto r = reviewedFunctions();
  return std::find(r.begin(), r.end(), name) != r.end();
}

TEST(FunctionCatalog, EveryVolatileFunctionOfPostgres15IsClassifiedOrReviewed) {
  std::set<std::string> names = pg15Snapshot();
  ASSERT_GT(names.size(), 200u);
  for (const auto& name : names) {
    EXPECT_TRUE(!builtinFunctionKinds(name).empty() || reviewed(name))
        << name << " is a volatile pg_catalog function of PostgreSQL 15 that is neither in a "
        << "family of function_catalog.cc nor in its reviewed list: classify it";
  }
}

TEST(FunctionCatalog, ReviewedListNamesOnlyUnclassifiedFunctionsOfTheSnapshot) {
  std::set<std::string> names = pg15Snapshot();
  for (std::string_view name : reviewedFunctions()) {
    EXPECT_TRUE(names.contains(std::string(name))) << name << " is not in the pg_proc snapshot";
    EXPECT_TRUE(builtinFunctionKinds(name).empty()) << name << " is classified and reviewed";
  }
}

TEST(FunctionCatalog, CatalogueNamesAreFoldedAsUnquotedIdentifiers) {
  for (const FunctionFamily& f : functionFamilies()) {
    for (std::string_view name : f.functions) {
      EXPECT_TRUE(std::none_of(name.begin(), name.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c));
      })) << name;
    }
  }
}

TEST(FunctionCatalog, EachFamilyAddsItsKind) {
  struct Case {
    std::string_view name;
    KindSet kinds;
  };
  const Case cases[] = {
      {"query_to_xml", KindSet::of(Kind::kSqlText)},
      {"table_to_xmlschema", KindSet::of(Kind::kSqlText)},
      {"ts_stat", KindSet::of(Kind::kSqlText)},
      {"nextval", KindSet::of(Kind::kSequence)},
      {"setval", KindSet::of(Kind::kSequence)},
      {"lo_from_bytea", KindSet::of(Kind::kLargeObject)},
      {"lowrite", KindSet::of(Kind::kLargeObject)},
      {"pg_notify", KindSet::of(Kind::kNotify)},
      {"pg_try_advisory_xact_lock_shared", KindSet::of(Kind::kLock)},
      {"set_config", KindSet::of(Kind::kSet)},
      {"pg_terminate_backend", KindSet::of(Kind::kSignal)},
      {"pg_ls_waldir", KindSet::of(Kind::kServerFiles)},
      {"pg_stat_reset", KindSet::of(Kind::kServerAdmin)},
      {"brin_summarize_range", KindSet::of(Kind::kMaintenance)},
      {"clock_timestamp", KindSet()},
      {"currval", KindSet()},
      {"lower", KindSet()},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(builtinFunctionKinds(c.name), c.kinds) << c.name;
  }
}

TEST(FunctionCatalog, FunctionInTwoFamiliesAddsBothKinds) {
  KindSet k = builtinFunctionKinds("lo_import");
  EXPECT_TRUE(k.has(Kind::kLargeObject));
  EXPECT_TRUE(k.has(Kind::kServerFiles));
  KindSet decode = builtinFunctionKinds("pg_logical_slot_get_changes");
  EXPECT_TRUE(decode.has(Kind::kSqlText));
  EXPECT_TRUE(decode.has(Kind::kServerAdmin));
}

TEST(FunctionCatalog, OnlyUnqualifiedOrPgCatalogCallsAreBuiltin) {
  EXPECT_EQ(builtinCallKinds("", "nextval"), KindSet::of(Kind::kSequence));
  EXPECT_EQ(builtinCallKinds("pg_catalog", "nextval"), KindSet::of(Kind::kSequence));
  EXPECT_TRUE(builtinCallKinds("public", "nextval").empty());
  EXPECT_TRUE(builtinCallKinds("PG_CATALOG", "nextval").empty());  // a quoted, other schema
  EXPECT_TRUE(builtinCallKinds("", "NEXTVAL").empty());            // a quoted, other function
}

}  // namespace
}  // namespace jg::sql
