#include "audit/crypto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/redact.h"
#include "audit/test_util.h"

namespace jg::audit {
namespace {

TEST(ChainHash, DependsOnPreviousHashSeqAndBytes) {
  Hash zero{};
  Hash a = chainHash(zero, 1, "x");
  EXPECT_EQ(a, chainHash(zero, 1, "x"));
  EXPECT_NE(a, chainHash(zero, 2, "x"));
  EXPECT_NE(a, chainHash(zero, 1, "y"));
  EXPECT_NE(a, chainHash(a, 1, "x"));
  Hash parsed{};
  ASSERT_TRUE(parseHashHex(hashHex(a), parsed));
  EXPECT_EQ(parsed, a);
}

TEST(Base64, RoundTripsAllLengths) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = base64Decode(base64Encode(s));
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(base64Decode("abc").isOk());
}

TEST(SigningKey, SignaturesVerifyWithThePublicKeyFileOnly) {
  testing::TempAuditDir dir;
  auto key = SigningKey::loadPem(dir.path("keys/sign.pem"));
  ASSERT_TRUE(key.isOk()) << key.status().message();
  auto pub = PublicKey::loadPem(dir.path("keys/sign.pub.pem"));
  ASSERT_TRUE(pub.isOk());
  EXPECT_EQ(pub->id(), key->id());
  auto sig = key->sign("message");
  ASSERT_TRUE(sig.isOk());
  EXPECT_TRUE(pub->verify("message", *sig));
  EXPECT_FALSE(pub->verify("messagf", *sig));
  std::string bad = *sig;
  bad[3] ^= 1;
  EXPECT_FALSE(pub->verify("message", bad));
}

TEST(SigningKey, GenerateRefusesToOverwrite) {
  testing::TempAuditDir dir;
  EXPECT_FALSE(SigningKey::generate(dir.path("keys/sign.pem"), "").isOk());
}

TEST(AeadKey, SealedValuesOpenOnlyWithSameKeyAndAad) {
  testing::TempAuditDir dir;
  auto key = AeadKey::loadFile(dir.path("keys/raw.key"));
  ASSERT_TRUE(key.isOk()) << key.status().message();
  auto sealed = key->seal("secret rows", "s1\0rows");
  ASSERT_TRUE(sealed.isOk());
  EXPECT_EQ(sealed->find("secret rows"), std::string::npos);
  auto opened = key->open(*sealed, "s1\0rows");
  ASSERT_TRUE(opened.isOk());
  EXPECT_EQ(*opened, "secret rows");
  EXPECT_FALSE(key->open(*sealed, "s2\0rows").isOk());
  AeadKey other = AeadKey::fromBytes(std::string(32, 'k'));
  EXPECT_NE(other.id(), key->id());
  EXPECT_FALSE(other.open(*sealed, "s1\0rows").isOk());
}

// Nonces come from a per-thread prefix and counter: no two seals share one (in one thread or
// across threads), and each still opens.
TEST(AeadKey, EverySealHasItsOwnNonceInEveryThread) {
  AeadKey key = AeadKey::fromBytes(std::string(32, 'k'));
  std::vector<std::string> nonces;
  std::mutex mu;
  auto seal = [&] {
    for (int i = 0; i < 500; ++i) {
      auto sealed = key.seal("same text", "s1");
      ASSERT_TRUE(sealed.isOk());
      ASSERT_TRUE(key.open(*sealed, "s1").isOk());
      std::lock_guard lk(mu);
      nonces.push_back(sealed->substr(0, 12));
    }
  };
  std::thread a(seal);
  std::thread b(seal);
  seal();
  a.join();
  b.join();
  std::sort(nonces.begin(), nonces.end());
  EXPECT_EQ(nonces.size(), 1500u);
  EXPECT_EQ(std::adjacent_find(nonces.begin(), nonces.end()), nonces.end());
}

TEST(ScrubSecrets, RemovesPasswordLiteralsTokensAndKeys) {
  EXPECT_EQ(scrubSecrets("ALTER ROLE bob PASSWORD 'hunter2'"),
            "ALTER ROLE bob PASSWORD '[redacted]'");
  EXPECT_EQ(scrubSecrets("host=db password=s3cret user=x"), "host=db password=[redacted] user=x");
  EXPECT_EQ(scrubSecrets(R"({"client_secret": "abc"})"), R"({"client_secret": "[redacted]"})");
  std::string jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
  EXPECT_EQ(scrubSecrets("bad token " + jwt + " here"), "bad token [redacted] here");
  std::string pem = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----";
  EXPECT_EQ(scrubSecrets("k=" + pem), "k=[redacted]");
  EXPECT_EQ(scrubSecrets("x Api_Key=abc, TOKEN: 'q'"), "x Api_Key=[redacted], TOKEN: '[redacted]'");
}

TEST(ScrubSecrets, LeavesOrdinarySqlAlone) {
  for (std::string sql : std::vector<std::string>{
           "SELECT token, password_hash FROM users WHERE id = $1",
           "SELECT * FROM chunks WHERE doc_id = 42", "UPDATE t SET secrets = 1"}) {
    EXPECT_EQ(scrubSecrets(sql), sql);
  }
}

}  // namespace
}  // namespace jg::audit
