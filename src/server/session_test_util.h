// Shared by the scripted session tests (session_*_test.cc): canned upstream answers, the policy
// most tests run under, and a fixture that builds a SessionHarness (testing/session_harness.h).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "server/testing/session_harness.h"

namespace jg::server::testing {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Script = std::function<asio::awaitable<void>(Client&)>;

inline Canned rows(std::vector<std::string> columns, std::vector<Row> values) {
  Canned c;
  c.columns = std::move(columns);
  c.rows = std::move(values);
  return c;
}

inline Canned command(std::string tag, char txn_after = 0) {
  Canned c;
  c.tag = std::move(tag);
  c.txn_after = txn_after;
  return c;
}

// The transaction status of the last ReadyForQuery in `m` ('I', 'T', 'E'), or 0 without one.
inline char readyStatus(const std::vector<Message>& m) {
  for (auto it = m.rbegin(); it != m.rend(); ++it) {
    if (it->type == 'Z' && !it->payload.empty()) {
      return it->payload[0];
    }
  }
  return 0;
}

// The first message of type `type` in `m`, or an empty message.
inline Message first(const std::vector<Message>& m, char type) {
  for (const auto& x : m) {
    if (x.type == type) {
      return x;
    }
  }
  return {};
}

// The values of message `i` of `m` (a DataRow), or none when there is no such message.
inline Row rowAt(const std::vector<Message>& m, size_t i) {
  return i < m.size() ? m[i].row() : Row{};
}

// Reads on: the gateway ended the connection (a FATAL may come first).
inline bool endedWith(const std::vector<Message>& m, std::string_view sqlstate) {
  return !m.empty() && m.back().type == 'E' && m.back().field('S') == "FATAL" &&
         m.back().code() == sqlstate;
}

// eng may read public tables and run housekeeping; public.big is limited to 2 rows; reading
// crm.customers waits for an approval, hr.payroll needs one given ahead (fail_fast).
inline constexpr char kPolicies[] = R"(policies:
  - { id: limited, match: { groups: [eng], tables: [public.big] }, allow: [select], row_limit: 2 }
  - { id: read, match: { groups: [eng] }, allow: [select, transaction, set, show, prepare,
      execute, deallocate] }
  - { id: owners, match: { tables: [crm.customers] }, action: review, mode: wait,
      approvers: { groups: [owners] } }
  - { id: owners-now, match: { tables: [hr.payroll] }, action: review, mode: fail_fast,
      approvers: { groups: [owners] } }
)";

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { use(kPolicies); }
  // A new harness (the previous one is discarded) with the usual canned answers.
  void use(std::string policies, std::string extra = {}) {
    h_.reset();
    h_ = std::make_unique<SessionHarness>(std::move(policies), std::move(extra));
    ASSERT_TRUE(h_->configError().empty()) << h_->configError();
    FakeUpstream& up = h_->upstream;
    up.on("SELECT 1", rows({"x"}, {{"1"}}));
    up.on("SELECT 2", rows({"x"}, {{"2"}}));
    up.on("SELECT title FROM docs", rows({"title"}, {{"a"}, {"b"}, {"c"}}));
    up.on("SELECT n FROM public.big", rows({"n"}, {{"1"}, {"2"}, {"3"}, {"4"}}));
    up.on("SELECT email FROM crm.customers", rows({"email"}, {{"x@y.z"}}));
    up.on("SELECT pay FROM hr.payroll", rows({"pay"}, {{"1"}}));
    up.on("BEGIN", command("BEGIN", 'T'));
    up.on("COMMIT", command("COMMIT", 'I'));
    up.on("ROLLBACK", command("ROLLBACK", 'I'));
    up.on("DELETE FROM docs", command("DELETE 3"));
  }
  SessionHarness& h() { return *h_; }
  // The one pending review ("" and a failure when there is not exactly one).
  std::string review() {
    auto pending = h_->pendingReviews();
    EXPECT_EQ(pending.size(), 1u);
    return pending.empty() ? std::string() : pending[0];
  }
  FakeUpstream& upstream() { return h_->upstream; }
  void run(const Script& s) {
    h_->run(s);
    EXPECT_TRUE(h_->scriptFinished()) << "the script was still waiting after 30 s";
  }

  std::unique_ptr<SessionHarness> h_;
};

}  // namespace jg::server::testing
