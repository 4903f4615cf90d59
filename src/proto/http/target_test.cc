#include "proto/http/target.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace jg::http {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

Target ok(std::string_view t, TargetOptions opts = {}) {
  auto r = parseTarget(t, opts);
  EXPECT_TRUE(r) << t << ": " << r.status().message();
  return r ? *r : Target{};
}

// The refusal's message, or "" when the target was accepted.
std::string refusal(std::string_view t, TargetOptions opts = {}) {
  auto r = parseTarget(t, opts);
  if (r) {
    return "";
  }
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

TEST(Target, PathAndQueryAreSplitDecodedAndKeptRaw) {
  const Target t = ok("/kb/search/caf%C3%A9?q=a+b%26c&top_k=5&flag");
  EXPECT_EQ(t.path, "/kb/search/café");
  EXPECT_EQ(t.raw_path, "/kb/search/caf%C3%A9");
  EXPECT_EQ(t.raw_query, "q=a+b%26c&top_k=5&flag");
  EXPECT_EQ(t.query, (Query{{"q", "a b&c"}, {"top_k", "5"}, {"flag", ""}}));
  EXPECT_TRUE(t.authority.empty());
}

TEST(Target, PlusInThePathIsNotASpace) {
  EXPECT_EQ(ok("/a+b").path, "/a+b");
}

TEST(Target, RootAndEmptyQueryAreAccepted) {
  const Target t = ok("/?");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.raw_query, "");
  EXPECT_TRUE(t.query.empty());
  EXPECT_EQ(ok("/").path, "/");
}

TEST(Target, EmptyQueryPiecesAreSkippedAndOrderIsKept) {
  EXPECT_EQ(ok("/?b=2&&a=1&b=3&").query, (Query{{"b", "2"}, {"a", "1"}, {"b", "3"}}));
  EXPECT_EQ(ok("/?=v&k=").query, (Query{{"", "v"}, {"k", ""}}));
  EXPECT_EQ(ok("/?k=a=b").query, (Query{{"k", "a=b"}}));
}

TEST(Target, SingleDotSegmentsAreRemoved) {
  EXPECT_EQ(ok("/./a/./b").path, "/a/b");
  EXPECT_EQ(ok("/a/.").path, "/a/");
  EXPECT_EQ(ok("/a/%2e/b").path, "/a/b");
  EXPECT_EQ(ok("/.").path, "/");
}

TEST(Target, EmptySegmentsAreKept) {
  EXPECT_EQ(ok("//a//b/").path, "//a//b/");
}

TEST(Target, DotDotSegmentsAreRefusedRawOrEncoded) {
  for (std::string_view t : {"/..", "/a/../b", "/a/..", "/a/%2e%2e/b", "/a/.%2E", "/%2E./x"}) {
    EXPECT_NE(refusal(t).find("'..'"), std::string::npos) << t;
  }
  EXPECT_EQ(ok("/a/...").path, "/a/...");
  EXPECT_EQ(ok("/a/..b").path, "/a/..b");
}

