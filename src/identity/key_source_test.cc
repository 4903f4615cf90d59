#include "identity/key_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "identity/test_support.h"

namespace jg::identity {
namespace {

using testing::FakeHttp;
using ::testing::HasSubstr;
using testing::sharedKey;
using testing::TestIssuer;
constexpr int64_t kNow = 1'800'000'000;

class KeySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_ = std::make_shared<FakeHttp>();
    idp_.publish(*http_, {&sharedKey(Alg::kRS256)});
    dir_ = std::filesystem::temp_directory_path() /
           ("jg-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<KeySource> source(IssuerSettings is) {
    return std::make_unique<KeySource>(std::move(is), settings_, clock_, http_);
  }

  ManualClock clock_ = ManualClock::atUnix(kNow);
  std::shared_ptr<FakeHttp> http_;
  TestIssuer idp_;
  Settings settings_;
  std::filesystem::path dir_;
};

TEST_F(KeySourceTest, DiscoversTheJwksUri) {
  auto src = source(idp_.settings());
  auto keys = src->keysFor("k-RS256", Alg::kRS256);
  ASSERT_TRUE(keys.isOk()) << keys.status().message();
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_EQ(src->location(), "https://idp.test/jwks");
  EXPECT_EQ(http_->calls("https://idp.test/.well-known/openid-configuration"), 1);
}

TEST_F(KeySourceTest, ExplicitJwksUriSkipsDiscovery) {
  IssuerSettings is = idp_.settings();
  is.jwks_uri = idp_.jwksUri();
  ASSERT_TRUE(source(is)->keysFor("k-RS256", Alg::kRS256).isOk());
  EXPECT_EQ(http_->calls("https://idp.test/.well-known/openid-configuration"), 0);
}

TEST_F(KeySourceTest, DiscoveryForAnotherIssuerIsRefused) {
  http_->set("https://idp.test/.well-known/openid-configuration", 200,
             R"({"issuer":"https://evil.test","jwks_uri":"https://idp.test/jwks"})");
  auto keys = source(idp_.settings())->keysFor("k-RS256", Alg::kRS256);
  EXPECT_THAT(keys.status().message(), HasSubstr("describes another issuer (https://evil.test)"));
}

TEST_F(KeySourceTest, PlainHttpJwksUriFromDiscoveryIsRefused) {
  http_->set("https://idp.test/.well-known/openid-configuration", 200,
             R"({"issuer":"https://idp.test","jwks_uri":"http://idp.test/jwks"})");
  auto keys = source(idp_.settings())->keysFor("k-RS256", Alg::kRS256);
  EXPECT_THAT(keys.status().message(), HasSubstr("which is not https"));
}

TEST_F(KeySourceTest, HttpErrorStatusIsReported) {
  http_->set(idp_.jwksUri(), 503, "busy");
  auto keys = source(idp_.settings())->keysFor("k-RS256", Alg::kRS256);
  EXPECT_THAT(keys.status().message(), HasSubstr("https://idp.test/jwks answered HTTP 503"));
}

TEST_F(KeySourceTest, JwksFileIsReadWithoutHttp) {
  std::filesystem::create_directories(dir_);
  const auto file = (dir_ / "jwks.json").string();
  std::ofstream(file) << TestIssuer::jwksJson({&sharedKey(Alg::kEdDSA)});
  IssuerSettings is = idp_.settings();
  is.jwks_file = file;
  auto src = source(is);
  ASSERT_TRUE(src->keysFor("k-EdDSA", Alg::kEdDSA).isOk());
  EXPECT_EQ(http_->totalCalls(), 0);
  EXPECT_THAT(src->keysFor("k-RS256", Alg::kRS256).status().message(),
              HasSubstr("kid=k-RS256 not found at " + file));
}

TEST_F(KeySourceTest, DiskCacheServesKeysAfterARestartWhileTheProviderIsDown) {
  settings_.jwks_cache_dir = dir_.string();
  ASSERT_TRUE(source(idp_.settings())->refresh());
  bool found = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    found = true;
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  ASSERT_TRUE(found);
  http_->setDown(true);
  clock_.advance(std::chrono::hours(1));
  auto restarted = source(idp_.settings());
  EXPECT_TRUE(restarted->keysFor("k-RS256", Alg::kRS256).isOk());
  EXPECT_EQ(restarted->fetchedAt(),
            std::chrono::system_clock::time_point(std::chrono::seconds(kNow)));
  clock_.advance(std::chrono::hours(24));
  EXPECT_THAT(source(idp_.settings())->keysFor("k-RS256", Alg::kRS256).status().message(),
              HasSubstr("are stale"));
}

TEST_F(KeySourceTest, DiskCacheOfAnotherJwksUriIsIgnored) {
  settings_.jwks_cache_dir = dir_.string();
  ASSERT_TRUE(source(idp_.settings())->refresh());
  http_->setDown(true);
  IssuerSettings is = idp_.settings();
  is.jwks_uri = "https://idp.test/other-jwks";
  EXPECT_FALSE(source(is)->fetchedAt().has_value());
}

TEST_F(KeySourceTest, AJwksWithoutUsableKeysIsAFailedFetch) {
  http_->set(idp_.jwksUri(), 200, R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  EXPECT_THAT(source(idp_.settings())->refresh().message(),
              HasSubstr("no usable signing key at https://idp.test/jwks"));
}

}  // namespace
}  // namespace jg::identity
