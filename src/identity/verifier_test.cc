#include "identity/verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>

#include "identity/base64url.h"
#include "identity/test_support.h"

namespace jg::identity {
namespace {

using ::testing::ElementsAre;
using testing::FakeHttp;
using ::testing::HasSubstr;
using testing::sharedKey;
using testing::TestIssuer;
using testing::TestKey;
constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_ = std::make_shared<FakeHttp>();
    idp_.publish(*http_, {&sharedKey(Alg::kRS256), &sharedKey(Alg::kES256), &sharedKey(Alg::kEdDSA),
                          &testing::weakRsaKey()});
    settings_.issuers = {idp_.settings()};
  }
  Verifier& verifier() {
    if (!verifier_) {
      auto v = Verifier::create(settings_, clock_, http_);
      EXPECT_TRUE(v.isOk()) << v.status().message();
      verifier_ = std::move(*v);
    }
    return *verifier_;
  }
  std::string good(Alg alg = Alg::kRS256) { return idp_.sign(sharedKey(alg), idp_.claims(kNow)); }
  // Expects a refusal whose message contains `want`, with the SQLSTATE, never quoting the token.
  void expectRefused(const std::string& token, const std::string& want,
                     const std::string& sqlstate = "28P01") {
    auto r = verifier().verify(token);
    ASSERT_FALSE(r.isOk()) << "accepted, expected: " << want;
    EXPECT_THAT(r.status().message(), HasSubstr(want));
    EXPECT_EQ(r.status().sqlstate(), sqlstate) << r.status().message();
    if (token.size() > 16) {
      EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr(token.substr(token.size() - 16))));
    }
  }

  ManualClock clock_ = ManualClock::atUnix(kNow);
  std::shared_ptr<FakeHttp> http_;
  TestIssuer idp_;
  Settings settings_;
  std::unique_ptr<Verifier> verifier_;
};

TEST_F(VerifierTest, EveryAlgorithmVerifiesThroughDiscovery) {
  const TestKey* keys[] = {
      &sharedKey(Alg::kRS256), &sharedKey(Alg::kRS384), &sharedKey(Alg::kRS512),
      &sharedKey(Alg::kPS256), &sharedKey(Alg::kPS384), &sharedKey(Alg::kPS512),
      &sharedKey(Alg::kES256), &sharedKey(Alg::kES384), &sharedKey(Alg::kEdDSA)};
  idp_.publish(*http_, std::vector<const TestKey*>(std::begin(keys), std::end(keys)));
  for (const TestKey* key : keys) {
    auto id = verifier().verify(idp_.sign(*key, idp_.claims(kNow)));
    ASSERT_TRUE(id.isOk()) << algName(key->alg) << ": " << id.status().message();
    EXPECT_EQ(id->subject, "alice");
    EXPECT_EQ(id->email, "alice@example.com");
    EXPECT_THAT(id->groups, ElementsAre("rag", "analysts"));
    EXPECT_EQ(id->issuer, "https://idp.test");
    EXPECT_EQ(id->token_hash.size(), 64u);
  }
}

TEST_F(VerifierTest, TokenWithoutKidIsCheckedAgainstFittingKeys) {
  auto claims = idp_.claims(kNow);
  const auto& key = sharedKey(Alg::kES256);
  auto token = *signJws(Alg::kES256, key.key, "", {}, claims);
  EXPECT_TRUE(verifier().verify(token).isOk());
}

// --- The attack table: each refused with an actionable message, no crash. ---

TEST_F(VerifierTest, AlgNoneIsRefused) {
  const std::string payload = base64UrlEncode(boost::json::serialize(idp_.claims(kNow)));
  expectRefused(base64UrlEncode(R"({"alg":"none"})") + "." + payload + ".", "alg \"none\"");
  expectRefused(base64UrlEncode(R"({"alg":"none","kid":"k-RS256"})") + "." + payload + ".c2ln",
                "alg \"none\"");
}

TEST_F(VerifierTest, Hs256SignedWithThePublicKeyAsSecretIsRefused) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, sharedKey(Alg::kRS256).key.get());
  char* pem = nullptr;
  const long pem_len = BIO_get_mem_data(bio, &pem);
  const std::string input = base64UrlEncode(R"({"alg":"HS256","kid":"k-RS256"})") + "." +
                            base64UrlEncode(boost::json::serialize(idp_.claims(kNow)));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), pem, static_cast<int>(pem_len),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  BIO_free(bio);
  expectRefused(input + "." + base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_len)),
                "HMAC-signed tokens (alg HS256) are refused");
}

