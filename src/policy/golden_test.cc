// Runs the golden policy tables of tests/policy: every case of every <name>.eval must match.
#include <gtest/gtest.h>

#include "policy/golden.h"

namespace jg::policy {
namespace {

TEST(GoldenTables, EveryCaseMatchesItsExpectedDecision) {
  auto report = runGoldenDir(JG_POLICY_GOLDEN_DIR);
  ASSERT_TRUE(report.isOk()) << report.status().message();
  EXPECT_GE(report->cases, 150);
  for (const auto& f : report->failures) {
    ADD_FAILURE() << f;
  }
}

}  // namespace
}  // namespace jg::policy
