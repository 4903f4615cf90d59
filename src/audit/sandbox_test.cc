#include "audit/sandbox.h"

#include <gtest/gtest.h>

#include <sstream>

#include "audit/recorder.h"
#include "audit/test_util.h"

namespace jg::audit {
namespace {

// Answers each statement text with a canned run, and remembers what it was asked.
class FakeExecutor final : public SandboxExecutor {
 public:
  std::map<std::string, SandboxRun> answers;
  std::vector<SandboxQuery> seen;
  bool began = false;
  bool rolled_back = false;
  bool fail_connection = false;

  Status begin() override {
    began = true;
    return Status::ok();
  }
  Result<SandboxRun> run(const SandboxQuery& q) override {
    EXPECT_TRUE(began) << "statements must run inside the read-only transaction";
    seen.push_back(q);
    if (fail_connection) {
      return Status::error(Code::kUnavailable, "sandbox connection failed");
    }
    auto it = answers.find(q.sql);
    if (it == answers.end()) {
      SandboxRun r;
      r.ok = false;
      r.sqlstate = "42P01";
      r.message = "relation does not exist";
      return r;
    }
    return it->second;
  }
  Status rollback() override {
    rolled_back = true;
    return Status::ok();
  }
};

SandboxRun rowsRun(std::vector<Row> rows) {
  SandboxRun r;
  r.rows = std::move(rows);
  r.command_tag = "SELECT " + std::to_string(r.rows.size());
  return r;
}

// Writes sessions through a real Recorder so sealing and decoding are exercised.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Settings s = dir_.settings();
    s.durability = Durability::kOff;
    auto rec = Recorder::open(s);
    ASSERT_TRUE(rec.isOk()) << rec.status().message();
    rec_ = std::move(*rec);
    auto key = AeadKey::loadFile(dir_.path("keys/raw.key"));
    ASSERT_TRUE(key.isOk());
    opener_.addKey(std::move(*key));
  }

  void add(EventBody body) { ASSERT_TRUE(rec_->append(Event{"s1", {}, std::move(body)}).isOk()); }

  uint64_t statement(std::string text, std::string kind, std::string protocol = "simple",
                     std::vector<std::optional<std::string>> params = {},
                     std::string decision = "allow", std::string name = "") {
    StatementEvent e;
    e.statement_id = ++next_id_;
    e.text = std::move(text);
    e.kind = std::move(kind);
    e.decision = std::move(decision);
    e.protocol = std::move(protocol);
    e.prepared_name = std::move(name);
    if (!params.empty()) {
      e.setParams(params);
    }
    add(e);
    return e.statement_id;
  }

  // A result: `sent` rows as the client saw them, `raw` the rows before masking (empty: none
  // were masked).
  void result(uint64_t id, std::vector<Row> sent, std::vector<Row> raw = {},
              std::vector<int16_t> formats = {0}) {
    ResultStartEvent start{id, {}};
    for (auto f : formats) {
      start.columns.push_back(Column{"c", 25, "", f});
    }
    add(start);
    ResultRowsEvent rows;
    rows.statement_id = id;
    rows.rows = sent;
    if (!raw.empty()) {
      rows.setRawRows(raw);
    }
    add(rows);
    ResultEndEvent end;
    end.statement_id = id;
    end.command_tag = "SELECT " + std::to_string(sent.size());
    end.rows = sent.size();
    if (!raw.empty()) {
      end.masked_cells["email"] = 1;
    }
    add(end);
  }

  Result<SandboxReport> replay(bool with_key) {
    add(SessionEndEvent{"client-closed", next_id_, 0});
    EXPECT_TRUE(rec_->close().isOk());
    return sandboxReplay(dir_.auditDir(), "s1", std::nullopt, exec_, with_key ? &opener_ : nullptr);
  }

  testing::TempAuditDir dir_;
  std::unique_ptr<Recorder> rec_;
  RawOpener opener_;
  FakeExecutor exec_;
  uint64_t next_id_ = 0;
};

