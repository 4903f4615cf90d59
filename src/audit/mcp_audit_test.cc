// MCP sessions in the audit log: the index (tool and JSON-RPC method columns, document lineage
// from tool results), verification, and the readable replay.
#include <gtest/gtest.h>

#include <sstream>

#include "audit/index.h"
#include "audit/index_http.h"
#include "audit/replay.h"
#include "audit/replay_mcp.h"
#include "audit/sandbox_http.h"
#include "audit/test_util.h"
#include "audit/verify.h"

namespace jg::audit {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kSearchResult =
    R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"refund policy\nowner: )"
    R"(b***@example.com"}],"structuredContent":{"rows":[{"doc_id":"doc-7","owner":"b***@example.com"}]}}})";
constexpr std::string_view kSearchRaw =
    R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"refund policy\nowner: )"
    R"(bob@example.com"}],"structuredContent":{"rows":[{"doc_id":"doc-7","owner":"bob@example.com"}]}}})";

HttpRequestEvent rpc(uint64_t id, std::string method, std::string rpc_id, std::string body,
                     std::string tool = "") {
  return HttpRequestEvent{.request_id = id,
                          .method = "POST",
                          .path = "/mcp",
                          .body = body,
                          .body_bytes = body.size(),
                          .decision = "allow",
                          .rule_id = "agents-mcp",
                          .rpc_method = std::move(method),
                          .tool = std::move(tool),
                          .rpc_id = std::move(rpc_id)};
}

HttpResponseEvent json(uint64_t id, std::string body) {
  return HttpResponseEvent{.request_id = id,
                           .status = 200,
                           .content_type = "application/json",
                           .body = body,
                           .complete = true,
                           .bytes = body.size(),
                           .outcome = "complete"};
}

class McpAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = store::open("sqlite://" + dir_.path("state.db"));
    ASSERT_TRUE(st.isOk());
    store_ = std::move(*st);
    ASSERT_TRUE(store_->migrate("audit", indexMigrations()).isOk());
    indexer_ = std::make_unique<Indexer>(*store_);
    RecorderOptions opt;
    opt.index = indexer_.get();
    auto rec = Recorder::open(dir_.settings(), opt);
    ASSERT_TRUE(rec.isOk());
    rec_ = std::move(*rec);
    recordMcpSession();
    ASSERT_TRUE(indexer_->flush().isOk());
  }

  void add(int ms, EventBody body) {
    ASSERT_TRUE(rec_->append(Event{"m1", t0_ + milliseconds(ms), std::move(body)}).isOk());
  }

  void recordMcpSession() {
    identity::Identity id;
    id.subject = "agent-7";
    id.email = "agent@example.com";
    ConnectEvent c;
    c.client_addr = "10.0.0.7:5100";
    c.resource = "agents";
    c.protocol = "mcp";
    add(0, c);
    add(1, AuthEvent{true, "oidc-bearer", Principal::from(id), ""});
    add(2, rpc(1, "initialize", "1", R"({"jsonrpc":"2.0","id":1,"method":"initialize"})"));
    add(3, json(1, R"({"jsonrpc":"2.0","id":1,"result":{"serverInfo":{"name":"jitgate"}}})"));
    add(4, rpc(2, "notifications/initialized", "",
               R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    add(5, HttpResponseEvent{.request_id = 2, .status = 202, .complete = true});
    add(6, rpc(3, "tools/call", "3",
               R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_docs",)"
               R"("arguments":{"query":"refunds","limit":2}}})",
               "search_docs"));
    add(7, HttpResponseEvent{.request_id = 3, .status = 200, .content_type = "text/event-stream"});
    add(8, McpMessageEvent{.request_id = 3,
                           .direction = "server",
                           .rpc_method = "notifications/progress",
                           .body = R"({"jsonrpc":"2.0","method":"notifications/progress",)"
                                   R"("params":{"progress":1,"total":2}})"});
    add(9, McpMessageEvent{.request_id = 3,
                           .direction = "server",
                           .rpc_id = "3",
                           .tool = "search_docs",
                           .body = std::string(kSearchResult),
                           .raw_body = RawBytes::plain(std::string(kSearchRaw)),
                           .decision = "allow",
                           .document_ids = {"doc-7"}});
    add(10, HttpBodyEvent{.request_id = 3, .body = "data: {}\n\n"});
    add(11, HttpResponseEndEvent{.request_id = 3, .bytes = 400, .outcome = "complete"});
    HttpRequestEvent del = rpc(4, "tools/call", "4",
                               R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":)"
                               R"({"name":"delete_table","arguments":{"table":"crm"}}})",
                               "delete_table");
    del.decision = "deny";
    del.rule_id = "no-deletes";
    del.reason = "delete tools are denied";
    add(12, del);
    add(13, json(4, R"({"jsonrpc":"2.0","id":4,"error":{"code":-32001,"message":"denied"}})"));
    // A streamed response recorded only as SSE bytes, an event cut across two body records.
    add(14,
        rpc(5, "tools/call", "5",
            R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ping"}})", "ping"));
    add(15, HttpResponseEvent{.request_id = 5,
                              .status = 200,
                              .content_type = "text/event-stream",
                              .body = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,"});
    add(16,
        HttpBodyEvent{.request_id = 5,
                      .body = "\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"pong\"}]}}"
                              "\r\n\r\n"});
    add(17, HttpResponseEndEvent{.request_id = 5, .bytes = 120, .outcome = "complete"});
    add(18, McpMessageEvent{.direction = "server",
                            .rpc_method = "sampling/createMessage",
                            .rpc_id = "s-1",
                            .body = R"({"jsonrpc":"2.0","id":"s-1","method":)"
                                    R"("sampling/createMessage","params":{"maxTokens":5}})",
                            .decision = "deny",
                            .rule_id = "no-sampling",
                            .reason = "sampling is not allowed"});
    add(1000, SessionEndEvent{"client-closed", 5, 0});
  }

  std::vector<StatementHit> find(SearchQuery q) {
    auto hits = search(*store_, q);
    EXPECT_TRUE(hits.isOk()) << hits.status().message();
    return hits.isOk() ? *hits : std::vector<StatementHit>{};
  }

  std::string replay(const RawOpener* opener) {
    std::ostringstream out;
    auto n = renderSession(dir_.auditDir(), "m1", std::nullopt, ReplayFormat::kText, opener, out);
    EXPECT_TRUE(n.isOk()) << n.status().message();
    return out.str();
  }

  testing::TempAuditDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Indexer> indexer_;
  std::unique_ptr<Recorder> rec_;
  std::chrono::system_clock::time_point t0_ = fromMicros(1'780'000'000'000'000);
};

TEST_F(McpAuditTest, ToolGlobFindsTheToolCallWithItsMethodAndProtocol) {
  auto hits = find({.tool = "search_*"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].statement_id, 3u);
  EXPECT_EQ(hits[0].tool, "search_docs");
  EXPECT_EQ(hits[0].rpc_method, "tools/call");
  EXPECT_EQ(hits[0].protocol, "mcp");
  EXPECT_EQ(hits[0].kind, "http");
  EXPECT_EQ(hits[0].text, "POST /mcp tools/call search_docs");
  EXPECT_EQ(hits[0].email, "agent@example.com");
  auto j = toJson(hits[0]);
  EXPECT_EQ(j.at("tool"), "search_docs");
  EXPECT_EQ(j.at("rpc_method"), "tools/call");
}

TEST_F(McpAuditTest, DeniedToolCallIsFoundByToolAndDecision) {
  auto hits = find({.decision = "deny", .tool = "delete_*"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].statement_id, 4u);
  EXPECT_EQ(hits[0].rule, "no-deletes");
  EXPECT_TRUE(find({.tool = "delete"}).empty());  // a glob, not a substring
}

TEST_F(McpAuditTest, SearchByProtocolAndRpcMethod) {
  EXPECT_EQ(find({.protocol = "mcp"}).size(), 6u);  // five requests and the refused sampling
  EXPECT_TRUE(find({.protocol = "http"}).empty());
  EXPECT_EQ(find({.protocol = "mcp", .rpc_method = "tools/call"}).size(), 3u);
  auto sampling = find({.rpc_method = "sampling/createMessage"});
  ASSERT_EQ(sampling.size(), 1u);
  EXPECT_EQ(sampling[0].kind, "mcp");
  EXPECT_EQ(sampling[0].decision, "deny");
  EXPECT_EQ(sampling[0].rule, "no-sampling");
  EXPECT_EQ(sampling[0].text, "server sampling/createMessage id s-1");
}

TEST_F(McpAuditTest, StreamNotificationsGetNoRowOfTheirOwn) {
  EXPECT_TRUE(find({.rpc_method = "notifications/progress"}).empty());
  EXPECT_EQ(find({.rpc_method = "notifications/initialized"}).size(), 1u);  // a client request
}

TEST_F(McpAuditTest, DocumentInAToolResultLeadsToTheToolCall) {
  auto hits = find({.document = "doc-7"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].statement_id, 3u);
  EXPECT_EQ(hits[0].tool, "search_docs");
}

TEST_F(McpAuditTest, ReindexRebuildsTheMcpRows) {
  ASSERT_TRUE(rec_->close().isOk());
  auto fresh = store::open("sqlite://" + dir_.path("fresh.db"));
  ASSERT_TRUE(fresh.isOk());
  ASSERT_TRUE((*fresh)->migrate("audit", indexMigrations()).isOk());
  ASSERT_TRUE(reindex(dir_.auditDir(), **fresh).isOk());
  auto hits = search(**fresh, {.tool = "search_docs"});
  ASSERT_TRUE(hits.isOk());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].rpc_method, "tools/call");
  EXPECT_EQ(search(**fresh, {.document = "doc-7"})->size(), 1u);
}

TEST_F(McpAuditTest, IndexAtVersionTwoMigratesAndKeepsItsRows) {
  auto old = store::open("sqlite://" + dir_.path("old.db"));
  ASSERT_TRUE(old.isOk());
  std::vector<store::Migration> v2(indexMigrations().begin(), indexMigrations().begin() + 2);
  ASSERT_TRUE((*old)->migrate("audit", v2).isOk());
  ASSERT_TRUE((*old)
                  ->transaction([](store::Tx& tx) {
                    return tx.exec(
                        "INSERT INTO audit_statements(instance, seq, segment, session_id, "
                        "statement_id, ts, kind, text, method, path) VALUES ('gw1', 1, 1, 'h9', "
                        "1, 5, 'http', 'GET /kb/x', 'GET', '/kb/x')");
                  })
                  .isOk());
  ASSERT_TRUE((*old)->migrate("audit", indexMigrations()).isOk());
  auto all = search(**old, {});
  ASSERT_TRUE(all.isOk()) << all.status().message();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].path, "/kb/x");
  EXPECT_TRUE((*all)[0].tool.empty());
  EXPECT_TRUE(search(**old, {.tool = "*"})->empty());
}

