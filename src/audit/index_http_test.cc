#include <gtest/gtest.h>

#include <sstream>

#include "audit/index.h"
#include "audit/index_http.h"
#include "audit/replay.h"
#include "audit/test_util.h"
#include "audit/verify.h"
#include "store/test_backends.h"

namespace jg::audit {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kRawBody = R"({"result":[{"id":42,"email":"bob@example.com"}]})";
constexpr std::string_view kSentBody = R"({"result":[{"id":42,"email":"b***@example.com"}]})";

class HttpIndexTest : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = store::testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
    ASSERT_TRUE(store_->migrate("audit", indexMigrations()).isOk());
    indexer_ = std::make_unique<Indexer>(*store_);
    RecorderOptions opt;
    opt.index = indexer_.get();
    auto rec = Recorder::open(dir_.settings(), opt);
    ASSERT_TRUE(rec.isOk());
    rec_ = std::move(*rec);
    recordHttpSession();
    recordSqlRetrieval();
    ASSERT_TRUE(indexer_->flush().isOk());
  }

  void add(const std::string& sid, int ms, EventBody body) {
    ASSERT_TRUE(rec_->append(Event{sid, t0_ + milliseconds(ms), std::move(body)}).isOk());
  }

  // An HTTP session: a search returning document 42 (masked, one record), a streamed export
  // of document 43, and a refused delete.
  void recordHttpSession() {
    identity::Identity id;
    id.subject = "svc-rag";
    id.email = "rag@example.com";
    id.groups = {"rag"};
    ConnectEvent c;
    c.client_addr = "10.0.0.9:5000";
    c.resource = "vectors";
    c.protocol = "http";
    c.tls_version = "TLSv1.3";
    add("h1", 0, c);
    add("h1", 1, AuthEvent{true, "oidc-bearer", Principal::from(id), ""});
    add("h1", 2,
        HttpRequestEvent{.request_id = 1,
                         .method = "POST",
                         .path = "/vectors/collections/docs/points/search",
                         .query = "wait=true&api_key=sk-live-999",
                         .route = "/collections/docs/points/search",
                         .headers = {{"authorization", "Bearer opaque-secret-1"}},
                         .body = R"({"vector":[0.1],"limit":1})",
                         .body_bytes = 27,
                         .body_digest = sha256Hex(R"({"vector":[0.1],"limit":1})"),
                         .decision = "allow",
                         .rule_id = "rag-search"});
    add("h1", 3,
        HttpResponseEvent{.request_id = 1,
                          .status = 200,
                          .content_type = "application/json",
                          .body = std::string(kSentBody),
                          .raw_body = RawBytes::plain(std::string(kRawBody)),
                          .document_ids = {"42"},
                          .complete = true,
                          .bytes = kSentBody.size(),
                          .masked_values = {{"email", 1}},
                          .outcome = "complete"});
    add("h1", 4,
        HttpRequestEvent{.request_id = 2,
                         .method = "GET",
                         .path = "/vectors/collections/docs/points/43",
                         .decision = "allow",
                         .rule_id = "rag-search"});
    add("h1", 5,
        HttpResponseEvent{.request_id = 2, .status = 200, .content_type = "text/event-stream"});
    add("h1", 6,
        HttpBodyEvent{.request_id = 2, .body = "data: {\"id\":43}\n\n", .document_ids = {"43"}});
    add("h1", 7, HttpResponseEndEvent{.request_id = 2, .bytes = 4096, .outcome = "client-closed"});
    add("h1", 8,
        HttpRequestEvent{.request_id = 3,
                         .method = "DELETE",
                         .path = "/vectors/collections/docs",
                         .decision = "deny",
                         .rule_id = "default-deny",
                         .reason = "no rule allows this"});
    add("h1", 9,
        ErrorEvent{.statement_id = 3,
                   .source = "gateway",
                   .severity = "ERROR",
                   .sqlstate = "",
                   .message = "denied: no rule allows this",
                   .http_status = 403});
    add("h1", 1000, SessionEndEvent{"client-closed", 3, 0});
  }

  // A PostgreSQL session that retrieves document 42 too.
  void recordSqlRetrieval() {
    ConnectEvent c;
    c.client_addr = "10.0.0.5:4000";
    c.resource = "kb";
    add("p1", 10, c);
    StatementEvent st;
    st.statement_id = 1;
    st.text = "SELECT doc_id FROM public.chunks WHERE doc_id = 42";
    st.kind = "select";
    st.decision = "allow";
    add("p1", 11, st);
    ResultEvent r;
    r.statement_id = 1;
    r.columns = {{"doc_id", 23, "public.chunks", 0}};
    r.rows = {{std::string("42")}};
    r.document_ids = {"42"};
    r.command_tag = "SELECT 1";
    add("p1", 12, r);
    add("p1", 13, SessionEndEvent{"client-closed", 1, 1});
  }

  std::vector<StatementHit> find(SearchQuery q) {
    auto hits = search(*store_, q);
    EXPECT_TRUE(hits.isOk()) << hits.status().message();
    return hits.isOk() ? *hits : std::vector<StatementHit>{};
  }

  std::string replay(const RawOpener* opener, ReplayFormat format = ReplayFormat::kText) {
    std::ostringstream out;
    auto n = renderSession(dir_.auditDir(), "h1", std::nullopt, format, opener, out);
    EXPECT_TRUE(n.isOk()) << n.status().message();
    return out.str();
  }

  testing::TempAuditDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Indexer> indexer_;
  std::unique_ptr<Recorder> rec_;
  std::chrono::system_clock::time_point t0_ = fromMicros(1'780'000'000'000'000);
};