TEST_F(SandboxTest, MatchingRowsRunInsideOneRolledBackTransaction) {
  auto id = statement("select 1", "select");
  result(id, {{"1"}});
  exec_.answers["select 1"] = rowsRun({{"1"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  ASSERT_EQ(r->statements.size(), 1u);
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
  EXPECT_EQ(r->statements[0].basis, "raw");  // nothing was masked
  EXPECT_EQ(r->statements[0].recorded_digest, r->statements[0].sandbox_digest);
  EXPECT_TRUE(exec_.began);
  EXPECT_TRUE(exec_.rolled_back);
  EXPECT_EQ(r->exitCode(), 0);
}

TEST_F(SandboxTest, ParseTreeNodeKindsAreUnderstood) {
  auto id = statement("select 1", "SelectStmt");
  result(id, {{"1"}});
  statement("insert into t values (1)", "InsertStmt");
  exec_.answers["select 1"] = rowsRun({{"1"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
  EXPECT_EQ(r->statements[1].outcome, SandboxOutcome::kSkipped);
  EXPECT_EQ(exec_.seen.size(), 1u);
}

TEST_F(SandboxTest, WritesAndRefusedStatementsAreSkippedNotRun) {
  statement("insert into t values (1)", "insert");
  statement("select * from secret", "select", "simple", {}, "deny");
  statement("select 1; select 2", "select,select");
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->statements.size(), 3u);
  for (const auto& s : r->statements) {
    EXPECT_EQ(s.outcome, SandboxOutcome::kSkipped) << s.text;
  }
  EXPECT_EQ(r->statements[0].reason, "not read-only (insert)");
  EXPECT_EQ(r->statements[1].reason, "not run: decision deny");
  EXPECT_TRUE(exec_.seen.empty());
  EXPECT_EQ(r->exitCode(), 0);
}

TEST_F(SandboxTest, SealedParametersNeedTheKey) {
  auto id = statement("select $1::int", "select", "simple", {std::string("42")});
  result(id, {{"42"}});
  exec_.answers["select $1::int"] = rowsRun({{"42"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kSkipped);
  EXPECT_EQ(r->statements[0].reason, "parameters sealed, pass --key-file");
  EXPECT_TRUE(exec_.seen.empty());
}

TEST_F(SandboxTest, BindInheritsKindFromItsParseAndRunsWithOpenedParameters) {
  statement("select name from t where id = $1", "select", "extended", {}, "allow", "p1");
  auto id = statement("select name from t where id = $1", "", "bind",
                      {std::string("7"), std::nullopt}, "allow", "p1");
  result(id, {{"seven"}});
  exec_.answers["select name from t where id = $1"] = rowsRun({{"seven"}});
  auto r = replay(true);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->statements.size(), 1u);  // the Parse itself is not a run
  EXPECT_EQ(r->statements[0].kind, "select");
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
  ASSERT_EQ(exec_.seen.size(), 1u);
  ASSERT_EQ(exec_.seen[0].params.size(), 2u);
  EXPECT_EQ(exec_.seen[0].params[0], std::optional<std::string>("7"));
  EXPECT_EQ(exec_.seen[0].params[1], std::nullopt);
}

TEST_F(SandboxTest, MaskedResultsCompareWithRawRowsOnlyWithTheKey) {
  auto id = statement("select email from customers", "select");
  result(id, {{"a***@example.com"}}, {{"ada@example.com"}});
  exec_.answers["select email from customers"] = rowsRun({{"ada@example.com"}});
  auto with_key = replay(true);
  ASSERT_TRUE(with_key.isOk());
  EXPECT_EQ(with_key->statements[0].outcome, SandboxOutcome::kMatch);
  EXPECT_EQ(with_key->statements[0].basis, "raw");

  auto without = sandboxReplay(dir_.auditDir(), "s1", std::nullopt, exec_, nullptr);
  ASSERT_TRUE(without.isOk());
  EXPECT_EQ(without->statements[0].outcome, SandboxOutcome::kDiffers);
  EXPECT_EQ(without->statements[0].basis, "masked");
  EXPECT_EQ(without->statements[0].first_difference, 0);
  EXPECT_EQ(without->exitCode(), 1);
}

TEST_F(SandboxTest, DifferentRowsAreReportedWithTheFirstDifference) {
  auto id = statement("select x from t", "select");
  result(id, {{"1"}, {"2"}, {"3"}});
  exec_.answers["select x from t"] = rowsRun({{"1"}, {"2"}, {std::nullopt}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  const auto& s = r->statements[0];
  EXPECT_EQ(s.outcome, SandboxOutcome::kDiffers);
  EXPECT_EQ(s.first_difference, 2);
  EXPECT_EQ(s.recorded_rows, 3u);
  EXPECT_NE(s.recorded_digest, s.sandbox_digest);
  EXPECT_EQ(r->exitCode(), 1);
}

TEST_F(SandboxTest, SameRowsInAnotherOrderMatch) {
  auto id = statement("select x from t", "select");
  result(id, {{"1"}, {"2"}});
  exec_.answers["select x from t"] = rowsRun({{"2"}, {"1"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
  EXPECT_TRUE(r->statements[0].order_differs);
}

TEST_F(SandboxTest, NullAndEmptyStringHashDifferently) {
  EXPECT_NE(rowHash({std::nullopt}), rowHash({std::string()}));
  EXPECT_NE(rowHash({std::string("ab"), std::string("c")}),
            rowHash({std::string("a"), std::string("bc")}));
}

TEST_F(SandboxTest, RecordedErrorMatchesTheSameSqlstate) {
  auto id = statement("select * from gone", "select");
  add(ErrorEvent{id, "upstream", "ERROR", "42P01", "relation \"gone\" does not exist"});
  auto r = replay(false);  // the fake answers unknown statements with 42P01
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
}

TEST_F(SandboxTest, SandboxFailureIsAnErrorAndExitsTwo) {
  auto id = statement("select * from only_in_production", "select");
  result(id, {{"1"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kError);
  EXPECT_NE(r->statements[0].reason.find("42P01"), std::string::npos);
  EXPECT_EQ(r->exitCode(), 2);
}

TEST_F(SandboxTest, LostSandboxFailsTheReplay) {
  auto id = statement("select 1", "select");
  result(id, {{"1"}});
  exec_.fail_connection = true;
  auto r = replay(false);
  EXPECT_FALSE(r.isOk());
  EXPECT_TRUE(exec_.rolled_back);
}

TEST_F(SandboxTest, IncompleteOrUnreplayableRecordingsAreSkipped) {
  auto cut = statement("select 1", "select");
  add(ResultStartEvent{cut, {Column{"c", 25, "", 0}}});  // the session ended mid-result
  auto mixed = statement("select 2", "select");
  result(mixed, {{"2", "x"}}, {}, {0, 1});
  auto binary = statement("select $1", "select", "simple", {std::string("\x00\x01", 2)});
  result(binary, {{"1"}});
  auto r = replay(true);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].reason, "no complete result in the recording");
  EXPECT_EQ(r->statements[1].reason, "mixed text and binary result columns");
  EXPECT_EQ(r->statements[2].reason, "binary-format parameter values cannot be re-run");
  EXPECT_TRUE(exec_.seen.empty());
}

TEST_F(SandboxTest, BinaryResultsAreRequestedInBinary) {
  auto id = statement("select 1::int4", "select");
  result(id, {{std::string("\x00\x00\x00\x01", 4)}}, {}, {1});
  exec_.answers["select 1::int4"] = rowsRun({{std::string("\x00\x00\x00\x01", 4)}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->statements[0].outcome, SandboxOutcome::kMatch);
  ASSERT_EQ(exec_.seen.size(), 1u);
  EXPECT_TRUE(exec_.seen[0].binary_results);
}

TEST_F(SandboxTest, RendersTextAndJson) {
  auto id = statement("select 1", "select");
  result(id, {{"1"}});
  statement("delete from t", "delete");
  exec_.answers["select 1"] = rowsRun({{"1"}});
  auto r = replay(false);
  ASSERT_TRUE(r.isOk());
  std::ostringstream text;
  renderSandboxText(*r, text);
  EXPECT_NE(text.str().find("[1] match"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("compared with raw rows"), std::string::npos);
  EXPECT_NE(text.str().find("1 match, 0 differ, 0 error(s), 1 skipped"), std::string::npos);
  auto j = sandboxJson(*r);
  EXPECT_EQ(j.at("ok").as_bool(), true);
  EXPECT_EQ(j.at("statements").as_array().size(), 2u);
  EXPECT_EQ(j.at("statements").as_array()[0].at("compared_with").as_string(), "raw");
}

TEST_F(SandboxTest, UnknownSessionIsNotFound) {
  ASSERT_TRUE(rec_->close().isOk());
  auto r = sandboxReplay(dir_.auditDir(), "nope", std::nullopt, exec_, nullptr);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace jg::audit
