#include <gtest/gtest.h>

#include <cstdlib>

#include "server/config.h"

namespace jg::server {
namespace {

std::string withHttp(std::string_view listen, std::string_view resource) {
  return std::string(R"(tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
)") + std::string(listen) +
         "\nresources:\n" + std::string(resource) +
         "policies: [{ id: a, match: {}, allow: [all] }]\n";
}

constexpr const char* kSearch = R"(  - name: kb-search
    kind: http
    upstream: { url: "https://search.example:6333/base/", timeout: 5s }
    credential: { header: { name: API-Key, value_env: JG_TEST_KEY } }
    token: { header: api-key }
    masking: { json_paths: [{ path: "$.result[*].payload.email", strategy: tokenize }] }
    documents: { json_paths: ["$.result[*].id"] }
)";

TEST(HttpConfig, HttpResourceLoadsWithDefaultsAndSecrets) {
  setenv("JG_TEST_PW", "pw", 1);
  setenv("JG_TEST_KEY", "upstream-key", 1);
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", kSearch) + "masking: {}\n",
                         "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  const ResourceConfig* r = (*cfg)->resource("kb-search");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->isHttp());
  const auto& h = *r->http;
  EXPECT_EQ(h.mount, "/kb-search");
  EXPECT_TRUE(h.upstream.tls);
  EXPECT_EQ(h.upstream.host, "search.example");
  EXPECT_EQ(h.upstream.port, 6333);
  EXPECT_EQ(h.upstream.base_path, "/base");
  EXPECT_EQ(h.upstream.response_timeout, std::chrono::seconds(5));
  EXPECT_EQ(h.credential.kind, HttpCredentialConfig::Kind::kHeader);
  EXPECT_EQ(h.credential.header, "api-key");
  EXPECT_EQ(h.credential.value, "upstream-key");
  EXPECT_EQ(h.token_header, "api-key");
  EXPECT_EQ(h.token_scheme, "");  // a named header carries the token alone
  ASSERT_EQ(h.masking.json_paths.size(), 1u);
  EXPECT_EQ(h.masking.json_paths[0].strategy, "tokenize");
  EXPECT_EQ((*cfg)->listen_http.port, 8443);
  EXPECT_EQ((*cfg)->creds.count("kb-search"), 0u);  // no PostgreSQL credentials for it
}

TEST(HttpConfig, HttpResourceWithoutHttpListenerIsAnError) {
  setenv("JG_TEST_PW", "pw", 1);
  setenv("JG_TEST_KEY", "k", 1);
  auto cfg = parseConfig(withHttp("", kSearch) + "masking: {}\n", "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("set listen.http"), std::string::npos)
      << cfg.status().message();
}

TEST(HttpConfig, InlineUpstreamSecretIsRefusedWithoutEchoingIt) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", R"(  - name: api
    kind: http
    upstream: { url: "http://127.0.0.1:3000" }
    credential: { header: { name: x-api-key, value: sk-live-123 } }
)"),
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  const auto& msg = cfg.status().message();
  EXPECT_NE(msg.find("secrets are never inline"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("sk-live-123"), std::string::npos);
}

TEST(HttpConfig, BadUrlsStrategiesAndMountConflictsAreReportedWithLines) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", R"(  - name: a
    kind: http
    mount: /same
    upstream: { url: "ftp://x" }
  - name: b
    kind: http
    mount: /same
    upstream: { url: "http://127.0.0.1:1?q=1" }
    masking: { json_paths: [{ path: "$.x", strategy: shred }] }
)"),
                         "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  const auto& msg = cfg.status().message();
  EXPECT_NE(msg.find("gw.yaml:8: resources[0].upstream.url: expected an http"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("resources[1].upstream.url: expected an http"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected redact, partial, hash, tokenize or null"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mount /same is used twice"), std::string::npos) << msg;
  EXPECT_NE(msg.find("masking.json_paths need a masking section"), std::string::npos) << msg;
}

TEST(HttpConfig, HttpLimitsAndTimeoutsParse) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", R"(  - name: a
    kind: http
    upstream: { url: "http://127.0.0.1:3000" }
)") + "limits: { http: { max_body_bytes: 1024, max_concurrent_requests: 7 } }\n"
      "timeouts: { http: { first_byte: 2s, idle: 5s } }\n",
                         "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  EXPECT_EQ((*cfg)->http_limits.max_body_bytes, 1024u);
  EXPECT_EQ((*cfg)->http_limits.max_concurrent_requests, 7u);
  EXPECT_EQ((*cfg)->http_limits.first_byte, std::chrono::seconds(2));
  EXPECT_EQ((*cfg)->http_limits.idle, std::chrono::seconds(5));
}

}  // namespace
}  // namespace jg::server

namespace jg::server {
namespace {

constexpr const char* kEverything = R"(  - name: everything
    kind: mcp
    mount: /mcp/everything
    upstream: { url: "http://127.0.0.1:3001/mcp" }
    mcp:
      budgets: { calls: 100, result_bytes: 1MB }
      mask_arguments: ["$.email"]
      max_notifications_per_second: 20
)";

TEST(HttpConfig, McpResourceIsAnHttpResourceWithItsMcpSection) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", kEverything), "gw.yaml");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().message();
  const ResourceConfig* r = (*cfg)->resource("everything");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->isHttp());
  EXPECT_EQ(r->kind, "mcp");
  ASSERT_TRUE(r->http->mcp.has_value());
  const auto& m = *r->http->mcp;
  EXPECT_EQ(m.budget_calls, 100u);
  EXPECT_EQ(m.budget_result_bytes, 1u << 20);
  EXPECT_TRUE(m.pin_tools);
  EXPECT_EQ(m.mask_arguments, std::vector<std::string>{"$.email"});
  EXPECT_EQ(m.max_notifications_per_second, 20u);
  EXPECT_EQ(r->http->upstream.base_path, "/mcp");
}

TEST(HttpConfig, McpSectionOnAnHttpResourceAndBadBudgetsAreErrors) {
  setenv("JG_TEST_PW", "pw", 1);
  std::string http = kEverything;
  http.replace(http.find("kind: mcp"), 9, "kind: http");
  auto cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", http), "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("mcp"), std::string::npos) << cfg.status().message();
  std::string bad = kEverything;
  bad.replace(bad.find("1MB"), 3, "1XB");
  cfg = parseConfig(withHttp("listen: { http: 127.0.0.1:8443 }", bad), "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("result_bytes"), std::string::npos)
      << cfg.status().message();
}

}  // namespace
}  // namespace jg::server