TEST_F(McpAuditTest, LogWithMcpRecordsVerifies) {
  ASSERT_TRUE(rec_->close().isOk());
  KeyRing ring;
  auto pub = PublicKey::loadPem(dir_.path("keys/sign.pub.pem"));
  ASSERT_TRUE(pub.isOk());
  ring.add(*pub);
  auto report = verifyDir(dir_.auditDir(), ring);
  EXPECT_TRUE(report.ok) << report.first_bad->describe();
}

constexpr std::string_view kGolden = R"(session m1 on gw1, started 2026-05-28T20:26:40Z
+    0.000s connect   client 10.0.0.7:5100 resource agents (mcp, no TLS)
+    0.001s auth      ok agent@example.com (sub agent-7)
+    0.002s call      [1] client initialize id 1
          allow by rule agents-mcp
+    0.003s response  [1] 200 application/json, complete (67 bytes)
          result    [1] server id 1
            {
              "serverInfo": {
                "name": "jitgate"
              }
            }
+    0.004s notify    [2] client notifications/initialized (allow by rule agents-mcp)
+    0.005s response  [2] 202, ? (0 bytes)
+    0.006s call      [3] client tools/call search_docs id 3
          allow by rule agents-mcp
          arguments:
            {
              "query": "refunds",
              "limit": 2
            }
+    0.007s response  [3] 200 text/event-stream, streamed
+    0.008s notify    [3] server notifications/progress {"progress":1,"total":2}
+    0.009s result    [3] server id 3 search_docs
          text:
            refund policy
            owner: b***@example.com
          structured content:
            {
              "rows": [
                {
                  "doc_id": "doc-7",
                  "owner": "b***@example.com"
                }
              ]
            }
          documents: doc-7
+    0.010s body      [3] 10 bytes
          (10 bytes of event stream; its messages are listed as recorded)
+    0.011s end       [3] complete (400 bytes)
+    0.012s call      [4] client tools/call delete_table id 4
          deny by rule no-deletes (delete tools are denied)
          arguments:
            {
              "table": "crm"
            }
