#include "core/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace jg::metrics {
namespace {

TEST(CounterFamily, CountsEachLabelSetSeparatelyAndRendersSortedLines) {
  CounterFamily f("t_total", "Test.", {"resource", "rule"});
  f.add({"kb", "r2"});
  f.add({"kb", "r1"}, 3);
  f.add({"kb", "r2"});
  EXPECT_EQ(f.value({"kb", "r1"}), 3u);
  EXPECT_EQ(f.value({"kb", "r2"}), 2u);
  EXPECT_EQ(f.value({"kb", "r3"}), 0u);
  std::string out;
  f.render(out);
  EXPECT_EQ(out,
            "# HELP t_total Test.\n# TYPE t_total counter\n"
            "t_total{resource=\"kb\",rule=\"r1\"} 3\n"
            "t_total{resource=\"kb\",rule=\"r2\"} 2\n");
}

TEST(CounterFamily, LabelValuesAreEscaped) {
  CounterFamily f("t_total", "Test.", {"label"});
  f.add({"a\"b\\c"});
  std::string out;
  f.render(out);
  EXPECT_NE(out.find("t_total{label=\"a\\\"b\\\\c\"} 1"), std::string::npos) << out;
}

TEST(CounterFamily, FamilyWithoutLabelsRendersABareSeries) {
  CounterFamily f("jg_test_bare_total", "help", {});
  f.add({}, 3);
  std::string out;
  f.render(out);
  EXPECT_NE(out.find("\njg_test_bare_total 3\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("jg_test_bare_total{"), std::string::npos) << out;
}

TEST(CounterFamily, LabelSetsPastTheBoundAreCountedAsOther) {
  CounterFamily f("t_total", "Test.", {"label"});
  for (int i = 0; i < 1000; ++i) {
    f.add({std::to_string(i)});
  }
  EXPECT_EQ(f.value({"0"}), 1u);
  EXPECT_EQ(f.value({"999"}), 0u);
  EXPECT_GT(f.value({"_other"}), 200u);
}

TEST(CounterFamily, ConcurrentIncrementsAreNotLost) {
  CounterFamily f("t_total", "Test.", {"label"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < 10000; ++i) {
        f.add({i % 2 == 0 ? "even" : "odd"});
        f.add({t % 2 == 0 ? "a" : "b"});
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(f.value({"even"}) + f.value({"odd"}), 40000u);
  EXPECT_EQ(f.value({"a"}) + f.value({"b"}), 40000u);
}

TEST(Histogram, BucketsAreCumulativeWithSumAndCount) {
  Histogram h("t_seconds", "Test.", {0.001, 0.01});
  h.observe(std::chrono::microseconds(500));
  h.observe(std::chrono::milliseconds(5));
  h.observe(std::chrono::milliseconds(50));
  std::string out;
  h.render(out);
  EXPECT_NE(out.find("t_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_count 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_sum 0.0555\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace jg::metrics
