#include "creds/settings.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace jg::creds {
namespace {

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("jg-creds-settings-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "admin_pw") << "s3cret-admin\n";
    std::ofstream(dir_ / "app_pw") << "s3cret-app\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ResourceCreds parse(const std::string& yaml, std::string& errors_out) {
    auto node = config::Node::parse(yaml, (dir_ / "gw.yaml").string());
    EXPECT_TRUE(node) << node.status().message();
    config::Errors errors;
    ResourceCreds rc = parseResourceCreds(*node, errors);
    errors_out = errors.joined();
    return rc;
  }
  std::filesystem::path dir_;
};

TEST_F(SettingsTest, AdminBlockSelectsEphemeralAndInheritsTheUpstreamEndpoint) {
  std::string errors;
  auto rc = parse(R"(
name: kb
upstream: { host: db.internal, port: 6543, database: kbdb, sslmode: require, user: app }
admin: { user: jitgate_admin, password_file: admin_pw }
roles: { reader: kb_reader, writer: kb_writer }
max_ttl: 2h
)",
                  errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(rc.mode, Mode::kEphemeral);
  EXPECT_EQ(rc.admin.host, "db.internal");
  EXPECT_EQ(rc.admin.port, 6543);
  EXPECT_EQ(rc.admin.database, "kbdb");
  EXPECT_EQ(rc.admin.sslmode, "require");
  EXPECT_EQ(rc.admin.user, "jitgate_admin");
  EXPECT_EQ(rc.admin.password.reveal(), "s3cret-admin");
  EXPECT_EQ(rc.roles.at("reader"), "kb_reader");
  EXPECT_EQ(rc.max_ttl, std::chrono::hours(2));
  EXPECT_EQ(rc.upstream.database, "kbdb");
}

TEST_F(SettingsTest, InlineAdminPasswordIsRefusedWithoutEchoingIt) {
  std::string errors;
  parse(R"(
name: kb
upstream: { host: h }
admin: { user: a, password: do-not-echo-me }
roles: { reader: r }
)",
        errors);
  EXPECT_NE(errors.find("inline passwords are not allowed"), std::string::npos);
  EXPECT_EQ(errors.find("do-not-echo-me"), std::string::npos);
}

TEST_F(SettingsTest, EphemeralNeedsARoleMapAndAdminPassword) {
  std::string errors;
  parse("name: kb\nupstream: { host: h }\nadmin: { user: a }\n", errors);
  EXPECT_NE(errors.find("password_file or password_env is required"), std::string::npos);
  EXPECT_NE(errors.find("role map"), std::string::npos);
}

TEST_F(SettingsTest, NoAdminMeansStaticWithTheUpstreamLogin) {
  std::string errors;
  auto rc = parse("name: kb\nupstream: { user: app, password_file: app_pw }\n", errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(rc.mode, Mode::kStatic);
  EXPECT_EQ(rc.admin.user, "app");
  EXPECT_EQ(rc.admin.password.reveal(), "s3cret-app");
  EXPECT_EQ(rc.admin.database, "kb");
}

TEST_F(SettingsTest, PasswordFromEnvironment) {
  ::setenv("JG_TEST_ADMIN_PW", "from-env", 1);
  std::string errors;
  auto rc = parse(R"(
name: kb
upstream: {}
admin: { user: a, password_env: JG_TEST_ADMIN_PW, port: 5433 }
roles: { reader: r }
credentials: { mode: ephemeral, prefix: jgx_, pool_size: 4, scram_iterations: 4096 }
)",
                  errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(rc.admin.password.reveal(), "from-env");
  EXPECT_EQ(rc.admin.port, 5433);
  EXPECT_EQ(rc.prefix, "jgx_");
  EXPECT_EQ(rc.pool_size, 4);
  EXPECT_EQ(rc.scram_iterations, 4096);
}

TEST_F(SettingsTest, BadPrefixAndTtlAreReported) {
  std::string errors;
  parse(R"(
name: kb
upstream: {}
admin: { user: a, password_file: admin_pw }
roles: { reader: r }
credentials: { prefix: "Bad-Prefix" }
max_ttl: 1s
)",
        errors);
  EXPECT_NE(errors.find("credentials.prefix"), std::string::npos);
  EXPECT_NE(errors.find("max_ttl must be between"), std::string::npos);
}

}  // namespace
}  // namespace jg::creds