TEST_P(HttpIndexTest, RequestsAreIndexedWithMethodPathStatusAndDecision) {
  auto http = find({.protocol = "http"});
  ASSERT_EQ(http.size(), 3u);
  const StatementHit& search = http[2];  // oldest last
  EXPECT_EQ(search.kind, "http");
  EXPECT_EQ(search.statement_id, 1u);
  EXPECT_EQ(search.method, "POST");
  EXPECT_EQ(search.path, "/vectors/collections/docs/points/search");
  EXPECT_EQ(search.status, 200);
  EXPECT_EQ(search.bytes, static_cast<int64_t>(kSentBody.size()));
  EXPECT_EQ(search.decision, "allow");
  EXPECT_EQ(search.email, "rag@example.com");
  EXPECT_EQ(search.resource, "vectors");
  EXPECT_EQ(search.protocol, "http");
  EXPECT_EQ(http[1].bytes, 4096);  // streamed: bytes from http_response_end
  EXPECT_EQ(http[0].status, 403);  // refused: status from the error
  EXPECT_EQ(http[0].error, "HTTP 403: denied: no rule allows this");
  EXPECT_EQ(find({.protocol = "postgres"}).size(), 1u);
}

TEST_P(HttpIndexTest, SearchByPathGlobStatusAndMethod) {
  EXPECT_EQ(find({.path = "/vectors/collections/*/points/*"}).size(), 2u);
  EXPECT_EQ(find({.path = "/vectors/collections/docs/points/4?"}).size(), 1u);
  EXPECT_EQ(find({.path = "/VECTORS/*"}).size(), 0u);  // paths are case-sensitive
  EXPECT_EQ(find({.path = "/vectors/collections/docs"}).size(), 1u);
  EXPECT_EQ(find({.status = 200}).size(), 2u);
  auto refused = find({.status = 403});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].method, "DELETE");
  EXPECT_EQ(find({.method = "post"}).size(), 1u);
  EXPECT_EQ(find({.resource = "vectors", .decision = "deny"}).size(), 1u);
  EXPECT_EQ(find({.user = "rag@example.com", .method = "GET", .status = 200}).size(), 1u);
}

TEST_P(HttpIndexTest, DocumentLineageListsSqlResultsAndHttpResponsesTogether) {
  auto hits = find({.document = "42"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].session_id, "p1");  // newest first
  EXPECT_EQ(hits[0].kind, "select");
  EXPECT_EQ(hits[1].session_id, "h1");
  EXPECT_EQ(hits[1].kind, "http");
  EXPECT_EQ(hits[1].path, "/vectors/collections/docs/points/search");
  auto streamed = find({.document = "43"});  // from an http_body record
  ASSERT_EQ(streamed.size(), 1u);
  EXPECT_EQ(streamed[0].statement_id, 2u);
}

