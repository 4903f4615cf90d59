#include "identity/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "identity/base64url.h"
#include "identity/test_support.h"

namespace jg::identity {
namespace {

using ::testing::HasSubstr;
using testing::sharedKey;

const Alg kAllAlgs[] = {Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256, Alg::kPS384,
                        Alg::kPS512, Alg::kES256, Alg::kES384, Alg::kEdDSA};

Jwk jwkOf(const testing::TestKey& key) {
  auto jwk = parseJwk(*publicJwk(key.key, key.kid, algName(key.alg)));
  EXPECT_TRUE(jwk.isOk()) << jwk.status().message();
  return *jwk;
}

std::string token(const testing::TestKey& key) {
  return *signJws(key.alg, key.key, key.kid, {}, {{"sub", "alice"}});
}

class EveryAlgorithm : public ::testing::TestWithParam<Alg> {};

TEST_P(EveryAlgorithm, SignsAndVerifies) {
  const auto& key = sharedKey(GetParam());
  const std::string t = token(key);
  auto jws = decodeJws(t);
  ASSERT_TRUE(jws.isOk()) << jws.status().message();
  EXPECT_EQ(jws->alg, GetParam());
  EXPECT_EQ(jws->kid, key.kid);
  EXPECT_TRUE(verifyJws(*jws, jwkOf(key))) << algName(GetParam());
}

TEST_P(EveryAlgorithm, RejectsAFlippedSignatureBit) {
  const auto& key = sharedKey(GetParam());
  auto jws = decodeJws(token(key));
  ASSERT_TRUE(jws.isOk());
  jws->signature[jws->signature.size() / 2] ^= 0x01;
  EXPECT_THAT(verifyJws(*jws, jwkOf(key)).message(), HasSubstr("signature verification failed"));
}

TEST_P(EveryAlgorithm, RefusesAKeyOfAnotherType) {
  const Alg other = GetParam() == Alg::kEdDSA ? Alg::kES256 : Alg::kEdDSA;
  auto jws = decodeJws(token(sharedKey(GetParam())));
  Jwk wrong = jwkOf(sharedKey(other));
  wrong.alg.clear();
  EXPECT_THAT(verifyJws(*jws, wrong).message(), HasSubstr(" needs an "));
}

INSTANTIATE_TEST_SUITE_P(Jws, EveryAlgorithm, ::testing::ValuesIn(kAllAlgs),
                         [](const auto& info) { return std::string(algName(info.param)); });

TEST(JwtTest, PssHeaderWithPkcs1SignatureFails) {
  const auto& key = sharedKey(Alg::kRS256);
  const std::string input = base64UrlEncode(R"({"alg":"PS256"})") + "." + base64UrlEncode("{}");
  const std::string t = input + "." + base64UrlEncode(*signBytes(Alg::kRS256, key.key, input));
  auto jws = decodeJws(t);
  ASSERT_TRUE(jws.isOk());
  Jwk jwk = jwkOf(key);
  jwk.alg.clear();
  EXPECT_FALSE(verifyJws(*jws, jwk));
}

TEST(JwtTest, JwkAlgMustMatchTheHeader) {
  auto jws = decodeJws(token(sharedKey(Alg::kRS256)));
  Jwk jwk = jwkOf(sharedKey(Alg::kRS256));
  jwk.alg = "RS512";
  EXPECT_THAT(verifyJws(*jws, jwk).message(), HasSubstr("is for RS512, not RS256"));
}

TEST(JwtTest, EncryptionKeysDoNotVerify) {
  auto jws = decodeJws(token(sharedKey(Alg::kRS256)));
  Jwk jwk = jwkOf(sharedKey(Alg::kRS256));
  jwk.use = "enc";
  EXPECT_THAT(verifyJws(*jws, jwk).message(), HasSubstr("not a signature key"));
}

TEST(JwtTest, EcdsaSignatureInDerIsRefused) {
  const auto& key = sharedKey(Alg::kES256);
  const std::string input = base64UrlEncode(R"({"alg":"ES256"})") + "." + base64UrlEncode("{}");
  const std::string der = *signBytes(Alg::kES256, key.key, input, /*ecdsa_der=*/true);
  auto jws = decodeJws(input + "." + base64UrlEncode(der));
  ASSERT_TRUE(jws.isOk());
  EXPECT_THAT(verifyJws(*jws, jwkOf(key)).message(),
              HasSubstr("ES256 signature must be 64 bytes (raw R||S)"));
}

TEST(JwtTest, HeaderMustBeAnObjectWithAnAlg) {
  EXPECT_THAT(decodeJws(base64UrlEncode("[]") + ".e30.c2ln").status().message(),
              HasSubstr("header is not a JSON object"));
  EXPECT_THAT(decodeJws(base64UrlEncode("{}") + ".e30.c2ln").status().message(),
              HasSubstr("no \"alg\""));
  EXPECT_THAT(decodeJws(base64UrlEncode(R"({"alg":"RS1"})") + ".e30.c2ln").status().message(),
              HasSubstr("unsupported signature algorithm RS1"));
}

TEST(JwtTest, CritExtensionsAreRefused) {
  auto r = decodeJws(base64UrlEncode(R"({"alg":"RS256","crit":["exp"],"exp":1})") + ".e30.c2ln");
  EXPECT_THAT(r.status().message(), HasSubstr("critical extensions that are not understood: exp"));
}

TEST(JwtTest, EmptySignatureIsMalformed) {
  auto r = decodeJws(base64UrlEncode(R"({"alg":"RS256"})") + ".e30.");
  EXPECT_THAT(r.status().message(), HasSubstr("signature is empty"));
}

TEST(JwkTest, SymmetricAndUnknownKeysAreSkippedWithANote) {
  const std::string rsa =
      boost::json::serialize(*publicJwk(sharedKey(Alg::kRS256).key, "good", "RS256"));
  auto set = parseJwks(R"({"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"},)" + rsa +
                       R"(,{"kty":"EC","crv":"P-521","kid":"big"}, 7]})");
  ASSERT_TRUE(set.isOk());
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "good");
  EXPECT_EQ(set->keys[0].bits, 2048);
  ASSERT_EQ(set->skipped.size(), 3u);
  EXPECT_THAT(set->skipped[0], HasSubstr("'oct' is not an accepted"));
  EXPECT_THAT(set->skipped[1], HasSubstr("unsupported EC curve 'P-521'"));
}

TEST(JwkTest, EcPointOffTheCurveIsRejected) {
  auto jwk = *publicJwk(sharedKey(Alg::kES256).key, "k", "ES256");
  std::string y = *base64UrlDecode(jwk["y"].as_string());
  y[31] ^= 0x01;
  jwk["y"] = base64UrlEncode(y);
  EXPECT_FALSE(parseJwk(jwk).isOk());
}

TEST(JwkTest, MalformedDocumentsFail) {
  EXPECT_FALSE(parseJwks("not json").isOk());
  EXPECT_FALSE(parseJwks(R"({"keys": {}})").isOk());
  EXPECT_TRUE(parseJwks(R"({"keys": []})").isOk());
}

}  // namespace
}  // namespace jg::identity