TEST_F(VerifierTest, UnknownKidIsRefusedNamingWhereKeysCameFrom) {
  const TestKey stranger{"nope", Alg::kRS256, sharedKey(Alg::kRS384).key};
  expectRefused(idp_.sign(stranger, idp_.claims(kNow)),
                "signing key kid=nope not found at https://idp.test/jwks");
}

TEST_F(VerifierTest, SignatureByAnotherKeyThanTheKidSaysIsRefused) {
  const TestKey liar{"k-RS256", Alg::kRS256, sharedKey(Alg::kRS384).key};
  expectRefused(idp_.sign(liar, idp_.claims(kNow)),
                "signature verification failed (RS256, kid=k-RS256)");
}

TEST_F(VerifierTest, AlgThatDoesNotFitTheKeyIsRefused) {
  const TestKey confused{"k-RS256", Alg::kES256, sharedKey(Alg::kES256).key};
  expectRefused(idp_.sign(confused, idp_.claims(kNow)), "ES256 needs an EC P-256 key");
}

TEST_F(VerifierTest, ExpiredTokenIsRefusedWithItsExpiry) {
  auto claims = idp_.claims(kNow - 7200);
  expectRefused(idp_.sign(sharedKey(Alg::kRS256), claims), "token expired at 2027-01-15T07:00:00Z");
}

TEST_F(VerifierTest, NotBeforeInTheFutureIsRefused) {
  auto claims = idp_.claims(kNow);
  claims["nbf"] = kNow + 600;
  expectRefused(idp_.sign(sharedKey(Alg::kRS256), claims), "not valid before");
}

TEST_F(VerifierTest, UnknownIssuerIsRefused) {
  TestIssuer evil("https://evil.test");
  expectRefused(evil.sign(sharedKey(Alg::kRS256), evil.claims(kNow)),
                "unknown issuer https://evil.test", "28000");
  EXPECT_EQ(http_->calls("https://evil.test/.well-known/openid-configuration"), 0);
}

TEST_F(VerifierTest, WrongAudienceIsRefused) {
  TestIssuer other_aud("https://idp.test", "billing");
  expectRefused(other_aud.sign(sharedKey(Alg::kRS256), other_aud.claims(kNow)),
                "audience mismatch: expected jitgate, token is for billing", "28000");
}

TEST_F(VerifierTest, TokenForAnotherAudienceReplayedIsRefused) {
  auto claims = idp_.claims(kNow);
  claims["aud"] = {"https://reports.internal/", "reports"};
  expectRefused(idp_.sign(sharedKey(Alg::kES256), claims),
                "token is for https://reports.internal/, reports", "28000");
}

TEST_F(VerifierTest, TamperedPayloadIsRefused) {
  auto claims = idp_.claims(kNow);
  claims["groups"] = {"admins"};
  const std::string forged = base64UrlEncode(boost::json::serialize(claims));
  expectRefused(testing::replacePart(good(), 1, forged), "signature verification failed");
}

TEST_F(VerifierTest, TamperedSignatureIsRefused) {
  std::string token = good(Alg::kEdDSA);
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  expectRefused(token, "signature verification failed (EdDSA");
}

TEST_F(VerifierTest, EveryTruncationIsRefusedCleanly) {
  const std::string token = good(Alg::kES256);
  for (size_t len = 0; len < token.size(); ++len) {
    auto r = verifier().verify(token.substr(0, len));
    ASSERT_FALSE(r.isOk()) << len;
    EXPECT_EQ(r.status().sqlstate(), "28P01") << len << ": " << r.status().message();
  }
  expectRefused(token.substr(0, token.find('.')), "three dot-separated parts");
}

TEST_F(VerifierTest, BadBase64UrlIsRefused) {
  const std::string token = good();
  expectRefused(testing::replacePart(token, 0, base64UrlEncode(R"({"alg":"RS256"})") + "=="),
                "header is not valid base64url");
  std::string sig = token.substr(token.rfind('.') + 1);
  sig[3] = '+';
  expectRefused(testing::replacePart(token, 2, sig), "signature is not valid base64url");
  expectRefused(testing::replacePart(token, 1, "e30\n"), "payload is not valid base64url");
}

TEST_F(VerifierTest, OneMegabyteTokenIsRefusedBeforeDecoding) {
  expectRefused(std::string(1024 * 1024, 'A'), "token too large: 1048576 bytes (limit 16384)");
  EXPECT_EQ(http_->totalCalls(), 0);
}

