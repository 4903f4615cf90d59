#include "cli/output.h"

#include <gtest/gtest.h>

namespace jg::cli {
namespace {

TEST(JsonLines, BlankLinesAreDroppedAndALastLineWithoutNewlineIsKept) {
  EXPECT_EQ(jsonLines("a: bad\n\nb: worse\nc"), (boost::json::array{"a: bad", "b: worse", "c"}));
}

TEST(JsonLines, EmptyTextHasNoLines) {
  EXPECT_TRUE(jsonLines("").empty());
  EXPECT_TRUE(jsonLines("\n\n").empty());
}

}  // namespace
}  // namespace jg::cli
