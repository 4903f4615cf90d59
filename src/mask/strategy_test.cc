#include "mask/strategy.h"

#include <gtest/gtest.h>

namespace jg::mask {
namespace {

std::string apply(Strategy s, std::string_view v, int keep = 4,
                  std::string_view key = "0123456789abcdef0123456789abcdef") {
  Keyer k(key);
  std::string out;
  Status st = applyStrategy(s, v, "EMAIL", keep, k, out);
  EXPECT_TRUE(st.isOk()) << st.message();
  return out;
}

TEST(Strategy, RedactWritesTheLabel) {
  EXPECT_EQ(apply(Strategy::kRedact, "a@b.co"), "[EMAIL]");
}

TEST(Strategy, PartialKeepsTheLastCharacters) {
  EXPECT_EQ(apply(Strategy::kPartial, "4111111111111234"), "************1234");
  EXPECT_EQ(apply(Strategy::kPartial, "4111 1111", 2), "*******11");
}

TEST(Strategy, PartialCountsCodePointsNotBytes) {
  EXPECT_EQ(apply(Strategy::kPartial, "Zoë Müller", 3), "*******ler");
  EXPECT_EQ(apply(Strategy::kPartial, "ÅÄÖ€", 1), "***€");
}

TEST(Strategy, PartialHidesValuesNoLongerThanWhatItWouldKeep) {
  EXPECT_EQ(apply(Strategy::kPartial, "1234"), "****");
  EXPECT_EQ(apply(Strategy::kPartial, "12"), "**");
}

TEST(Strategy, PartialRejectsInvalidUtf8) {
  Keyer k("");
  std::string out;
  EXPECT_FALSE(applyStrategy(Strategy::kPartial, "ab\xff", "X", 1, k, out).isOk());
}

TEST(Strategy, HashIsKeyedDeterministicAndTruncated) {
  std::string a = apply(Strategy::kHash, "alice@example.com");
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a, apply(Strategy::kHash, "alice@example.com"));
  EXPECT_NE(a, apply(Strategy::kHash, "bob@example.com"));
  EXPECT_NE(a, apply(Strategy::kHash, "alice@example.com", 4, "another key of 32 bytes........."));
}

TEST(Strategy, TokenizeIsStableAcrossKeyersWithTheSameKey) {
  std::string t = apply(Strategy::kTokenize, "alice@example.com");
  EXPECT_EQ(t.rfind("tok_", 0), 0u);
  EXPECT_EQ(t.size(), 24u);
  EXPECT_EQ(t, apply(Strategy::kTokenize, "alice@example.com"));  // a fresh Keyer
  EXPECT_NE(t, apply(Strategy::kTokenize, "alice@example.org"));
  EXPECT_NE(t.substr(4), apply(Strategy::kHash, "alice@example.com"));
}

// The values a key gives must never change: stored tokens join with new ones across releases.
TEST(Strategy, HashAndTokenizeGiveTheSameValuesAsEver) {
  Keyer k("0123456789abcdef0123456789abcdef");
  struct Known {
    std::string_view value, hash, token;
  };
  const Known known[] = {
      {"", "51a70c121222348d", "tok_igessizjufhepw4jqh7a"},
      {"alice@example.com", "f1c37e22c07c775b", "tok_kbzykuahcimymmcsnq6q"},
      {"a value longer than one sixty-four byte SHA-256 block, to cross the boundary....",
       "b87112b3b3a703f6", "tok_snklmlhjjanhuadmf4ld"},
  };
  for (const auto& [value, hash, token] : known) {
    std::string h, t;
    ASSERT_TRUE(k.hash(value, h).isOk());
    ASSERT_TRUE(k.token(value, t).isOk());
    EXPECT_EQ(h, hash) << value;
    EXPECT_EQ(t, token) << value;
  }
}

TEST(Strategy, HashAndTokenizeFailWithoutAKey) {
  Keyer k("");
  std::string out;
  EXPECT_FALSE(applyStrategy(Strategy::kHash, "x", "X", 4, k, out).isOk());
  EXPECT_FALSE(applyStrategy(Strategy::kTokenize, "x", "X", 4, k, out).isOk());
}

TEST(Utf8, ValidatorRejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(validUtf8("plain ascii"));
  EXPECT_TRUE(validUtf8("Zoë €𝄞"));
  EXPECT_FALSE(validUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(validUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(validUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(validUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

}  // namespace
}  // namespace jg::mask
