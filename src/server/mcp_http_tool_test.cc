#include "server/mcp_http_tool.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "server/http_config.h"

namespace jg::server {
namespace {

namespace json = boost::json;

HttpOperationConfig op(std::string method, std::string path) {
  return HttpOperationConfig{.name = "op",
                             .description = {},
                             .method = std::move(method),
                             .path = std::move(path),
                             .input_schema = R"({"type":"object"})"};
}

TEST(McpHttpTool, PathVariablesAreFilledAndTheRestIsTheJsonBody) {
  auto args = json::parse(R"({"collection":"kb docs","limit":3,"vector":[1,2]})").as_object();
  auto r =
      buildOperationRequest("/kb-search", op("POST", "/collections/{collection}/search"), args);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/kb-search/collections/kb%20docs/search");
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"limit":3,"vector":[1,2]})"));
}

TEST(McpHttpTool, GetSendsTheArgumentsAsQueryParameters) {
  auto args = json::parse(R"({"id":7,"q":"a&b","full":true})").as_object();
  auto r = buildOperationRequest("/docs", op("GET", "/items/{id}"), args);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->target, "/docs/items/7?q=a%26b&full=true");
  EXPECT_TRUE(r->body.empty());
}

TEST(McpHttpTool, MissingPathVariableIsAnError) {
  auto r = buildOperationRequest("/docs", op("GET", "/items/{id}"), json::object());
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("\"id\""), std::string::npos);
}

TEST(McpHttpTool, PathVariableCannotEscapeItsSegment) {
  auto args = json::parse(R"({"id":"../admin"})").as_object();
  auto r = buildOperationRequest("/docs", op("GET", "/items/{id}"), args);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->target, "/docs/items/..%2Fadmin");
}

TEST(McpHttpTool, SuccessfulJsonResponseIsTextAndStructuredContent) {
  auto out = httpToolResult(200, R"({"result":[1]})", 1024);
  EXPECT_FALSE(out.at("isError").as_bool());
  EXPECT_EQ(out.at("structuredContent").at("body"), json::parse(R"({"result":[1]})"));
  EXPECT_EQ(out.at("content").as_array()[0].at("text").as_string(), R"({"result":[1]})");
}

TEST(McpHttpTool, RefusalThatCreatedAReviewSaysItIsPending) {
  auto out = httpToolResult(403, R"({"title":"Approval required","review_id":"r-abc"})", 1024);
  EXPECT_TRUE(out.at("isError").as_bool());
  EXPECT_EQ(out.at("structuredContent").at("review_id").as_string(), "r-abc");
  EXPECT_EQ(out.at("structuredContent").at("status").as_string(), "pending");
}

TEST(McpHttpTool, LargeResponseIsTruncatedAndSaysSo) {
  auto out = httpToolResult(200, std::string(5000, 'x'), 1024);
  std::string text(out.at("content").as_array()[0].at("text").as_string());
  EXPECT_EQ(text.substr(0, 1024), std::string(1024, 'x'));
  EXPECT_NE(text.find("truncated"), std::string::npos);
  EXPECT_FALSE(out.at("structuredContent").as_object().contains("body"));
}

}  // namespace
}  // namespace jg::server
