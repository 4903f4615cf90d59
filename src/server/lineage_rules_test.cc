#include "server/lineage_rules.h"

#include <gtest/gtest.h>

#include "sql/classifier.h"

namespace jg::server {
namespace {

using mask::ColumnRule;
using mask::Strategy;
using mask::ThroughExpressions;

ColumnRule rule(std::string schema, std::string table, std::string column, Strategy s) {
  ColumnRule r;
  r.schema = std::move(schema);
  r.table = std::move(table);
  r.column = std::move(column);
  r.strategy = s;
  r.label = "L";
  return r;
}

class LineageRulesTest : public ::testing::Test {
 protected:
  const sql::Statement& parse(std::string_view sql) {
    owned_.push_back(std::make_shared<sql::Classification>(sql::classifyUncached(sql)));
    EXPECT_TRUE(owned_.back()->status.isOk()) << sql;
    return owned_.back()->statements.at(0);
  }
  // The strictest rule the first output column reaches.
  const ColumnRule* firstOutput(std::string_view sql, const std::vector<ColumnRule>& rules) {
    const sql::Statement& st = parse(sql);
    std::vector<sql::SourceIds> from;
    std::vector<bool> plain;
    st.lineage.align(1, from, plain);
    return reach(rules, st.lineage, from[0], ctx_).strictest;
  }

