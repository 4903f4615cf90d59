#include "proto/http/problem.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace jg::http {
namespace {

namespace json = boost::json;

json::object parsed(const Problem& p) {
  boost::system::error_code ec;
  json::value v = json::parse(problemJson(p), ec);
  EXPECT_FALSE(ec) << problemJson(p);
  EXPECT_TRUE(v.is_object());
  return v.is_object() ? v.as_object() : json::object{};
}

TEST(Problem, DocumentHasTheRfc9457MembersAndTheExtras) {
  const Problem p{.status = 403,
                  .title = "Forbidden by policy",
                  .detail = "rule kb-read does not allow DELETE; ask a data owner",
                  .type = "https://jitgate.dev/problems/policy-denied",
                  .extra = {{"rule", "kb-read"}, {"review_id", 42}}};
  const json::object o = parsed(p);
  EXPECT_EQ(o.at("type"), "https://jitgate.dev/problems/policy-denied");
  EXPECT_EQ(o.at("title"), "Forbidden by policy");
  EXPECT_EQ(o.at("status"), 403);
  EXPECT_EQ(o.at("detail"), "rule kb-read does not allow DELETE; ask a data owner");
  EXPECT_EQ(o.at("rule"), "kb-read");
  EXPECT_EQ(o.at("review_id"), 42);
  EXPECT_EQ(o.size(), 6u);
}

TEST(Problem, EmptyTypeIsAboutBlankAndEmptyDetailIsLeftOut) {
  const json::object o = parsed(Problem{.status = 404, .title = "No route"});
  EXPECT_EQ(o.at("type"), "about:blank");
  EXPECT_FALSE(o.contains("detail"));
}

TEST(Problem, QuotesControlsAndNonAsciiAreEscapedIntoValidJson) {
  const Problem p{
      .status = 400, .title = "Bad \"request\"", .detail = "line\nbreak \\ tab\t nul\x01 é"};
  const json::object o = parsed(p);
  EXPECT_EQ(o.at("title"), "Bad \"request\"");
  EXPECT_EQ(o.at("detail"), "line\nbreak \\ tab\t nul\x01 é");
}

TEST(Problem, ExtraMembersNeverReplaceTheStandardOnes) {
  const Problem p{.status = 401,
                  .title = "Unauthorized",
                  .extra = {{"status", 200}, {"title", "ok"}, {"detail", "x"}, {"a", 1}, {"a", 2}}};
  const json::object o = parsed(p);
  EXPECT_EQ(o.at("status"), 401);
  EXPECT_EQ(o.at("title"), "Unauthorized");
  EXPECT_FALSE(o.contains("detail"));
  EXPECT_EQ(o.at("a"), 1);
}

TEST(Problem, RefusalBecomesAProblemWithItsStatusTitleAndDetail) {
  const json::object o = parsed(problemOf(
      Refusal{.status = 431, .title = "Request header fields too large", .detail = "fewer"}));
  EXPECT_EQ(o.at("status"), 431);
  EXPECT_EQ(o.at("title"), "Request header fields too large");
  EXPECT_EQ(o.at("detail"), "fewer");
  EXPECT_EQ(o.at("type"), "about:blank");
}

TEST(Problem, ContentTypeIsProblemJson) {
  EXPECT_EQ(kProblemContentType, "application/problem+json");
}

}  // namespace
}  // namespace jg::http