+    0.013s response  [4] 200 application/json, complete (67 bytes)
          rpc-error [4] server id 4 delete_table -32001: denied
+    0.014s call      [5] client tools/call ping id 5
          allow by rule agents-mcp
+    0.015s response  [5] 200 text/event-stream, streamed
+    0.016s body      [5] 57 bytes
          result    [5] server id 5 ping
          text:
            pong
+    0.017s end       [5] complete (120 bytes)
+    0.018s call      [0] server sampling/createMessage id s-1
          deny by rule no-sampling (sampling is not allowed)
          params:
            {
              "maxTokens": 5
            }
+    1.000s end       client-closed (5 statements, 0 rows)
)";

TEST_F(McpAuditTest, ReplayShowsOneBlockPerMessage) {
  std::string text = replay(nullptr);
  EXPECT_EQ(text, kGolden);
  EXPECT_EQ(text.find("bob@example.com"), std::string::npos);
}

TEST_F(McpAuditTest, RawReplayAddsTheToolResultBeforeMaskingOnlyWithTheKey) {
  RawOpener opener;
  opener.addKey(*AeadKey::loadFile(dir_.path("keys/raw.key")));
  std::string raw = replay(&opener);
  EXPECT_NE(raw.find("raw (before masking):"), std::string::npos) << raw;
  EXPECT_NE(raw.find(R"("owner":"bob@example.com")"), std::string::npos) << raw;
}

TEST(McpReplay, PlainHttpBodyInAnMcpSessionIsLeftToTheHttpRenderer) {
  std::ostringstream out;
  McpReplay r(out);
  EXPECT_FALSE(r.request(HttpRequestEvent{.request_id = 1, .method = "GET", .path = "/mcp"}));
  EXPECT_FALSE(r.request(HttpRequestEvent{.request_id = 2, .method = "POST", .body = "[1,2]"}));
  EXPECT_FALSE(r.response(HttpResponseEvent{
      .request_id = 2, .status = 400, .content_type = "application/json", .body = "not json"}));
  EXPECT_EQ(out.str(), "");
}

TEST(McpReplay, IncompleteSseEventBeyondItsBoundIsDroppedWithANote) {
  std::ostringstream out;
  McpReplay r(out);
  ASSERT_TRUE(r.response(
      HttpResponseEvent{.request_id = 1, .status = 200, .content_type = "text/event-stream"}));
  std::string chunk(McpReplay::kMaxPendingSse / 2 + 1, 'x');
  ASSERT_TRUE(r.body(HttpBodyEvent{.request_id = 1, .body = "data: " + chunk}));
  EXPECT_EQ(out.str(), "");
  ASSERT_TRUE(r.body(HttpBodyEvent{.request_id = 1, .body = chunk}));
  EXPECT_NE(out.str().find("of an incomplete event not shown"), std::string::npos) << out.str();
}

TEST_F(McpAuditTest, SandboxReplayRefusesAnMcpSessionAndSaysWhy) {
  bool sent = false;
  HttpSend send = [&](const net::HttpRequest&) -> Result<net::HttpResponse> {
    sent = true;
    return Status::error(Code::kUnavailable, "not reached");
  };
  auto report =
      httpSandboxReplay(dir_.auditDir(), "m1", std::nullopt, "http://127.0.0.1:9", send, nullptr);
  ASSERT_FALSE(report.isOk());
  EXPECT_NE(report.status().message().find("is an MCP session"), std::string::npos)
      << report.status().message();
  EXPECT_FALSE(sent);
}

TEST(McpReplayPretty, LongJsonIsBoundedInLinesAndCharacters) {
  boost::json::array big;
  for (int i = 0; i < 100; ++i) {
    big.push_back(boost::json::value(i));
  }
  boost::json::object o{{"items", big}, {"note", std::string(500, 'x')}};
  std::string text = prettyJson(o, "  ", 5, 20);
  EXPECT_EQ(text,
            "  {\n"
            "    \"items\": [\n"
            "      0,\n"
            "      1,\n"
            "      2,\n"
            "  ... (100 more lines)\n");
  std::string small =
      prettyJson(boost::json::object{{"a", std::string(30, 'y')}, {"b", nullptr}}, "", 10, 20);
  EXPECT_EQ(small, "{\n  \"a\": \"" + std::string(20, 'y') + "...\",\n  \"b\": null\n}\n");
}

}  // namespace
}  // namespace jg::audit