TEST_P(HttpIndexTest, IndexHoldsNoBodiesHeadersOrSecretParameters) {
  auto hits = find({.method = "POST"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].text,
            "POST /vectors/collections/docs/points/search?wait=true&api_key=[redacted]");
  bool leaked = false;
  for (const char* table : {"audit_sessions", "audit_statements", "audit_documents"}) {
    ASSERT_TRUE(store_
                    ->query(std::string("SELECT * FROM ") + table, {},
                            [&](const store::Row& r) {
                              for (const auto& v : r) {
                                std::string s = store::asString(v);
                                for (const char* secret :
                                     {"sk-live-999", "opaque-secret-1", "bob@example.com",
                                      "b***@example.com", "\"vector\""}) {
                                  leaked |= s.find(secret) != std::string::npos;
                                }
                              }
                              return true;
                            })
                    .isOk());
  }
  EXPECT_FALSE(leaked);
}

TEST_P(HttpIndexTest, ReindexRebuildsTheHttpRows) {
  ASSERT_TRUE(rec_->close().isOk());
  auto fresh = store::open("sqlite::memory:");
  ASSERT_TRUE(fresh.isOk());
  ASSERT_TRUE((*fresh)->migrate("audit", indexMigrations()).isOk());
  ASSERT_TRUE(reindex(dir_.auditDir(), **fresh).isOk());
  auto hits = search(**fresh, {.path = "/vectors/*", .status = 200});
  ASSERT_TRUE(hits.isOk());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[1].text,
            "POST /vectors/collections/docs/points/search?wait=true&api_key=[redacted]");
  EXPECT_EQ(search(**fresh, {.document = "42"})->size(), 2u);
}

TEST_P(HttpIndexTest, LogWithHttpRecordsVerifies) {
  ASSERT_TRUE(rec_->close().isOk());
  KeyRing ring;
  auto pub = PublicKey::loadPem(dir_.path("keys/sign.pub.pem"));
  ASSERT_TRUE(pub.isOk());
  ring.add(*pub);
  auto report = verifyDir(dir_.auditDir(), ring);
  EXPECT_TRUE(report.ok) << report.first_bad->describe();
}

TEST_P(HttpIndexTest, ReplayShowsTheTimelineWithMaskedBodiesAndRawOnlyWithTheKey) {
  std::string text = replay(nullptr);
  for (const char* want :
       {"connect   client 10.0.0.9:5000 resource vectors (http, TLSv1.3)",
        "request   [1] POST /vectors/collections/docs/points/search?wait=true&api_key=[redacted]",
        "allow by rule rag-search", "authorization: Bearer [redacted]",
        "response  [1] 200 application/json, complete (", "masked email=1",
        R"("email":"b***@example.com")", "documents: 42",
        "response  [2] 200 text/event-stream, streamed", "body      [2]",
        "end       [2] client-closed (4096 bytes)",
        "request   [3] DELETE /vectors/collections/docs",
        "deny by rule default-deny (no rule allows this)",
        "error     [3] gateway ERROR HTTP 403: denied: no rule allows this"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  EXPECT_EQ(text.find("bob@example.com"), std::string::npos);
  EXPECT_EQ(text.find("opaque-secret-1"), std::string::npos);
  EXPECT_EQ(text.find("sk-live-999"), std::string::npos);

  RawOpener opener;
  opener.addKey(*AeadKey::loadFile(dir_.path("keys/raw.key")));
  std::string raw = replay(&opener);
  EXPECT_NE(raw.find("raw (before masking):"), std::string::npos) << raw;
  EXPECT_NE(raw.find(R"("email":"bob@example.com")"), std::string::npos) << raw;

  std::string js = replay(&opener, ReplayFormat::kJson);
  EXPECT_NE(js.find(R"("body_raw":")"), std::string::npos) << js;
  EXPECT_EQ(js.find(R"("raw_body")"), std::string::npos);  // the sealed field is not served
}

TEST(HttpIndexGlob, GlobBecomesAnEscapedLikePattern) {
  EXPECT_EQ(index_http::globToLike("/a/*/b?"), "/a/%/b_");
  EXPECT_EQ(index_http::globToLike("/50%_off\\"), "/50\\%\\_off\\\\");
}

// Every test runs on SQLite and on PostgreSQL (skipped where PostgreSQL cannot run).
INSTANTIATE_TEST_SUITE_P(Backends, HttpIndexTest,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

}  // namespace
}  // namespace jg::audit
