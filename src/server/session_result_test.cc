// What comes back from the upstream: errors and FATALs in the middle of a result, a connection
// that ends mid-result, settings the gateway pins, masking (and its failure mid-result, which
// withholds the rest), and COPY TO STDOUT.
#include "proto/pg/encode.h"
#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

Canned failingAfter(int n, std::string sqlstate, std::string message) {
  Canned c = rows({"x"}, {{"1"}, {"2"}, {"3"}});
  c.error_after = n;
  c.error_sqlstate = std::move(sqlstate);
  c.error_message = std::move(message);
  return c;
}

TEST_F(SessionTest, AnUpstreamErrorMidResultReachesTheClientAfterItsRows) {
  upstream().on("SELECT x FROM docs", failingAfter(2, "22012", "division by zero"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT x FROM docs");
    EXPECT_EQ(kinds(m), "TDDEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("22012"));
    EXPECT_EQ(first(m, 'E').message(), "division by zero");
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
}

TEST_F(SessionTest, AnUpstreamErrorMidResultInABatchSkipsTheRestUpToSync) {
  upstream().on("SELECT x FROM docs", failingAfter(1, "22012", "division by zero"));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT x FROM docs") + B("", "") + E("") + P("", "SELECT 1") +
                              B("", "") + E("") + S());
    EXPECT_EQ(kinds(m), "12DEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("22012"));
    auto next = co_await c.batch(P("", "SELECT 1") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(next), "12DCZ");
  });
}

TEST_F(SessionTest, TheUpstreamClosingMidResultEndsTheSessionWith08006) {
  Canned cut = rows({"x"}, {{"1"}, {"2"}});
  cut.close_after_rows = true;
  upstream().on("SELECT x FROM docs", cut);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT x FROM docs"));
    auto m = co_await c.untilClosed();
    EXPECT_EQ(kinds(m), "TDDE");
    EXPECT_TRUE(endedWith(m, "08006"));
    EXPECT_THAT(m.back().message(), HasSubstr("server closed the connection"));
  });
  EXPECT_TRUE(h().sessionEnded());
}

TEST_F(SessionTest, AFatalFromTheUpstreamReachesTheClientOnceAndEndsTheSession) {
  Canned fatal = failingAfter(1, "57P01", "terminating connection due to administrator command");
  fatal.fatal = true;
  upstream().on("SELECT x FROM docs", fatal);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT x FROM docs"));
    auto m = co_await c.untilClosed();
    EXPECT_EQ(kinds(m), "TDE");
    EXPECT_TRUE(endedWith(m, "57P01"));
  });
}

TEST_F(SessionTest, AClientEncodingChangedWhereTheGatewayCannotSeeItEndsTheSession) {
  Canned sneaky = rows({"x"}, {{"1"}});
  pg::encodeParameterStatus(sneaky.before, "client_encoding", "SQL_ASCII");
  upstream().on("SELECT x FROM docs", sneaky);
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.send(Q("SELECT x FROM docs"));
    auto m = co_await c.untilClosed();
    EXPECT_TRUE(endedWith(m, "0A000"));
    EXPECT_THAT(m.back().message(), HasSubstr("client_encoding"));
  });
  EXPECT_TRUE(upstream().closed());
}

// -- masking --------------------------------------------------------------------------------

constexpr char kDetectors[] = R"(masking:
  key_file: $DIR/mask.key
  strategy: redact
  detectors: [email]
)";

// A row whose email cannot be rewritten (the value is not valid UTF-8) between two clean ones.
Canned unmaskableSecondRow() {
  return rows({"contact"}, {{"ada@example.com"}, {"bob@example.com \xff"}, {"plain"}});
}

