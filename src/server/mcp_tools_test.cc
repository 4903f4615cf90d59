#include "server/mcp_tools.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <boost/json.hpp>

#include "server/config.h"

namespace jg::server {
namespace {

namespace json = boost::json;

constexpr const char* kConfig = R"(listen: { postgres: 127.0.0.1:6543, http: 127.0.0.1:8443 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: JG_TEST_PW } }
resources:
  - name: appdb
    upstream: { host: 127.0.0.1, port: 5432, user: app, sslmode: disable }
  - name: kb
    upstream: { host: 127.0.0.1, port: 5432, user: app, sslmode: disable }
  - name: search
    kind: http
    mount: /search
    upstream: { url: "http://127.0.0.1:9000" }
    operations:
      - name: search_kb
        description: Search the knowledge base
        path: /collections/{collection}/search
        input_schema:
          type: object
          properties: { collection: { type: string }, limit: { type: integer, maximum: 50 } }
          required: [collection]
policies:
  - { id: allow-all, match: {}, allow: [all] }
)";

ConfigPtr load(std::string extra) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(std::string(kConfig) + extra, "gw.yaml");
  EXPECT_TRUE(cfg.isOk()) << cfg.status().message();
  return cfg.isOk() ? *cfg : nullptr;
}

std::vector<std::string> names(const std::vector<McpTool>& tools) {
  std::vector<std::string> out;
  for (const auto& t : tools) {
    out.push_back(t.name);
  }
  return out;
}

TEST(McpConfig, SectionParsesWithDefaultsAndSizes) {
  auto cfg = load("mcp: { max_result_bytes: 64KB, public_url: \"https://gw.example:8443/\" }\n");
  ASSERT_TRUE(cfg && cfg->mcp);
  EXPECT_EQ(cfg->mcp->path, "/mcp");
  EXPECT_EQ(cfg->mcp->max_rows, 200u);
  EXPECT_EQ(cfg->mcp->max_result_bytes, 64u * 1024);
  EXPECT_EQ(cfg->mcp->public_url, "https://gw.example:8443");
}

TEST(McpConfig, UnknownResourceAndBadSizeAreErrors) {
  setenv("JG_TEST_PW", "pw", 1);
  auto cfg = parseConfig(
      std::string(kConfig) + "mcp: { resources: [nope], max_result_bytes: lots }\n", "gw.yaml");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_NE(cfg.status().message().find("resource \"nope\" is not configured"), std::string::npos)
      << cfg.status().message();
  EXPECT_NE(cfg.status().message().find("mcp.max_result_bytes"), std::string::npos);
}

TEST(McpTools, EveryPostgresResourceAndHttpOperationIsExposedByDefaultWithAwaitReviewLast) {
  auto cfg = load("mcp: {}\n");
  auto tools = mcpTools(*cfg, *cfg->mcp, [](const std::string&) { return true; });
  EXPECT_EQ(names(tools),
            (std::vector<std::string>{"query_appdb", "list_tables_appdb", "describe_table_appdb",
                                      "query_kb", "list_tables_kb", "describe_table_kb",
                                      "search_kb", "await_review"}));
}

TEST(McpTools, HttpOperationToolTakesItsConfiguredSchema) {
  auto cfg = load("mcp: { resources: [search] }\n");
  auto tools = mcpTools(*cfg, *cfg->mcp, [](const std::string&) { return true; });
  ASSERT_EQ(names(tools), (std::vector<std::string>{"search_kb", "await_review"}));
  auto def = toolDefinition(tools[0]);
  EXPECT_EQ(def.at("description").as_string(), "Search the knowledge base");
  EXPECT_EQ(def.at("inputSchema").at("required").as_array()[0].as_string(), "collection");
  json::value over = json::parse(R"({"collection":"docs","limit":500})");
  EXPECT_TRUE(checkArguments(tools[0], &over).value_or("").starts_with("/limit"));
  json::value ok = json::parse(R"({"collection":"docs","limit":5})");
  EXPECT_FALSE(checkArguments(tools[0], &ok));
}

TEST(McpTools, ResourceThePolicyDeniesIsNotOffered) {
  auto cfg = load("mcp: { resources: [appdb, kb] }\n");
  auto tools = mcpTools(*cfg, *cfg->mcp, [](const std::string& r) { return r == "kb"; });
  EXPECT_EQ(names(tools), (std::vector<std::string>{"query_kb", "list_tables_kb",
                                                    "describe_table_kb", "await_review"}));
  auto none = mcpTools(*cfg, *cfg->mcp, [](const std::string&) { return false; });
  EXPECT_TRUE(none.empty());
}

TEST(McpTools, DefinitionHasInputAndOutputSchemas) {
  auto def = toolDefinition({.name = "query_kb", .resource = "kb", .kind = McpToolKind::kQuery});
  EXPECT_EQ(def.at("name").as_string(), "query_kb");
  EXPECT_EQ(def.at("inputSchema").at("required").as_array()[0].as_string(), "sql");
  EXPECT_TRUE(def.at("outputSchema").as_object().contains("properties"));
}

