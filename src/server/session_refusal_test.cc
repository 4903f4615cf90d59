// Every way the gateway refuses a client message (session_gate.cc, refusal.h): the client gets
// the documented SQLSTATE, the upstream never runs the statement, and the session goes on with
// the transaction status PostgreSQL would report.
#include <atomic>

#include "audit/segment.h"
#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

// The session still answers a plain query after a refusal.
asio::awaitable<void> expectUsable(Client& c) {
  auto m = co_await c.query("SELECT 2");
  EXPECT_EQ(kinds(m), "TDCZ");
  EXPECT_EQ(readyStatus(m), 'I');
}

TEST_F(SessionTest, ADeniedQueryIsRefusedWith42501AndNeverReachesTheUpstream) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("DELETE FROM docs");
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("default-deny"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("DELETE FROM docs"));
  EXPECT_TRUE(upstream().ran("JITGATE REFUSED"));
}

TEST_F(SessionTest, ADeniedParseIsRefusedWith42501AndTheNextBatchRuns) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s", "DELETE FROM docs") + B("", "s") + E("") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_EQ(readyStatus(m), 'I');
    auto next = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(next), "12DCZ");
  });
  EXPECT_FALSE(upstream().ran("DELETE FROM docs"));
}

TEST_F(SessionTest, ADeniedStatementInATransactionBlockAbortsItUntilRollback) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("BEGIN");
    auto m = co_await c.query("DELETE FROM docs");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_EQ(readyStatus(m), 'E');
    auto after = co_await c.query("SELECT 1");
    EXPECT_THAT(errorCodes(after), ElementsAre("25P02"));
    EXPECT_EQ(readyStatus(co_await c.query("ROLLBACK")), 'I');
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, ABindOfAnUnknownStatementIsRefusedWith26000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(B("", "nope") + E("") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("26000"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("\"nope\""));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, AnExecuteOfAnUnknownPortalIsRefusedWith34000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(E("nope") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("34000"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, ADescribeOfAnUnknownStatementIsRefusedWith26000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(D('S', "nope") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("26000"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, ADescribeOfAnUnknownPortalIsRefusedWith34000) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(D('P', "nope") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("34000"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, ADescribeOfAStatementPreparedWithSqlIsNotRefused) {
  upstream().on("PREPARE q AS SELECT 1", command("PREPARE"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    EXPECT_EQ(kinds(co_await c.query("PREPARE q AS SELECT 1")), "CZ");
    auto m = co_await c.batch(D('S', "q") + S());
    // The Describe reached the upstream: the answer is the fake's (it keeps no SQL-level
    // statements), not the gateway's refusal naming "q".
    EXPECT_EQ(first(m, 'E').message(), "prepared statement does not exist");
  });
}

TEST_F(SessionTest, ACloseOfAnUnknownNameCompletesAsPostgreSQLWould) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(C('S', "nope") + C('P', "nope") + S());
    EXPECT_EQ(kinds(m), "33Z");
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, AFastPathFunctionCallIsRefusedWith42501) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(F());
    auto m = co_await c.untilReady();
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("fast-path function call"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_EQ(upstream().types().find('F'), std::string::npos);
}

TEST_F(SessionTest, AQueryThatDoesNotParseIsRefusedWith42601AndTheParsersMessage) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELEC 1");
    EXPECT_THAT(errorCodes(m), ElementsAre("42601"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("syntax error"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("SELEC 1"));
}

TEST_F(SessionTest, AParseThatDoesNotParseIsRefusedWith42601) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELEC 1") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42601"));
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("SELEC 1"));
}

TEST_F(SessionTest, AMultiStatementQueryWithOneForbiddenPartIsRefusedWhole) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT 1; DELETE FROM docs");
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("SELECT 1; DELETE FROM docs"));
}

TEST_F(SessionTest, AGuardrailRefusesADoBlockEvenUnderAllowAll) {
  use(SessionHarness::kAllowAll);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("DO $$ BEGIN END $$");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("builtin:do-block"));
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, ACopyFromStdinIsRefusedWhenPolicyDoesNotAllowCopyIn) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("COPY docs FROM STDIN");
    EXPECT_EQ(kinds(m), "EZ");  // no CopyInResponse: nothing to send data into
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("COPY docs FROM STDIN"));
}