TEST_F(SessionTest, DetectedValuesAreMaskedAndCleanRowsPassUnchanged) {
  use(kPolicies, kDetectors);
  upstream().on("SELECT contact FROM docs", rows({"contact"}, {{"ada@example.com"}, {"plain"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT contact FROM docs");
    EXPECT_EQ(kinds(m), "TDDCZ");
    Row masked = rowAt(m, 1);
    EXPECT_THAT(masked.empty() ? "" : masked[0].value_or(""), Not(HasSubstr("ada@example.com")));
    EXPECT_EQ(rowAt(m, 2), Row{"plain"});
  });
}

TEST_F(SessionTest, AMaskingFailureMidResultWithholdsTheRestAndTheSessionGoesOn) {
  use(kPolicies, kDetectors);
  upstream().on("SELECT contact FROM docs", unmaskableSecondRow());
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("SELECT contact FROM docs");
    EXPECT_EQ(kinds(m), "TDEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("22000"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("masking failed"));
    EXPECT_THAT(first(m, 'E').message(), HasSubstr("withheld"));
    EXPECT_THAT(first(m, 'E').message(), Not(HasSubstr("bob@example.com")));
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
}

TEST_F(SessionTest, AMaskingFailureInATransactionBlockRefusesLaterStatementsWith25P02) {
  use(kPolicies, kDetectors);
  upstream().on("SELECT contact FROM docs", unmaskableSecondRow());
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    co_await c.query("BEGIN");
    auto m = co_await c.query("SELECT contact FROM docs");
    EXPECT_THAT(errorCodes(m), ElementsAre("22000"));
    EXPECT_EQ(readyStatus(m), 'E');
    auto after = co_await c.query("SELECT 1");
    EXPECT_THAT(errorCodes(after), ElementsAre("25P02"));
    EXPECT_EQ(readyStatus(after), 'E');
    EXPECT_EQ(readyStatus(co_await c.query("ROLLBACK")), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
}

TEST_F(SessionTest, AMaskingFailureInABatchWithholdsTheRestOfTheBatch) {
  use(kPolicies, kDetectors);
  upstream().on("SELECT contact FROM docs", unmaskableSecondRow());
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("", "SELECT contact FROM docs") + B("", "") + D('P', "") + E("") +
                              P("", "SELECT 1") + B("", "") + E("") + S());
    EXPECT_EQ(kinds(m), "12TDEZ");
    EXPECT_THAT(errorCodes(m), ElementsAre("22000"));
    auto next = co_await c.query("SELECT 1");
    EXPECT_EQ(kinds(next), "TDCZ");
  });
}

// -- COPY TO STDOUT -------------------------------------------------------------------------

Canned copyOf(std::vector<std::string> lines) {
  Canned c;
  c.copy_lines = std::move(lines);
  return c;
}

TEST_F(SessionTest, ACopyToStdoutPassesThroughLineByLine) {
  use(SessionHarness::kAllowAll);
  upstream().on("COPY docs TO STDOUT", copyOf({"1\ta\n", "2\tb\n"}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query("COPY docs TO STDOUT");
    EXPECT_EQ(kinds(m), "HddcCZ");
    EXPECT_EQ(m.size() > 1 ? m[1].payload : "", "1\ta\n");
    EXPECT_EQ(readyStatus(m), 'I');
    EXPECT_EQ(kinds(co_await c.query("SELECT 1")), "TDCZ");
  });
}

TEST_F(SessionTest, ACopyToStdoutIsMaskedLineByLine) {
  use(SessionHarness::kAllowAll, kDetectors);
  constexpr char kCopy[] = "COPY (SELECT id, contact FROM docs) TO STDOUT";
  upstream().on(kCopy, copyOf({"1\tada@example.com\n", "2\tplain\n"}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.query(kCopy);
    EXPECT_EQ(kinds(m), "HddcCZ");
    if (m.size() > 2) {
      EXPECT_THAT(m[1].payload, Not(HasSubstr("ada@example.com")));
      EXPECT_EQ(m[2].payload, "2\tplain\n");
    }
  });
}

}  // namespace
}  // namespace jg::server::testing