TEST(McpTools, ArgumentsThatBreakTheSchemaNameThePointer) {
  McpTool q{.name = "query_kb", .resource = "kb", .kind = McpToolKind::kQuery};
  json::value ok = json::parse(R"({"sql":"select $1","params":[1,"a",null,true]})");
  EXPECT_FALSE(checkArguments(q, &ok));
  json::value nested = json::parse(R"({"sql":"select $1","params":[{"a":1}]})");
  EXPECT_TRUE(checkArguments(q, &nested).value_or("").starts_with("/params/0"))
      << *checkArguments(q, &nested);
  json::value missing = json::parse(R"({"params":[]})");
  EXPECT_NE(checkArguments(q, &missing).value_or("").find("sql"), std::string::npos);
  json::value wrong = json::parse(R"({"sql":42})");
  EXPECT_TRUE(checkArguments(q, &wrong).value_or("").starts_with("/sql"));
  EXPECT_TRUE(checkArguments(q, nullptr));  // sql is required
  McpTool w{.name = "await_review", .resource = {}, .kind = McpToolKind::kAwaitReview};
  json::value long_wait = json::parse(R"({"review_id":"r-1","timeout_seconds":600})");
  EXPECT_TRUE(checkArguments(w, &long_wait).value_or("").starts_with("/timeout_seconds"));
}

TEST(McpTools, MetadataDocumentPointsAtTheIssuer) {
  auto doc = protectedResourceMetadata("https://gw.example/mcp", {"https://idp.example"}, {});
  EXPECT_EQ(
      json::serialize(doc),
      R"({"resource":"https://gw.example/mcp","authorization_servers":["https://idp.example"],)"
      R"("bearer_methods_supported":["header"],"resource_name":"jitgate"})");
  auto scoped = protectedResourceMetadata("https://gw.example/mcp", {"https://idp"}, {"db.read"});
  EXPECT_EQ(scoped.at("scopes_supported").as_array()[0].as_string(), "db.read");
  EXPECT_EQ(metadataPath("/mcp"), "/.well-known/oauth-protected-resource/mcp");
}

TEST(McpTools, RowsBecomeStructuredContentWithNullsAndTruncation) {
  PgResult r;
  r.columns = {{.name = "id", .type = "int4"}, {.name = "email", .type = "text"}};
  r.rows = {{"1", "a***@example.com"}, {"2", std::nullopt}};
  r.truncated = true;
  r.command_tag = "SELECT 2";
  auto out = pgToolResult(r);
  EXPECT_FALSE(out.at("isError").as_bool());
  const auto& s = out.at("structuredContent");
  EXPECT_EQ(json::serialize(s.at("columns")),
            R"([{"name":"id","type":"int4"},{"name":"email","type":"text"}])");
  EXPECT_EQ(json::serialize(s.at("rows")), R"([["1","a***@example.com"],["2",null]])");
  EXPECT_EQ(s.at("row_count").as_uint64(), 2u);
  EXPECT_TRUE(s.at("truncated").as_bool());
  std::string text(out.at("content").as_array()[0].at("text").as_string());
  EXPECT_NE(text.find("id | email\n1 | a***@example.com\n2 | NULL\n"), std::string::npos) << text;
  EXPECT_NE(text.find("truncated"), std::string::npos);
}

TEST(McpTools, ErrorResponseBecomesAnErrorResultWithDetailAndHint) {
  PgResult r;
  r.sqlstate = "42501";
  r.message = "denied by rule no-secrets: secrets are off limits";
  r.hint = "ask the data owner";
  auto out = pgToolResult(r);
  EXPECT_TRUE(out.at("isError").as_bool());
  std::string text(out.at("content").as_array()[0].at("text").as_string());
  EXPECT_EQ(text,
            "ERROR 42501: denied by rule no-secrets: secrets are off limits\n"
            "HINT: ask the data owner");
  EXPECT_FALSE(out.at("structuredContent").as_object().contains("review_id"));
}

TEST(McpTools, RefusalThatCreatedAReviewSaysItIsPending) {
  PgResult r;
  r.sqlstate = "42501";
  r.message =
      "review required by rule pii: customer data; review r-k3x9q2m7ab4c created; "
      "approve with jitgate review approve r-k3x9q2m7ab4c";
  auto out = pgToolResult(r);
  const auto& s = out.at("structuredContent");
  EXPECT_EQ(s.at("review_id").as_string(), "r-k3x9q2m7ab4c");
  EXPECT_EQ(s.at("status").as_string(), "pending");
  std::string text(out.at("content").as_array()[0].at("text").as_string());
  EXPECT_NE(text.find("needs approval"), std::string::npos);
  EXPECT_EQ(reviewIdIn("no review here"), std::nullopt);
  EXPECT_EQ(reviewIdIn("review required by rule x"), std::nullopt);
}

TEST(McpTools, TypeNamesForCommonOids) {
  EXPECT_EQ(pgTypeName(23), "int4");
  EXPECT_EQ(pgTypeName(25), "text");
  EXPECT_EQ(pgTypeName(99999), "oid:99999");
}

}  // namespace
}  // namespace jg::server
