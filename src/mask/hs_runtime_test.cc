#include "mask/hs_runtime.h"

#include <gtest/gtest.h>

#include <string>

#include "mask/engine.h"

namespace jg::mask {
namespace {

// Whatever the CPU, the routine masking uses finds every planted match.
TEST(HsRuntime, TheSelectedRoutineFindsEveryPlantedMatch) {
  const Result<HsRuntime>& runtime = hsRuntime();
  ASSERT_TRUE(runtime) << runtime.status().message();
  EXPECT_TRUE(hsScanFindsEveryMatch(runtime->scan, runtime->platform)) << runtime->routine;
}

// A custom detector shaped like the pattern the AVX-512 routine misses ("@" then a class):
// found at every offset through the engine's own compile target and routine.
TEST(HsRuntime, CustomPatternAfterALiteralIsFoundAtEveryOffset) {
  const Result<HsRuntime>& runtime = hsRuntime();
  ASSERT_TRUE(runtime);
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  ASSERT_EQ(hs_compile("#[a-z]+-[0-9]{4}", 0, HS_MODE_BLOCK, runtime->platform, &db, &err),
            HS_SUCCESS);
  hs_scratch_t* scratch = nullptr;
  ASSERT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
  int missed = 0;
  for (size_t offset = 0; offset < 400; ++offset) {
    std::string buf(offset, 'q');
    buf += " #ticket-1234 ";
    buf.append(40, 'z');
    int found = 0;
    runtime->scan(
        db, buf.data(), static_cast<unsigned>(buf.size()), 0, scratch,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
          ++*static_cast<int*>(ctx);
          return 0;
        },
        &found);
    missed += found == 0;
  }
  hs_free_scratch(scratch);
  hs_free_database(db);
  EXPECT_EQ(missed, 0) << "routine " << runtime->routine;
}

}  // namespace
}  // namespace jg::mask