TEST_F(VerifierTest, EmbeddedKeyHeadersAreRefused) {
  auto claims = idp_.claims(kNow);
  const auto& key = sharedKey(Alg::kRS256);
  expectRefused(idp_.sign(key, claims, {{"jwk", *publicJwk(key.key, key.kid, "RS256")}}),
                "\"jwk\" is refused");
  expectRefused(idp_.sign(key, claims, {{"jku", "https://evil.test/jwks"}}), "\"jku\" is refused");
  expectRefused(idp_.sign(key, claims, {{"x5u", "https://evil.test/cert"}}), "\"x5u\" is refused");
  EXPECT_EQ(http_->calls("https://evil.test/jwks"), 0);
}

TEST_F(VerifierTest, EcdsaSignatureInDerIsRefused) {
  const auto& key = sharedKey(Alg::kES256);
  const std::string input = base64UrlEncode(R"({"alg":"ES256","kid":"k-ES256"})") + "." +
                            base64UrlEncode(boost::json::serialize(idp_.claims(kNow)));
  const std::string der = *signBytes(Alg::kES256, key.key, input, /*ecdsa_der=*/true);
  expectRefused(input + "." + base64UrlEncode(der), "ES256 signature must be 64 bytes");
}

TEST_F(VerifierTest, WeakRsaKeyIsRefused) {
  expectRefused(idp_.sign(testing::weakRsaKey(), idp_.claims(kNow)),
                "kid=k-weak is a 1024-bit RSA key; at least 2048 bits are required");
}

// --- Caching ---

TEST_F(VerifierTest, VerifiedTokensAreCachedUntilTheyExpire) {
  const std::string token = good();
  ASSERT_TRUE(verifier().verify(token).isOk());
  EXPECT_EQ(verifier().cachedTokens(), 1u);
  http_->setDown(true);
  clock_.advance(std::chrono::minutes(30));
  auto again = verifier().verify(token);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->subject, "alice");
  clock_.advance(std::chrono::minutes(32));  // past exp + skew
  expectRefused(token, "token expired at");
}

TEST_F(VerifierTest, CachedAnswersOnlyForTokensVerifiedBeforeAndStillValid) {
  const std::string token = good();
  EXPECT_FALSE(verifier().cached(token).has_value());  // never verified: no answer, no fetch
  ASSERT_TRUE(verifier().verify(token).isOk());
  auto hit = verifier().cached(token);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->subject, "alice");
  EXPECT_FALSE(verifier().cached(token + "x").has_value());
  clock_.advance(std::chrono::minutes(62));  // past exp + skew
  EXPECT_FALSE(verifier().cached(token).has_value());
}

TEST_F(VerifierTest, CacheIsBoundedBySize) {
  settings_.token_cache_size = 3;
  for (int i = 0; i < 10; ++i) {
    auto claims = idp_.claims(kNow);
    claims["jti"] = i;
    ASSERT_TRUE(verifier().verify(idp_.sign(sharedKey(Alg::kEdDSA), claims)).isOk());
  }
  EXPECT_EQ(verifier().cachedTokens(), 3u);
}

TEST_F(VerifierTest, FailuresAreNotCached) {
  auto claims = idp_.claims(kNow);
  claims["nbf"] = kNow + 600;
  const std::string token = idp_.sign(sharedKey(Alg::kRS256), claims);
  EXPECT_FALSE(verifier().verify(token).isOk());
  EXPECT_EQ(verifier().cachedTokens(), 0u);
  clock_.advance(std::chrono::minutes(10));
  EXPECT_TRUE(verifier().verify(token).isOk());
}

// --- Several issuers, keys and rotation ---

TEST_F(VerifierTest, SeveralIssuersEachUseTheirOwnKeys) {
  TestIssuer second("https://login.partner.test", "jitgate");
  second.publish(*http_, {&sharedKey(Alg::kPS256)});
  settings_.issuers.push_back(second.settings());
  auto a = verifier().verify(good());
  auto b = verifier().verify(second.sign(sharedKey(Alg::kPS256), second.claims(kNow)));
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(b->issuer, "https://login.partner.test");
  // A key of the first issuer does not vouch for the second.
  expectRefused(second.sign(sharedKey(Alg::kRS256), second.claims(kNow)),
                "kid=k-RS256 not found at https://login.partner.test/jwks");
}

TEST_F(VerifierTest, RotatedKeyIsFetchedOnUnknownKid) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  idp_.publish(*http_, {&sharedKey(Alg::kES384)});
  clock_.advance(std::chrono::seconds(settings_.min_refresh_interval));
  auto r = verifier().verify(good(Alg::kES384));
  EXPECT_TRUE(r.isOk()) << r.status().message();
}

