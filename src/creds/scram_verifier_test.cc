#include "creds/scram_verifier.h"

#include <gtest/gtest.h>

#include <string>

namespace jg::creds {
namespace {

std::string salt0to15() {
  std::string s;
  for (int i = 0; i < 16; ++i) {
    s.push_back(static_cast<char>(i));
  }
  return s;
}

// Expected values computed independently (Python hashlib/hmac per RFC 5802).
TEST(ScramVerifier, MatchesIndependentDerivation) {
  auto v = scramVerifier("pencil", salt0to15(), 4096);
  ASSERT_TRUE(v) << v.status().message();
  EXPECT_EQ(*v,
            "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/"
            "QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=");
}

TEST(ScramVerifier, SingleIterationIsAccepted) {
  auto v = scramVerifier("pencil", salt0to15(), 1);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v,
            "SCRAM-SHA-256$1:AAECAwQFBgcICQoLDA0ODw==$ulPBEMD7pdxjBcsUkN1eHH+6PaNEw+VlbDgOlKfXVz0=:"
            "FLxfly9TUma+46jkj8QyTfQMWRqeNyK1YOt6NKVPr/I=");
}

TEST(ScramVerifier, RejectsZeroIterationsAndEmptySalt) {
  EXPECT_FALSE(scramVerifier("pw", "salt", 0));
  EXPECT_FALSE(scramVerifier("pw", "", 16));
}

TEST(ScramVerifier, VerifierNeverContainsThePassword) {
  Secret pw = sessionPassword();
  auto v = scramVerifier(pw.reveal(), "0123456789abcdef", 16);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->find(pw.reveal()), std::string::npos);
}

TEST(SessionPassword, Is32RandomBytesAsHex) {
  Secret a = sessionPassword(), b = sessionPassword();
  ASSERT_EQ(a.reveal().size(), 64u);
  EXPECT_NE(a.reveal(), b.reveal());
  for (char c : a.reveal()) {
    EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)));
  }
}

TEST(Secret, MovedFromIsEmpty) {
  Secret a("hunter2");
  Secret b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT: checking the moved-from state on purpose
  EXPECT_EQ(b.reveal(), "hunter2");
}

}  // namespace
}  // namespace jg::creds
