#include "server/admin_request.h"

#include <gtest/gtest.h>

#include "core/text.h"

namespace jg::server {
namespace {

TEST(AdminRequest, TargetSplitsIntoADecodedPathAndQuery) {
  AdminRequest r;
  ASSERT_TRUE(parseAdminTarget("/api/v1/reviews/%C3%A9?state=pending&q=a%20b&q=c", r));
  EXPECT_EQ(r.path, "/api/v1/reviews/\xC3\xA9");
  EXPECT_EQ(r.query["state"], "pending");
  EXPECT_EQ(r.query["q"], "c");
  EXPECT_FALSE(parseAdminTarget("no-slash", r));
}

TEST(AdminRequest, TargetsThatDecodeToInvalidUtf8AreMalformed) {
  AdminRequest r;
  EXPECT_FALSE(parseAdminTarget("/api/v1/aud%80t", r));
  EXPECT_FALSE(parseAdminTarget("/api/v1/reviews?state=%FF", r));
  EXPECT_FALSE(parseAdminTarget("/api/v1/reviews?%C0%AF=x", r));  // overlong '/'
  EXPECT_TRUE(parseAdminTarget("/api/v1/reviews?state=%E2%82%AC", r));
}

TEST(AdminRequest, BearerTokenIgnoresTheSchemeCaseAndLeadingSpaces) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("bEARER   abc"), "abc");
  EXPECT_EQ(bearerToken("Basic abc"), "");
  EXPECT_EQ(bearerToken("Bearer "), "");
}

TEST(Utf8, ValidationRejectsStrayTruncatedOverlongSurrogateAndTooLargeSequences) {
  EXPECT_TRUE(isValidUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xC3"));
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xF8\x88\x80\x80\x80"));
}

TEST(AdminRequest, TheClientApplicationIsTheHeaderElseTheUserAgentInPrintableAscii) {
  EXPECT_EQ(clientApplication("rag-retriever", "python-requests/2.31"), "rag-retriever");
  EXPECT_EQ(clientApplication("", "python-requests/2.31"), "python-requests/2.31");
  EXPECT_EQ(clientApplication("a\x01"
                              "b\xc3\xa9",
                              ""),
            "a?b??");
  EXPECT_EQ(clientApplication(std::string(300, 'x'), "").size(), 200u);
}

}  // namespace
}  // namespace jg::server