TEST_F(VerifierTest, BogusKidFloodFetchesAtMostOncePerInterval) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  const int before = http_->calls(idp_.jwksUri());
  for (int i = 0; i < 200; ++i) {
    const TestKey bogus{"bogus-" + std::to_string(i), Alg::kRS256, sharedKey(Alg::kRS256).key};
    EXPECT_FALSE(verifier().verify(idp_.sign(bogus, idp_.claims(kNow))).isOk());
    if (i == 100) {
      clock_.advance(settings_.min_refresh_interval);
    }
  }
  EXPECT_EQ(http_->calls(idp_.jwksUri()) - before, 1);
}

TEST_F(VerifierTest, CachedKeysKeepWorkingWhileTheProviderIsDownUntilStale) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  http_->setDown(true);
  clock_.advance(std::chrono::hours(2));  // past jwks_refresh: a refresh is attempted and fails
  auto claims = idp_.claims(clock_.nowUnixSeconds());
  EXPECT_TRUE(verifier().verify(idp_.sign(sharedKey(Alg::kES256), claims)).isOk());
  clock_.advance(std::chrono::hours(23));
  claims = idp_.claims(clock_.nowUnixSeconds());
  expectRefused(idp_.sign(sharedKey(Alg::kES256), claims),
                "signing keys of https://idp.test are stale", "28000");
}

TEST_F(VerifierTest, UnreachableProviderWithoutCachedKeysIsReported) {
  http_->setDown(true);
  auto r = verifier().verify(good());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("cannot obtain the signing keys of https://idp.test: cannot connect to "
                        "https://idp.test/.well-known/openid-configuration"));
}

TEST_F(VerifierTest, UnknownKidWhileTheProviderIsDownNamesTheFailedFetch) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  http_->setDown(true);
  clock_.advance(settings_.min_refresh_interval);
  expectRefused(good(Alg::kES384), "kid=k-ES384 is not among the cached keys of https://idp.test",
                "28000");
  expectRefused(good(Alg::kES384), "cannot be refreshed: cannot connect to", "28000");
  http_->setDown(false);
  idp_.publish(*http_, {&sharedKey(Alg::kES384)});
  clock_.advance(settings_.min_refresh_interval);
  EXPECT_TRUE(verifier().verify(good(Alg::kES384)).isOk());
}

TEST_F(VerifierTest, ReloadedVerifierKeepsThePreviousKeysWhileTheProviderIsDown) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  http_->setDown(true);
  auto reloaded = Verifier::create(settings_, clock_, http_);
  ASSERT_TRUE(reloaded.isOk());
  EXPECT_FALSE((*reloaded)->verify(good(Alg::kES256)).isOk());  // nothing cached of its own
  auto adopted = Verifier::create(settings_, clock_, http_);
  ASSERT_TRUE(adopted.isOk());
  (*adopted)->adoptKeys(verifier());
  auto r = (*adopted)->verify(good(Alg::kES256));
  EXPECT_TRUE(r.isOk()) << r.status().message();
}

TEST_F(VerifierTest, KeysOfAnotherIssuerAreNotAdopted) {
  ASSERT_TRUE(verifier().verify(good()).isOk());
  http_->setDown(true);
  Settings other = settings_;
  other.issuers[0].jwks_uri = "https://idp.test/other-jwks";
  auto reloaded = Verifier::create(other, clock_, http_);
  ASSERT_TRUE(reloaded.isOk());
  (*reloaded)->adoptKeys(verifier());
  EXPECT_FALSE((*reloaded)->verify(good()).isOk());
}

TEST_F(VerifierTest, AlgorithmAllowListIsEnforced) {
  settings_.issuers[0].algorithms = {Alg::kES256};
  EXPECT_TRUE(verifier().verify(good(Alg::kES256)).isOk());
  expectRefused(good(Alg::kRS256), "algorithm RS256 is not accepted", "28000");
}

TEST_F(VerifierTest, CreateRejectsUnusableSettings) {
  Settings none;
  EXPECT_FALSE(Verifier::create(none, clock_, http_).isOk());
  settings_.issuers[0].issuer = "http://idp.test";
  auto r = Verifier::create(settings_, clock_, http_);
  ASSERT_FALSE(r.isOk());
  EXPECT_THAT(r.status().message(), HasSubstr("plain http"));
  settings_.issuers[0].allow_insecure_http = true;
  EXPECT_TRUE(Verifier::create(settings_, clock_, http_).isOk());
}

TEST_F(VerifierTest, BackgroundRefreshStartsAndStops) {
  verifier().startBackgroundRefresh();
  verifier().stop();
  EXPECT_TRUE(verifier().verify(good()).isOk());
}

}  // namespace
}  // namespace jg::identity
