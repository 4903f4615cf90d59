#include "server/config.h"
#include "server/admin_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "server/config_lint.h"

namespace jg::server {
namespace {

constexpr const char* kMinimal = R"(listen: { postgres: 127.0.0.1:6543 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources:
  - name: kb
    upstream: { host: 127.0.0.1, port: 5432, database: kbdb, user: app, sslmode: disable }
policies:
  - { id: allow-all, match: {}, allow: [all] }
)";

TEST(GatewayConfig, MinimalConfigLoads) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(kMinimal, "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  EXPECT_EQ((*cfg)->listen_postgres.port, 6543);
  ASSERT_NE((*cfg)->resource("kb"), nullptr);
  EXPECT_EQ((*cfg)->resource("kb")->upstream.database, "kbdb");
  EXPECT_EQ((*cfg)->resource("kb")->upstream.sslmode, SslMode::kDisable);
  EXPECT_EQ((*cfg)->static_auth.password, "pw");
}

TEST(GatewayConfig, ChecksumIsTheSha256OfTheTextAsLoaded) {
  setenv("JG_TEST_PW", "pw", 1);
  auto a = parseConfig(kMinimal, "gw.yaml");
  auto b = parseConfig(std::string(kMinimal) + "# a comment changes the checksum\n", "gw.yaml");
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ((*a)->checksum.rfind("sha256:", 0), 0u);
  EXPECT_EQ((*a)->checksum.size(), 7u + 64u);
  EXPECT_NE((*a)->checksum, (*b)->checksum);
  EXPECT_EQ((*a)->checksum, (*parseConfig(kMinimal, "other.yaml"))->checksum);
}

TEST(GatewayConfig, AuditRevealGroupsAndVerifyIntervalAreRead) {
  setenv("JG_TEST_PW", "pw", 1);
  std::string yaml = std::string(kMinimal) +
                     "audit: { dir: /tmp/a, raw_payloads: off, signing_key_file: /tmp/k.pem, "
                     "auditor_groups: [auditors], reveal_groups: [auditors-raw], "
                     "verify_interval: 30m }\n";
  auto cfg = parseConfig(yaml, "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  EXPECT_EQ((*cfg)->audit->reveal_groups, std::vector<std::string>{"auditors-raw"});
  EXPECT_EQ((*cfg)->audit->verify_interval, std::chrono::minutes(30));
  auto bad = parseConfig(std::string(kMinimal) +
                             "audit: { dir: /tmp/a, raw_payloads: off, signing_key_file: "
                             "/tmp/k.pem, reveal_groups: [\"\"] }\n",
                         "gw.yaml");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("empty group name"), std::string::npos);
}

TEST(GatewayConfig, EveryErrorNamesFileLineAndKey) {
  setenv("JG_TEST_PW", "pw", 1);
  std::string yaml =
      std::string(kMinimal) + "timeouts: { startup: soon }\nlimits: { max_message_bytes: 12 }\n";
  auto cfg = parseConfig(yaml, "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  const std::string& msg = cfg.status().message();
  EXPECT_NE(msg.find("gw.yaml:9: timeouts.startup: expected a duration"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gw.yaml:10: limits.max_message_bytes: expected an integer"),
            std::string::npos)
      << msg;
}

TEST(GatewayConfig, InlinePasswordsAreRefused) {
  auto cfg = parseConfig(R"(tls: { require_client_tls: false }
auth: { static: { enable_insecure_static: true, password: hunter2 } }
resources: [{ name: kb, upstream: { user: app, password: hunter2 } }]
)",
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("gw.yaml:3: resources[0].upstream.password: inline "
                                        "passwords are not allowed"),
            std::string::npos)
      << cfg.status().message();
  EXPECT_EQ(cfg.status().message().find("hunter2"), std::string::npos);
}

TEST(GatewayConfig, TlsRequiredByDefault) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg =
      parseConfig(R"(auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources: [{ name: kb, upstream: { user: app } }]
)",
                  "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("require_client_tls is true"), std::string::npos);
}

TEST(GatewayConfig, StaticAuthNeedsExplicitOptIn) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(R"(tls: { require_client_tls: false }
auth: { static: { password_env: JG_TEST_PW } }
resources: [{ name: kb, upstream: { user: app } }]
)",
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("gw.yaml:2: auth.static: the static authenticator is for "
                                        "local development only"),
            std::string::npos)
      << cfg.status().message();
}

