// Masking results the client never described: drivers that describe a named statement's portal
// once and then send Bind/Execute alone (pgjdbc from its prepareThreshold on), and Executes of
// portals nobody described, for which the gateway asks the upstream itself (a Describe it sends
// and whose answer it keeps from the client).
#include <algorithm>

#include "server/session_test_util.h"

namespace jg::server::testing {
namespace {

constexpr char kEmails[] = R"(masking:
  key_file: $DIR/mask.key
  strategy: redact
  detectors: [email]
)";

constexpr char kContacts[] = "SELECT contact FROM docs";

class DescribeTest : public SessionTest {
 protected:
  void SetUp() override {
    use(SessionHarness::kAllowAll, kEmails);
    upstream().on(kContacts, rows({"contact"}, {{"ada@example.com"}, {"plain"}}));
  }
  size_t describesSent() {
    return static_cast<size_t>(
        std::count(upstream().types().begin(), upstream().types().end(), 'D'));
  }
};

// The first DataRow of `m` carries a masked email and the second the clean value unchanged.
void expectMasked(const std::vector<Message>& m, size_t first_row) {
  Row masked = rowAt(m, first_row);
  ASSERT_EQ(masked.size(), 1u) << kinds(m);
  EXPECT_THAT(masked[0].value_or(""), Not(HasSubstr("ada@example.com")));
  EXPECT_THAT(masked[0].value_or(""), Not(IsEmpty()));
  EXPECT_EQ(rowAt(m, first_row + 1), Row{"plain"});
}

TEST_F(DescribeTest, AnExecuteOfAPortalNobodyDescribedIsMaskedThroughTheGatewaysOwnDescribe) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s", kContacts) + B("", "s") + E("") + S());
    EXPECT_EQ(kinds(m), "12DDCZ");  // no RowDescription: the client did not ask for one
    EXPECT_THAT(errorCodes(m), IsEmpty());
    expectMasked(m, 2);
  });
  EXPECT_THAT(upstream().types(), HasSubstr("PBDES"));
}

TEST_F(DescribeTest, AStatementWhosePortalWasDescribedOnceIsMaskedOnEveryLaterBareExecute) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("S_1", kContacts) + B("", "S_1") + D('P', "") + E("") + S());
    EXPECT_EQ(kinds(m), "12TDDCZ");
    expectMasked(m, 3);
    for (int i = 0; i < 11; ++i) {
      auto again = co_await c.batch(B("", "S_1") + E("") + S());
      EXPECT_EQ(kinds(again), "2DDCZ") << "execution " << i + 2;
      expectMasked(again, 1);
    }
  });
  EXPECT_EQ(describesSent(), 1u);  // the statement was learnt from the client's one Describe
}

TEST_F(DescribeTest, PipelinedExecutesOfUndescribedPortalsEachGetTheirAnswersInOrder) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s", kContacts) + B("a", "s") + B("b", "s") + E("a") + E("b") +
                              P("", "SELECT 1") + B("", "") + D('P', "") + E("") + S());
    EXPECT_EQ(kinds(m), "122DDCDDC12TDCZ");
    expectMasked(m, 3);
    expectMasked(m, 6);
  });
  EXPECT_EQ(describesSent(), 3u);  // two of the gateway's, one of the client's
}

TEST_F(DescribeTest, TheGatewaysDescribeOfACommandWithoutRowsIsNotSeenByTheClient) {
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("d", "DELETE FROM docs") + B("", "d") + E("") + S());
    EXPECT_EQ(kinds(m), "12CZ");
    EXPECT_THAT(errorCodes(m), IsEmpty());
  });
  EXPECT_EQ(describesSent(), 1u);
}

TEST_F(DescribeTest, WithoutMaskingNoDescribeIsAdded) {
  use(SessionHarness::kAllowAll);
  upstream().on(kContacts, rows({"contact"}, {{"ada@example.com"}, {"plain"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    auto m = co_await c.batch(P("s", kContacts) + B("", "s") + E("") + S());
    EXPECT_EQ(kinds(m), "12DDCZ");
    EXPECT_EQ(rowAt(m, 2), Row{"ada@example.com"});
  });
  EXPECT_EQ(describesSent(), 0u);
}

// Executes pipelined without a Sync between them (psycopg's pipeline mode, JDBC batches) each
// run the statement's one SELECT: the second must not be taken for a next statement, which the
// masker cannot name (every column would get the strictest rule).
TEST_F(DescribeTest, ExecutesPipelinedWithoutSyncKeepTheColumnRuleOnItsColumnOnly) {
  use(SessionHarness::kAllowAll, R"(masking:
  key_file: $DIR/mask.key
  columns:
    - { table: public.docs, column: contact, strategy: redact }
)");
  constexpr char kBoth[] = "SELECT title, contact FROM docs";
  upstream().on(kBoth, rows({"title", "contact"}, {{"a", "ada@example.com"}}));
  run([&](Client& c) -> asio::awaitable<void> {
    co_await c.connect();
    std::string once = B("", "s") + D('P', "") + E("");
    auto m = co_await c.batch(P("s", kBoth) + once + once + once + S());
    EXPECT_EQ(kinds(m), "12TDC2TDC2TDCZ");
    for (size_t i : {3u, 7u, 11u}) {
      Row r = rowAt(m, i);
      EXPECT_EQ(r.size(), 2u) << kinds(m);
      if (r.size() != 2) {
        continue;
      }
      EXPECT_EQ(r[0], std::optional<std::string>("a")) << "row " << i;
      EXPECT_NE(r[1].value_or("ada@example.com"), "ada@example.com") << "row " << i;
    }
  });
}

}  // namespace
}  // namespace jg::server::testing
