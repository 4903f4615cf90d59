#include "creds/token_issuer.h"

#include <gtest/gtest.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "identity/base64url.h"
#include "identity/jwt_sign.h"

namespace jg::creds {
namespace {

using identity::Alg;
using identity::base64UrlDecode;

std::string str(const boost::json::value& v) {
  return std::string(v.as_string());
}

struct Parts {
  std::string input;  // header.payload
  boost::json::object header, payload;
  std::string signature;
};

Parts split(const std::string& token) {
  Parts p;
  auto a = token.find('.'), b = token.rfind('.');
  p.input = token.substr(0, b);
  p.header = boost::json::parse(*base64UrlDecode(token.substr(0, a))).as_object();
  p.payload = boost::json::parse(*base64UrlDecode(token.substr(a + 1, b - a - 1))).as_object();
  p.signature = *base64UrlDecode(token.substr(b + 1));
  return p;
}

// The published key, rebuilt with OpenSSL from the JWKS alone.
EVP_PKEY* keyFromJwks(const std::string& jwks) {
  auto key = boost::json::parse(jwks).at("keys").as_array().at(0).as_object();
  if (key.at("kty") == "OKP") {
    std::string x = *base64UrlDecode(key.at("x").as_string());
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                       reinterpret_cast<const unsigned char*>(x.data()), x.size());
  }
  std::string x = *base64UrlDecode(key.at("x").as_string());
  std::string y = *base64UrlDecode(key.at("y").as_string());
  std::string point = "\x04" + x + y;
  OSSL_PARAM params[] = {OSSL_PARAM_utf8_string("group", const_cast<char*>("P-256"), 0),
                         OSSL_PARAM_octet_string("pub", point.data(), point.size()),
                         OSSL_PARAM_END};
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

std::string rawToDer(const std::string& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

bool verify(const std::string& token, const std::string& jwks) {
  Parts p = split(token);
  EVP_PKEY* key = keyFromJwks(jwks);
  const bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
  std::string sig = ed ? p.signature : rawToDer(p.signature);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, ed ? nullptr : EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(p.input.data()), p.input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

class TokenIssuerTest : public ::testing::TestWithParam<Alg> {
 protected:
  std::unique_ptr<TokenIssuer> make() {
    auto key = identity::generateKey(GetParam());
    EXPECT_TRUE(key);
    auto t = TokenIssuer::fromKey(*key, "https://jitgate.example", clock_);
    EXPECT_TRUE(t) << t.status().message();
    return std::move(*t);
  }
  ManualClock clock_ = ManualClock::atUnix(1'800'000'000);
};

TEST_P(TokenIssuerTest, TokenVerifiesWithThePublishedJwksAndCarriesTheClaims) {
  auto issuer = make();
  auto token =
      issuer->sign("alice@example.com", "https://search.internal", std::chrono::seconds(30));
  ASSERT_TRUE(token) << token.status().message();
  EXPECT_TRUE(verify(*token, issuer->jwksJson()));
  Parts p = split(*token);
  EXPECT_EQ(str(p.header.at("alg")), GetParam() == Alg::kEdDSA ? "EdDSA" : "ES256");
  EXPECT_EQ(str(p.header.at("kid")), issuer->kid());
  EXPECT_EQ(str(p.payload.at("iss")), "https://jitgate.example");
  EXPECT_EQ(str(p.payload.at("sub")), "alice@example.com");
  EXPECT_EQ(str(p.payload.at("aud")), "https://search.internal");
  EXPECT_EQ(p.payload.at("iat").as_int64(), 1'800'000'000);
  EXPECT_EQ(p.payload.at("exp").as_int64(), 1'800'000'030);
  auto jwks = boost::json::parse(issuer->jwksJson()).at("keys").as_array().at(0).as_object();
  EXPECT_EQ(str(jwks.at("kid")), issuer->kid());
  EXPECT_EQ(str(jwks.at("use")), "sig");
  EXPECT_FALSE(jwks.contains("d"));  // never the private part
}

TEST_P(TokenIssuerTest, TamperedTokenDoesNotVerify) {
  auto issuer = make();
  auto token = issuer->sign("alice", "up");
  ASSERT_TRUE(token);
  Parts p = split(*token);
  p.payload["sub"] = "mallory";
  std::string forged = p.input.substr(0, p.input.find('.') + 1) +
                       identity::base64UrlEncode(boost::json::serialize(p.payload)) +
                       token->substr(token->rfind('.'));
  EXPECT_FALSE(verify(forged, issuer->jwksJson()));
}

TEST_P(TokenIssuerTest, JtiIsUniqueAndTtlIsCappedAtSixtySeconds) {
  auto issuer = make();
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto t = issuer->sign("alice", "up");
    ASSERT_TRUE(t);
    ids.insert(std::string(split(*t).payload.at("jti").as_string()));
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(split(*issuer->sign("a", "b")).payload.at("exp").as_int64(), 1'800'000'060);
  EXPECT_FALSE(issuer->sign("alice", "up", std::chrono::seconds(61)));
  EXPECT_FALSE(issuer->sign("alice", "up", std::chrono::seconds(0)));
  EXPECT_FALSE(issuer->sign("", "up"));
  EXPECT_FALSE(issuer->sign("alice", ""));
}

INSTANTIATE_TEST_SUITE_P(Algs, TokenIssuerTest, ::testing::Values(Alg::kEdDSA, Alg::kES256));

TEST(TokenIssuerKeys, RsaKeysAreRefused) {
  auto key = identity::generateKey(Alg::kRS256);
  ASSERT_TRUE(key);
  EXPECT_FALSE(TokenIssuer::fromKey(*key, "iss", Clock::system()));
}

TEST(TokenIssuerKeys, KeygenWritesAPrivateFileThatLoadsAndNeverOverwrites) {
  auto path = std::filesystem::temp_directory_path() /
              ("jg-creds-key-" + std::to_string(::getpid()) + ".pem");
  std::filesystem::remove(path);
  ASSERT_TRUE(generateKeyFile(path.string(), Alg::kEdDSA));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto issuer = TokenIssuer::load(path.string(), "iss", Clock::system());
  ASSERT_TRUE(issuer) << issuer.status().message();
  EXPECT_EQ((*issuer)->alg(), Alg::kEdDSA);
  Status again = generateKeyFile(path.string(), Alg::kEdDSA);
  EXPECT_FALSE(again);
  EXPECT_NE(again.message().find("already exists"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(TokenIssuerKeys, ThumbprintMatchesRfc7638Example) {
  // RFC 7638, section 3.1.
  boost::json::object jwk{
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
       "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
       "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
       "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  EXPECT_EQ(jwkThumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

}  // namespace
}  // namespace jg::creds