TEST(GatewayConfig, UnknownKeysAndDuplicateResources) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(R"(tls: { require_client_tls: false }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources:
  - { name: kb, upstream: { user: app } }
  - { name: kb, upstream: { user: x } }
policies: [{ id: allow-all, match: {}, allow: [all] }]
bogus: 1
)",
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("duplicate resource name \"kb\""), std::string::npos);
  EXPECT_NE(cfg.status().message().find("gw.yaml:7: bogus: unknown key"), std::string::npos)
      << cfg.status().message();
}

TEST(GatewayConfig, PoliciesAreRequiredAndCompiled) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(R"(tls: { require_client_tls: false }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources: [{ name: kb, upstream: { user: app } }]
)",
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("a policies section is required"), std::string::npos);
  auto bad = parseConfig(R"(tls: { require_client_tls: false }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources: [{ name: kb, upstream: { user: app } }]
policies: [{ id: x, match: { kinds: [selekt] }, allow: [all] }]
)",
                         "gw.yaml");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("gw.yaml:4"), std::string::npos) << bad.status().message();
}

// A configuration with one resource `kb` minting roles `reader` and `writer`, and `rules`.
std::string lintYaml(const std::string& rules, const std::string& extra = "") {
  return R"(tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources:
  - name: kb
    upstream: { host: 127.0.0.1, database: kbdb, sslmode: disable }
    admin: { user: jg_admin, password_env: JG_TEST_PW }
    roles: { reader: kb_reader, writer: kb_writer }
)" + extra +
         "policies:\n" + rules;
}

std::vector<std::string> warningsOf(const std::string& yaml) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(yaml, "gw.yaml");
  EXPECT_TRUE(cfg.isOk()) << cfg.status().message();
  auto root = config::Node::parse(yaml, "gw.yaml");
  return cfg && root ? configWarnings(*root, **cfg) : std::vector<std::string>{"(no config)"};
}

TEST(ConfigLint, RuleNamingAMissingResourceIsAWarningWithASuggestion) {
  auto w = warningsOf(lintYaml("  - { id: r, match: { resource: kbb }, allow: [select] }\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("gw.yaml:9: policies[r].match.resource: no resource is named 'kbb'; did "
                      "you mean 'kb'?"),
            std::string::npos)
      << w[0];
}

TEST(ConfigLint, RoleTheResourceDoesNotMapIsAWarning) {
  auto w =
      warningsOf(lintYaml("  - { id: r, match: { resource: kb }, allow: [select], "
                          "role: readr }\n"
                          "  - { id: ok, match: { resource: kb }, allow: [select], "
                          "role: writer }\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("policies[r].role: resource 'kb' maps no role 'readr'; did you mean "
                      "'reader'? (roles: reader, writer)"),
            std::string::npos)
      << w[0];
}

TEST(ConfigLint, DenyRuleModifiersAndAScalarKindListAreWarnings) {
  auto w =
      warningsOf(lintYaml("  - { id: r, match: { resource: kb }, allow: select }\n"
                          "  - { id: d, match: { tables: [x] }, action: deny, "
                          "role: reader }\n"));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0],
            "gw.yaml:9: policies[0].allow: expected a list: write [select], not a single "
            "value");
  EXPECT_EQ(w[1], "gw.yaml:10: policies[1].role: has no effect on a deny rule");
}

TEST(ConfigLint, CatalogOnARuleWithoutTablesHasNoEffect) {
  auto w = warningsOf(
      lintYaml("  - { id: r, match: { resource: kb }, allow: [select], catalog: true }\n"
               "  - { id: t, match: { resource: kb, tables: [public.*] }, allow: [select], "
               "catalog: true }\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("gw.yaml:9: policies[0].catalog: has no effect"), std::string::npos) << w[0];
}

TEST(ConfigLint, AGoodFileHasNoWarnings) {
  EXPECT_TRUE(warningsOf(lintYaml("  - { id: r, match: { resource: kb }, allow: [select], "
                                  "role: reader }\n"))
                  .empty());
}

TEST(ConfigLint, StoreInAMissingDirectoryIsAnError) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(lintYaml("  - { id: r, match: {}, allow: [select] }\n",
                                  "store: sqlite:///nonexistent/x.db\n"),
                         "/tmp/gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("store: the directory /nonexistent does not exist"),
            std::string::npos)
      << cfg.status().message();
}

TEST(ConfigLint, RestartOnlyChangesNameTheirKeys) {
  GatewayConfig a;
  GatewayConfig b = a;
  EXPECT_TRUE(restartOnlyChanges(a, b).empty());
  b.listen_admin.port = 9999;
  b.store_url = "sqlite:///tmp/other.db";
  b.timeouts.idle = std::chrono::seconds(5);  // reloadable: not named
  EXPECT_EQ(restartOnlyChanges(a, b), (std::vector<std::string>{"listen.admin", "store"}));
}

}  // namespace
}  // namespace jg::server

