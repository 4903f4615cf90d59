#include "core/log_fields.h"

#include <gtest/gtest.h>

namespace jg::log {
namespace {

TEST(JsonLine, StructuredFieldsAreKeysBesideTheMessage) {
  EXPECT_EQ(jsonLine("s-1", {{"user", "ana@x"}, {"rule", "r\"1"}, {"rows", "3"}}, "refused"),
            R"("sid":"s-1","user":"ana@x","rule":"r\"1","rows":"3","msg":"refused")");
}

TEST(JsonLine, NoSessionNoFieldsIsOnlyTheMessage) {
  EXPECT_EQ(jsonLine("", {}, "a\nb"), R"("msg":"a\nb")");
}

}  // namespace
}  // namespace jg::log
