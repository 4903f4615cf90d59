#include "identity/base64url.h"

#include <gtest/gtest.h>

namespace jg::identity {
namespace {

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto decoded = base64UrlDecode(base64UrlEncode(bytes));
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
}

TEST(Base64UrlTest, UsesTheUrlSafeAlphabetWithoutPadding) {
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*base64UrlDecode("-_8"), "\xfb\xff");
}

TEST(Base64UrlTest, RejectsPaddingAndForeignCharacters) {
  EXPECT_FALSE(base64UrlDecode("-_8="));
  EXPECT_FALSE(base64UrlDecode("+/8"));
  EXPECT_FALSE(base64UrlDecode("YW Jj"));
  EXPECT_FALSE(base64UrlDecode("YWJj\n"));
  EXPECT_FALSE(base64UrlDecode(std::string("YW\0j", 4)));
  EXPECT_FALSE(base64UrlDecode("YWJj.ZA"));
}

TEST(Base64UrlTest, RejectsImpossibleLengthAndNonCanonicalBits) {
  EXPECT_FALSE(base64UrlDecode("YWJjZ"));  // 5 chars: 1 mod 4
  EXPECT_TRUE(base64UrlDecode("YQ"));
  EXPECT_FALSE(base64UrlDecode("YR"));  // same byte, stray low bits
  EXPECT_TRUE(base64UrlDecode(""));
}

}  // namespace
}  // namespace jg::identity