TEST_F(SessionTest, ACopyToAServerFileIsRefusedByItsGuardrail) {
  use(SessionHarness::kAllowAll);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("COPY docs TO '/tmp/docs.csv'");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("builtin:copy-file"));
    co_await expectUsable(c);
  });
}

TEST_F(SessionTest, AStatementThatNeedsApprovalCannotBePreparedAsANamedStatement) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s", "SELECT email FROM crm.customers") + S());
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("runs once"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_THAT(h().pendingReviews(), IsEmpty());
}

TEST_F(SessionTest, AFailFastReviewIsRefusedAtOnceWithItsId) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT pay FROM hr.payroll");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("review r-"));
    EXPECT_EQ(readyStatus(m), 'I');
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("SELECT pay FROM hr.payroll"));
  EXPECT_EQ(h().pendingReviews().size(), 1u);
}

TEST_F(SessionTest, ARowLimitedRuleRefusesACursorThatWouldCarryRowsPastIt) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("BEGIN");
    auto m = co_await c.query("DECLARE cur CURSOR FOR SELECT n FROM public.big");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("builtin:row-limit"));
    EXPECT_EQ(readyStatus(m), 'E');
    EXPECT_EQ(readyStatus(co_await c.query("ROLLBACK")), 'I');
  });
}

constexpr char kRefuseThroughExpressions[] = R"(masking:
  key_file: $DIR/mask.key
  columns:
    - { table: crm.notes, column: note, strategy: redact, through_expressions: refuse }
  detectors: [email]
)";

TEST_F(SessionTest, MaskingThatCannotBeAppliedRefusesTheStatementBeforeItRuns) {
  use(kPolicies, kRefuseThroughExpressions);
  upstream().on("SELECT lower(note) FROM crm.notes", rows({"lower"}, {{"secret"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT lower(note) FROM crm.notes");
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("42501"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("crm.notes.note"));
    co_await expectUsable(c);
  });
  EXPECT_FALSE(upstream().ran("SELECT lower(note) FROM crm.notes"));
}

// An audit file system whose writes fail once `fail` is set (a full disk).
class FullDisk final : public audit::Env {
 public:
  std::atomic<bool> fail{false};
  Result<std::unique_ptr<audit::WritableFile>> openAppend(const std::string& path,
                                                          uint64_t preallocate) override {
    auto f = audit::Env::posix().openAppend(path, preallocate);
    if (!f) {
      return f.status();
    }
    return std::unique_ptr<audit::WritableFile>(std::make_unique<File>(std::move(*f), fail));
  }
  Status truncate(const std::string& p, uint64_t n) override {
    return audit::Env::posix().truncate(p, n);
  }
  Status syncDir(const std::string& d) override { return audit::Env::posix().syncDir(d); }

 private:
  class File final : public audit::WritableFile {
   public:
    File(std::unique_ptr<audit::WritableFile> f, std::atomic<bool>& fail)
        : f_(std::move(f)), fail_(fail) {}
    Status append(std::string_view d) override {
      return fail_ ? Status::error(Code::kUnavailable, "write: no space left on device")
                   : f_->append(d);
    }
    Status truncate(uint64_t size) override { return f_->truncate(size); }
    Status sync() override { return f_->sync(); }
    Status close() override { return f_->close(); }

   private:
    std::unique_ptr<audit::WritableFile> f_;
    std::atomic<bool>& fail_;
  };
};

TEST_F(SessionTest, WhileTheAuditLogCannotBeWrittenStatementsAreRefusedWith58030) {
  FullDisk disk;
  h().recordAudit(&disk);
  ASSERT_TRUE(h().configError().empty()) << h().configError();
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    disk.fail = true;
    EXPECT_FALSE(h().recorder()->checkpointNow().isOk());  // the log has failed now
    auto m = co_await c.query("SELECT 1");
    EXPECT_EQ(kinds(m), "EZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("58030"));
    EXPECT_EQ(readyStatus(m), 'I');
    auto again = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S());
    EXPECT_THAT(errorCodes(again), ElementsAre("58030"));
    EXPECT_EQ(readyStatus(again), 'I');
  });
  EXPECT_FALSE(upstream().ran("SELECT 1"));
  EXPECT_EQ(h().unrecorded_refusals, 4);  // the Query; the Parse, Bind and Execute
}

}  // namespace
}  // namespace jg::server::testing
