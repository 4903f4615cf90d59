#include "console/assets.h"

#include <gtest/gtest.h>

#include <string>

namespace jg::console {
namespace {

TEST(ConsoleAssets, IndexPageIsEmbeddedAsHtmlWithAnEtag) {
  const Asset* index = findAsset("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<!doctype html>"), std::string_view::npos);
  EXPECT_EQ(index->etag.size(), 34u);
  EXPECT_EQ(findAsset("../index.html"), nullptr);
}

TEST(ConsoleAssets, NoEmbeddedPageHasInlineScript) {
  for (const auto& a : allAssets()) {
    if (a.content_type.starts_with("text/html")) {
      EXPECT_EQ(a.body.find("<script>"), std::string_view::npos) << a.path;
      EXPECT_EQ(a.body.find(" onclick="), std::string_view::npos) << a.path;
      EXPECT_EQ(a.body.find("https://"), std::string_view::npos) << a.path;
    }
  }
}

}  // namespace
}  // namespace jg::console