  sql::SessionContext ctx_{{"crm", "public"}};
  std::vector<std::shared_ptr<sql::Classification>> owned_;
};

TEST_F(LineageRulesTest, UnqualifiedTablesResolveWithTheSessionsSchemaCandidates) {
  std::vector<ColumnRule> rules = {rule("crm", "customers", "note", Strategy::kRedact)};
  EXPECT_EQ(firstOutput("SELECT lower(note) FROM customers", rules), &rules[0]);
  EXPECT_EQ(firstOutput("SELECT lower(note) FROM crm.customers", rules), &rules[0]);
  EXPECT_EQ(firstOutput("SELECT lower(note) FROM sales.customers", rules), nullptr);
  EXPECT_EQ(firstOutput("SELECT lower(name) FROM customers", rules), nullptr);
  sql::SessionContext other{{"sales"}};
  const sql::Statement& st = parse("SELECT lower(note) FROM customers");
  EXPECT_EQ(reach(rules, st.lineage, st.lineage.outputs[0].sources, other).strictest, nullptr);
}

TEST_F(LineageRulesTest, WhereDocumentsAreThoseOfTheDocumentsTableAsPolicyResolvesIt) {
  auto docs = [&](std::string_view sql, std::vector<std::optional<std::string>> params = {}) {
    return whereDocuments(sql, params, "public", "chunks", "doc_id", ctx_);
  };
  EXPECT_EQ(docs("select chunk_id, body from chunks where doc_id = 3"),
            (std::vector<std::string>{"3"}));
  EXPECT_EQ(docs("select body from public.chunks c where c.doc_id in ($1, 4)", {"5"}),
            (std::vector<std::string>{"4", "5"}));
  EXPECT_TRUE(docs("select body from crm.chunks where doc_id = 3").empty());
  EXPECT_TRUE(docs("select body from other where doc_id = 3").empty());
  sql::SessionContext sales{{"sales"}};
  EXPECT_TRUE(whereDocuments("select body from chunks where doc_id = 3", {}, "public", "chunks",
                             "doc_id", sales)
                  .empty());
  EXPECT_TRUE(
      whereDocuments("select body from chunks where doc_id = 3", {}, "", "", "", ctx_).empty());
}

TEST_F(LineageRulesTest, WholeRowsAndUnknownSourcesReachEveryRuleOfTheirTable) {
  std::vector<ColumnRule> rules = {rule("", "customers", "note", Strategy::kRedact)};
  EXPECT_EQ(firstOutput("SELECT to_json(c) FROM crm.customers c", rules), &rules[0]);
  EXPECT_EQ(firstOutput("SELECT query_to_xml('select 1', true, true, '')", rules), &rules[0]);
  EXPECT_EQ(firstOutput("SELECT to_json(o) FROM crm.orders o", rules), nullptr);
}

TEST_F(LineageRulesTest, TheStrictestRuleWinsAndARefusingRuleIsReported) {
  std::vector<ColumnRule> rules = {rule("crm", "customers", "card", Strategy::kPartial),
                                   rule("crm", "customers", "email", Strategy::kTokenize),
                                   rule("crm", "customers", "ssn", Strategy::kNull)};
  EXPECT_EQ(firstOutput("SELECT card || email FROM customers", rules), &rules[1]);
  EXPECT_EQ(firstOutput("SELECT concat(card, ssn, email) FROM customers", rules), &rules[2]);
  rules[0].through_expressions = ThroughExpressions::kRefuse;
  const sql::Statement& st = parse("SELECT card || email FROM customers");
  Reach r = reach(rules, st.lineage, st.lineage.outputs[0].sources, ctx_);
  EXPECT_EQ(r.refusing, &rules[0]);
  EXPECT_EQ(r.strictest, &rules[1]);
}

TEST_F(LineageRulesTest, AFunctionOutsideTheAllowlistIsRefusedAnywhereInTheStatement) {
  std::vector<ColumnRule> rules = {rule("crm", "customers", "note", Strategy::kRedact)};
  rules[0].functions = std::vector<std::string>{"lower", "length", "="};
  EXPECT_TRUE(
      checkStatement(rules, parse("SELECT lower(note), length(note) FROM customers"), ctx_).isOk());
  EXPECT_TRUE(
      checkStatement(rules, parse("SELECT id FROM customers WHERE note = 'x'"), ctx_).isOk());
  EXPECT_TRUE(
      checkStatement(rules, parse("SELECT substr(name, 1, 1) FROM customers"), ctx_).isOk());
  for (const char* sql : {"SELECT substr(note, 1, 1) FROM customers",
                          "SELECT id FROM customers WHERE substr(note, 1, 1) = 'a'",
                          "SELECT id FROM customers ORDER BY md5(note)",
                          "SELECT lower(encode(note::bytea, 'base64')) FROM customers"}) {
    Status s = checkStatement(rules, parse(sql), ctx_);
    ASSERT_FALSE(s.isOk()) << sql;
    EXPECT_EQ(s.sqlstate(), "42501");
    EXPECT_NE(s.message().find("crm.customers.note"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("allows: lower, length, ="), std::string::npos) << s.message();
  }
  Status s = checkStatement(rules, parse("SELECT note || '' FROM customers"), ctx_);
  EXPECT_NE(s.message().find("\"||\""), std::string::npos) << s.message();
}

TEST_F(LineageRulesTest, RefuseModeRefusesComputedOutputsButNotThePlainColumn) {
  std::vector<ColumnRule> rules = {rule("crm", "customers", "note", Strategy::kRedact)};
  rules[0].through_expressions = ThroughExpressions::kRefuse;
  EXPECT_TRUE(checkStatement(rules, parse("SELECT note, id FROM customers"), ctx_).isOk());
  EXPECT_TRUE(checkStatement(rules, parse("SELECT * FROM customers"), ctx_).isOk());
  EXPECT_TRUE(checkStatement(rules, parse("SELECT id FROM customers WHERE lower(note) = 'x'"), ctx_)
                  .isOk());
  Status s = checkStatement(rules, parse("SELECT id, lower(note) FROM customers"), ctx_);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("output column 2 (\"lower\")"), std::string::npos) << s.message();
  EXPECT_FALSE(
      checkStatement(rules, parse("SELECT note FROM customers UNION SELECT 'x'"), ctx_).isOk());
  EXPECT_FALSE(
      checkStatement(rules, parse("COPY (SELECT upper(note) FROM customers) TO STDOUT"), ctx_)
          .isOk());
}

TEST_F(LineageRulesTest, ExecuteAndFetchAreCheckedAsTheStatementTheyRun) {
  std::vector<ColumnRule> rules = {rule("crm", "customers", "note", Strategy::kRedact)};
  rules[0].through_expressions = ThroughExpressions::kRefuse;
  auto prepared = std::make_shared<sql::Classification>(
      sql::classifyUncached("PREPARE p AS SELECT lower(note) FROM customers"));
  ctx_.apply(prepared->statements[0], prepared);
  EXPECT_FALSE(checkStatement(rules, parse("EXECUTE p"), ctx_).isOk());
  std::shared_ptr<const sql::Classification> owner;
  const sql::Statement* rows = rowSource(parse("EXECUTE p"), ctx_, &owner);
  EXPECT_EQ(rows, &prepared->statements[0]);
  EXPECT_EQ(owner, prepared);
  EXPECT_EQ(rowSource(parse("FETCH 1 FROM nowhere"), ctx_), nullptr);
}

TEST_F(LineageRulesTest, StarsExpandIntoTheTablesColumns) {
  const sql::Statement& st = parse("COPY customers TO STDOUT");
  sql::Lineage l = expandStars(st.lineage, {StarColumns{0, "crm", "customers", {"id", "note"}}});
  ASSERT_EQ(l.outputs.size(), 2u);
  std::vector<ColumnRule> rules = {rule("crm", "customers", "note", Strategy::kRedact)};
  EXPECT_EQ(reach(rules, l, l.outputs[0].sources, ctx_).strictest, nullptr);
  EXPECT_EQ(reach(rules, l, l.outputs[1].sources, ctx_).strictest, &rules[0]);
  EXPECT_TRUE(l.outputs[1].plain);
}

}  // namespace
}  // namespace jg::server