namespace jg::server {
namespace {

// kMinimal with another `listen` line (and `extra` appended).
std::string withListen(const std::string& listen, const std::string& extra = "") {
  std::string yaml = kMinimal;
  yaml.replace(0, yaml.find('\n'), listen);
  return yaml + extra;
}

std::string problems(const std::string& yaml) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(yaml, "gw.yaml");
  return cfg.isOk() ? std::string() : cfg.status().message();
}

TEST(GatewayConfig, AdminShortFormIsPlainHttpOnLoopback) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withListen("listen: { postgres: 127.0.0.1:6543, admin: 127.0.0.1:8080 }"),
                         "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  EXPECT_EQ((*cfg)->listen_admin.port, 8080);
  EXPECT_TRUE(adminConfigOf(**cfg).tls.plain_http);
  EXPECT_FALSE(adminConfigOf(**cfg).tls.enabled());
}

TEST(GatewayConfig, AdminPlainHttpOnAPublicAddressIsRefused) {
  EXPECT_NE(problems(withListen("listen: { postgres: 127.0.0.1:6543, admin: 0.0.0.0:8080 }"))
                .find("plain HTTP is allowed on loopback addresses only"),
            std::string::npos);
  EXPECT_NE(problems(withListen("listen: { postgres: 127.0.0.1:6543, admin: { address: "
                                "10.0.0.5:8080, plain_http: true } }"))
                .find("loopback addresses only"),
            std::string::npos);
}

TEST(GatewayConfig, AdminMappingNeedsTlsOrAnExplicitPlainHttpChoice) {
  EXPECT_NE(problems(withListen("listen: { postgres: 127.0.0.1:6543, admin: { address: "
                                "127.0.0.1:8080 } }"))
                .find("give cert and key (TLS), or plain_http: true"),
            std::string::npos);
  EXPECT_EQ(problems(withListen("listen: { postgres: 127.0.0.1:6543, admin: { address: "
                                "127.0.0.1:8080, plain_http: true } }")),
            "");
}

TEST(GatewayConfig, AdminTlsTakesCertAndKeyOnAnyAddress) {
  const std::string dir = ::testing::TempDir();
  for (const char* f : {"admin.crt", "admin.key"}) {
    FILE* out = fopen((dir + "/" + f).c_str(), "w");
    ASSERT_NE(out, nullptr);
    fclose(out);
  }
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withListen("listen: { postgres: 127.0.0.1:6543, admin: { address: "
                                    "0.0.0.0:8443, cert: " +
                                    dir + "/admin.crt, key: " + dir + "/admin.key } }"),
                         "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  EXPECT_TRUE(adminConfigOf(**cfg).tls.enabled());
  EXPECT_EQ(adminConfigOf(**cfg).tls.key_file, dir + "/admin.key");
  EXPECT_NE(problems(withListen("listen: { postgres: 127.0.0.1:6543, admin: { address: "
                                "0.0.0.0:8443, cert: " +
                                dir + "/admin.crt } }"))
                .find("cert and key must be given together"),
            std::string::npos);
}

TEST(GatewayConfig, ConsoleNeedsTheAdminListenerAndAnHttpsRedirect) {
  const std::string console =
      "console: { client_id: c, redirect_url: http://gw.example/console/callback }\n";
  const std::string msg = problems(withListen("listen: { postgres: 127.0.0.1:6543 }", console));
  EXPECT_NE(msg.find("set listen.admin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("http:// is allowed on loopback hosts only"), std::string::npos) << msg;
  EXPECT_NE(msg.find("add an identity section"), std::string::npos) << msg;
}

}  // namespace
}  // namespace jg::server