TEST(Target, EncodedSlashBackslashNulAndControlsInASegmentAreRefused) {
  EXPECT_NE(refusal("/kb/a%2Fb").find("%2F"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%2fb").find("%2F"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%5Cb").find("%5C"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%00").find("NUL"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%0D%0Ab").find("control"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%7F").find("control"), std::string::npos);
  EXPECT_NE(refusal("/kb/a%09").find("control"), std::string::npos);
}

TEST(Target, RawBytesThatMustBeEncodedAreRefused) {
  using namespace std::string_literals;
  EXPECT_NE(refusal("/a\\b").find("'\\'"), std::string::npos);
  EXPECT_NE(refusal("/a b").find("space"), std::string::npos);
  EXPECT_NE(refusal("/caf\xC3\xA9").find("non-ASCII"), std::string::npos);
  EXPECT_NE(refusal("/a\0b"s).find("control"), std::string::npos);
  EXPECT_NE(refusal("/a?q=\x01"s).find("control"), std::string::npos);
  EXPECT_NE(refusal("/a?q=\xFF").find("non-ASCII"), std::string::npos);
}

TEST(Target, InvalidPercentEncodingIsRefusedInPathAndQuery) {
  for (std::string_view t : {"/a%", "/a%2", "/a%zz", "/a%G0/b", "/?q=%", "/?q=%4", "/?%x1=v"}) {
    EXPECT_NE(refusal(t).find("percent-encoding"), std::string::npos) << t;
  }
}

TEST(Target, NonUtf8AfterDecodingIsRefused) {
  EXPECT_NE(refusal("/caf%E9").find("UTF-8"), std::string::npos);
  EXPECT_NE(refusal("/%C0%AF").find("UTF-8"), std::string::npos);  // overlong '/'
  EXPECT_NE(refusal("/?q=%FF").find("UTF-8"), std::string::npos);
  EXPECT_NE(refusal("/?%ED%A0%80=1").find("UTF-8"), std::string::npos);  // a surrogate
}

TEST(Target, EncodedSlashInTheQueryIsData) {
  EXPECT_EQ(ok("/?path=a%2Fb").query, (Query{{"path", "a/b"}}));
}

TEST(Target, EmptyFragmentAsteriskAndNonOriginFormsAreRefused) {
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  EXPECT_NE(refusal("/a#frag").find("fragment"), std::string::npos);
  EXPECT_NE(refusal("/a?q=1#").find("fragment"), std::string::npos);
  EXPECT_NE(refusal("*").find("origin-form"), std::string::npos);
  EXPECT_NE(refusal("a/b").find("origin-form"), std::string::npos);
  EXPECT_NE(refusal("example.com:443").find("origin-form"), std::string::npos);
  EXPECT_NE(refusal("http://a/b").find("origin-form"), std::string::npos);
}

TEST(Target, AbsoluteFormIsAcceptedOnlyWhenAsked) {
  const TargetOptions proxy{.allow_absolute_form = true};
  const Target t = ok("http://kb.example:8080/kb/x?q=1", proxy);
  EXPECT_EQ(t.authority, "kb.example:8080");
  EXPECT_EQ(t.path, "/kb/x");
  EXPECT_EQ(t.raw_path, "/kb/x");
  EXPECT_EQ(t.query, (Query{{"q", "1"}}));
  EXPECT_EQ(ok("HTTPS://kb.example", proxy).path, "/");
  EXPECT_EQ(ok("https://kb.example?q=1", proxy).raw_query, "q=1");
  EXPECT_EQ(ok("/plain", proxy).path, "/plain");
  EXPECT_NE(refusal("ftp://a/b", proxy).find("http"), std::string::npos);
  EXPECT_NE(refusal("http://user@a/b", proxy).find("user"), std::string::npos);
  EXPECT_NE(refusal("http:///b", proxy).find("host"), std::string::npos);
  EXPECT_NE(refusal("http://a\xC3\xA9/b", proxy).find("host"), std::string::npos);
  EXPECT_NE(refusal("http://a\\b/c", proxy).find("host"), std::string::npos);
  EXPECT_NE(refusal("http://a/%2e%2e/b", proxy).find("'..'"), std::string::npos);
}

TEST(Target, PathOf8KiBIsAcceptedAndOneByteMoreIsRefused) {
  const std::string at_limit = "/" + std::string(kMaxPathBytes - 1, 'a');
  EXPECT_EQ(ok(at_limit).path.size(), kMaxPathBytes);
  EXPECT_NE(refusal(at_limit + "a").find("longer than 8192"), std::string::npos);
  // The limit is on the path only; a long query is the header limit's business.
  EXPECT_TRUE(parseTarget(at_limit + "?q=" + std::string(9000, 'q')));
}

TEST(Target, QueryOf256ParametersIsAcceptedAnd257AreRefused) {
  std::string t = "/?";
  for (size_t i = 0; i < kMaxQueryParams; ++i) {
    t += "k" + std::to_string(i) + "=v&";
  }
  EXPECT_EQ(ok(t).query.size(), kMaxQueryParams);
  EXPECT_NE(refusal(t + "one=more").find("more than 256"), std::string::npos);
}

TEST(Target, PercentDecodeHandlesBothCasesOfHexAndPlus) {
  std::string out;
  ASSERT_TRUE(percentDecode("%4a%4A+%20", true, out));
  EXPECT_EQ(out, "JJ  ");
  out.clear();
  ASSERT_TRUE(percentDecode("a+b", false, out));
  EXPECT_EQ(out, "a+b");
  out.clear();
  EXPECT_FALSE(percentDecode("%4", false, out));
}

}  // namespace
}  // namespace jg::http
