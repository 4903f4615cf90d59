#include "cli/login_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>

#include "identity/base64url.h"

namespace jg::cli {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow{seconds(1'800'000'000)};

std::string jwt(const json::object& claims) {
  return identity::base64UrlEncode(R"({"alg":"RS256","typ":"at+jwt"})") + "." +
         identity::base64UrlEncode(json::serialize(claims)) + "." +
         identity::base64UrlEncode("signature");
}

class LoginCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jg-login-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "token.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& text) { std::ofstream(path_) << text; }
  void writeCache(const std::string& token, int64_t expires_at) {
    write(json::serialize(json::object{{"issuer", "https://idp.example/"},
                                       {"gateway", "127.0.0.1:6432"},
                                       {"access_token", token},
                                       {"expires_at", expires_at}}));
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(LoginCacheTest, IdentityComesFromTheTokenClaims) {
  writeCache(jwt({{"iss", "https://idp.example/oidc"},
                  {"sub", "alice"},
                  {"email", "alice@example.com"},
                  {"groups", json::array{"rag", "data-owners"}},
                  {"exp", 1'800'000'600}}),
             1'800'000'100);
  auto login = readLogin(path_, kNow);
  ASSERT_TRUE(login) << login.status().message();
  EXPECT_EQ(login->subject, "alice");
  EXPECT_EQ(login->email, "alice@example.com");
  EXPECT_EQ(login->groups, (std::vector<std::string>{"rag", "data-owners"}));
  EXPECT_EQ(login->issuer, "https://idp.example/oidc");
  EXPECT_EQ(login->gateway, "127.0.0.1:6432");
  EXPECT_EQ(login->expires_at, system_clock::time_point(seconds(1'800'000'600)));
  EXPECT_FALSE(login->expired);
  EXPECT_FALSE(login->opaque);
}

TEST_F(LoginCacheTest, TokenPastItsExpiryIsReportedExpired) {
  writeCache(jwt({{"sub", "alice"}, {"exp", 1'799'999'999}}), 1'800'000'100);
  auto login = readLogin(path_, kNow);
  ASSERT_TRUE(login);
  EXPECT_TRUE(login->expired);
  EXPECT_EQ(login->issuer, "https://idp.example/");  // no iss claim: the cache's issuer
}

TEST_F(LoginCacheTest, OpaqueTokenUsesTheCachedExpiry) {
  writeCache("not-a-jwt", 1'800'000'100);
  auto login = readLogin(path_, kNow);
  ASSERT_TRUE(login);
  EXPECT_TRUE(login->opaque);
  EXPECT_TRUE(login->subject.empty());
  EXPECT_EQ(login->expires_at, system_clock::time_point(seconds(1'800'000'100)));
  EXPECT_FALSE(login->expired);
}

TEST_F(LoginCacheTest, SingleStringGroupsClaimIsOneGroup) {
  writeCache(jwt({{"sub", "bob"}, {"groups", "admins"}, {"exp", 1'800'000'600}}), 0);
  auto login = readLogin(path_, kNow);
  ASSERT_TRUE(login);
  EXPECT_EQ(login->groups, std::vector<std::string>{"admins"});
}

TEST_F(LoginCacheTest, MissingCacheIsNotFound) {
  auto login = readLogin(path_, kNow);
  ASSERT_FALSE(login);
  EXPECT_EQ(login.status().code(), Code::kNotFound);
}

TEST_F(LoginCacheTest, FileWithoutAnAccessTokenIsNotACache) {
  write(R"({"issuer": "https://idp.example/"})");
  auto login = readLogin(path_, kNow);
  ASSERT_FALSE(login);
  EXPECT_EQ(login.status().code(), Code::kInvalidArgument);
  write("not json");
  EXPECT_EQ(readLogin(path_, kNow).status().code(), Code::kInvalidArgument);
}

TEST_F(LoginCacheTest, JsonNeverCarriesTheToken) {
  const std::string token = jwt({{"sub", "alice"}, {"exp", 1'800'000'600}});
  writeCache(token, 0);
  auto login = readLogin(path_, kNow);
  ASSERT_TRUE(login);
  const std::string text = json::serialize(loginJson(*login));
  EXPECT_EQ(text.find(token.substr(0, 20)), std::string::npos) << text;
  EXPECT_NE(text.find(R"("subject":"alice")"), std::string::npos) << text;
}

TEST_F(LoginCacheTest, RemovingSaysWhetherThereWasACache) {
  writeCache("x", 0);
  auto first = removeLogin(path_);
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  EXPECT_FALSE(std::filesystem::exists(path_));
  auto second = removeLogin(path_);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
}

}  // namespace
}  // namespace jg::cli
