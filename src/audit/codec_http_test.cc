#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "audit/codec.h"
#include "audit/codec_http.h"
#include "audit/test_util.h"

namespace jg::audit {
namespace {

constexpr int64_t kTs = 1'700'000'000'000'000;

HttpRequestEvent request() {
  return HttpRequestEvent{.request_id = 7,
                          .method = "POST",
                          .path = "/kb/collections/docs/points/search",
                          .query = "limit=5&with_payload=true",
                          .route = "/collections/docs/points/search",
                          .headers = {{"content-type", "application/json"}, {"x-trace", "t1"}},
                          .body = R"({"vector":[0.1,0.2],"limit":5})",
                          .body_bytes = 31,
                          .body_digest = std::string(64, 'a'),
                          .decision = "review",
                          .rule_id = "kb-search",
                          .reason = "needs an owner",
                          .review_id = "rv1",
                          .grant_id = "g1",
                          .approval_id = "ap1"};
}

HttpResponseEvent response() {
  return HttpResponseEvent{
      .request_id = 7,
      .status = 200,
      .headers = {{"content-type", "application/json"}},
      .content_type = "application/json",
      .body = R"({"result":[{"id":41,"email":"b***@example.com"}]})",
      .raw_body = RawBytes::plain(R"({"result":[{"id":41,"email":"bob@example.com"}]})"),
      .document_ids = {"41", "42"},
      .complete = true,
      .bytes = 52,
      .masked_values = {{"email", 1}},
      .outcome = "complete",
      .unmasked_binary = true};
}

Result<Event> roundTrip(const EventBody& body, const RawSealer& sealer, std::string* rec_out) {
  auto rec = encodeEvent(Event{"h1", fromMicros(kTs), body}, sealer, scrubSecrets);
  if (!rec) {
    return rec.status();
  }
  if (rec_out != nullptr) {
    *rec_out = *rec;
  }
  return decodeEvent(boost::json::parse(*rec).as_object());
}

class HttpCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = AeadKey::loadFile(dir_.path("keys/raw.key"));
    ASSERT_TRUE(key.isOk());
    key_ = *key;
    opener_.addKey(*key_);
  }
  testing::TempAuditDir dir_;
  std::optional<AeadKey> key_;
  RawOpener opener_;
};

TEST_F(HttpCodec, RequestRoundTripsEveryField) {
  auto back = roundTrip(request(), RawSealer(std::nullopt), nullptr);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->session_id, "h1");
  EXPECT_EQ(toMicros(back->time), kTs);
  const auto& got = std::get<HttpRequestEvent>(back->body);
  HttpRequestEvent want = request();
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.method, want.method);
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.query, want.query);
  EXPECT_EQ(got.route, want.route);
  EXPECT_EQ(got.headers, want.headers);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.body_bytes, want.body_bytes);
  EXPECT_EQ(got.body_digest, want.body_digest);
  EXPECT_EQ(got.decision, want.decision);
  EXPECT_EQ(got.rule_id, want.rule_id);
  EXPECT_EQ(got.reason, want.reason);
  EXPECT_EQ(got.review_id, want.review_id);
  EXPECT_EQ(got.grant_id, want.grant_id);
  EXPECT_EQ(got.approval_id, want.approval_id);
}

TEST_F(HttpCodec, CompleteResponseRoundTripsEveryFieldWithItsRawBodySealed) {
  std::string rec;
  auto back = roundTrip(response(), RawSealer(*key_), &rec);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(rec.find("bob@example.com"), std::string::npos);
  const auto& got = std::get<HttpResponseEvent>(back->body);
  HttpResponseEvent want = response();
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.headers, want.headers);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.document_ids, want.document_ids);
  EXPECT_TRUE(got.complete);
  EXPECT_EQ(got.bytes, want.bytes);
  EXPECT_EQ(got.masked_values, want.masked_values);
  EXPECT_EQ(got.outcome, want.outcome);
  EXPECT_TRUE(got.unmasked_binary);
  ASSERT_EQ(got.raw_body.state(), RawBytes::State::kSealed);
  auto raw = opener_.open(got.raw_body, key_->id(), rawAad("h1", "http_response", "raw_body"));
  ASSERT_TRUE(raw.isOk()) << raw.status().message();
  EXPECT_EQ(*raw, R"({"result":[{"id":41,"email":"bob@example.com"}]})");
}

TEST_F(HttpCodec, SealedRawBodyDoesNotOpenUnderAnotherRecordType) {
  auto back = roundTrip(response(), RawSealer(*key_), nullptr);
  ASSERT_TRUE(back.isOk());
  const auto& got = std::get<HttpResponseEvent>(back->body);
  EXPECT_FALSE(opener_.open(got.raw_body, key_->id(), rawAad("h1", "http_body", "raw_body")));
  EXPECT_FALSE(opener_.open(got.raw_body, key_->id(), rawAad("h2", "http_response", "raw_body")));
}

TEST_F(HttpCodec, StreamedPartsRoundTripEveryField) {
  HttpResponseEvent start = response();
  start.complete = false;
  HttpBodyEvent part{.request_id = 7,
                     .body = "data: {\"n\":1}\n\n",
                     .raw_body = RawBytes::plain("data: {\"n\":1, \"ssn\":\"123\"}\n\n"),
                     .document_ids = {"43"}};
  HttpResponseEndEvent end{.request_id = 7,
                           .bytes = 4096,
                           .masked_values = {{"us_ssn", 2}, {"email", 1}},
                           .outcome = "client-closed",
                           .unmasked_binary = true};
  std::string start_rec;
  auto s = roundTrip(start, RawSealer(*key_), &start_rec);
  ASSERT_TRUE(s.isOk());
  EXPECT_FALSE(std::get<HttpResponseEvent>(s->body).complete);
  EXPECT_EQ(start_rec.find("\"outcome\""),
            std::string::npos);  // completion fields only when complete

  auto b = roundTrip(part, RawSealer(*key_), nullptr);
  ASSERT_TRUE(b.isOk());
  const auto& gotb = std::get<HttpBodyEvent>(b->body);
  EXPECT_EQ(gotb.request_id, 7u);
  EXPECT_EQ(gotb.body, part.body);
  EXPECT_EQ(gotb.document_ids, part.document_ids);
  auto raw = opener_.open(gotb.raw_body, key_->id(), rawAad("h1", "http_body", "raw_body"));
  ASSERT_TRUE(raw.isOk());
  EXPECT_EQ(*raw, "data: {\"n\":1, \"ssn\":\"123\"}\n\n");

  auto e = roundTrip(end, RawSealer(*key_), nullptr);
  ASSERT_TRUE(e.isOk());
  const auto& gote = std::get<HttpResponseEndEvent>(e->body);
  EXPECT_EQ(gote.request_id, 7u);
  EXPECT_EQ(gote.bytes, 4096u);
  EXPECT_EQ(gote.masked_values, end.masked_values);
  EXPECT_EQ(gote.outcome, "client-closed");
  EXPECT_TRUE(gote.unmasked_binary);
}

TEST_F(HttpCodec, RawBodyIsNotWrittenWhenRawPayloadsAreOff) {
  std::string rec;
  auto back = roundTrip(response(), RawSealer(std::nullopt), &rec);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(rec.find("raw_body"), std::string::npos);
  EXPECT_EQ(rec.find("bob@example.com"), std::string::npos);
  EXPECT_TRUE(std::get<HttpResponseEvent>(back->body).raw_body.empty());
}

TEST_F(HttpCodec, BinaryBodyRoundTripsThroughBase64) {
  HttpBodyEvent part{.request_id = 1,
                     .body = std::string("\x89PNG\r\n\x1a\n\xff\x00", 10),
                     .raw_body = {},
                     .document_ids = {}};
  std::string rec;
  auto back = roundTrip(part, RawSealer(std::nullopt), &rec);
  ASSERT_TRUE(back.isOk());
  EXPECT_NE(rec.find("\"body_b64\""), std::string::npos);
  EXPECT_EQ(std::get<HttpBodyEvent>(back->body).body, part.body);
}

TEST_F(HttpCodec, ErrorCarriesItsHttpStatus) {
  ErrorEvent err{.statement_id = 3,
                 .source = "gateway",
                 .severity = "ERROR",
                 .sqlstate = "",
                 .message = "denied by rule kb-write",
                 .http_status = 403};
  auto back = roundTrip(err, RawSealer(std::nullopt), nullptr);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(std::get<ErrorEvent>(back->body).http_status, 403);
  EXPECT_EQ(std::get<ErrorEvent>(back->body).statement_id, 3u);
}

TEST_F(HttpCodec, TokensInQueryHeadersAndBodyAreNeverWrittenInClear) {
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
  HttpRequestEvent req = request();
  req.query = "q=cats&access_token=opaque-abc123&api_key=k-456";
  req.headers = {{"Authorization", "Bearer opaque-tok-789"},
                 {"X-Api-Key", "key-000111"},
                 {"Cookie", "sid=s3ss10n"},
                 {"X-Forwarded-For", "10.0.0.1"}};
  req.body =
      R"({"query":"cats","password":"hunter2","refresh_token":"rt-222","id":")" + jwt + R"("})";
  std::string rec;
  auto back = roundTrip(req, RawSealer(std::nullopt), &rec);
  ASSERT_TRUE(back.isOk());
  for (const char* secret : {"opaque-abc123", "k-456", "opaque-tok-789", "key-000111", "s3ss10n",
                             "hunter2", "rt-222", "eyJ"}) {
    EXPECT_EQ(rec.find(secret), std::string::npos) << secret << " in " << rec;
  }
  const auto& got = std::get<HttpRequestEvent>(back->body);
  EXPECT_EQ(got.query, "q=cats&access_token=[redacted]&api_key=[redacted]");
  EXPECT_EQ(got.headers[0].second, "Bearer [redacted]");
  EXPECT_EQ(got.headers[3].second, "10.0.0.1");  // not a secret: kept
  EXPECT_NE(got.body.find(R"("query":"cats")"), std::string::npos);
}

TEST_F(HttpCodec, RecordsWithoutHttpFieldsDecodeAsBefore) {
  // A version 2 error record (no http_status) and a connect record without a protocol.
  auto err = decodeEvent(
      boost::json::parse(R"({"type":"error","ts":5,"sid":"s1","stmt":2,"source":"gateway",)"
                         R"("severity":"ERROR","sqlstate":"42501","message":"no"})")
          .as_object());
  ASSERT_TRUE(err.isOk());
  EXPECT_EQ(std::get<ErrorEvent>(err->body).http_status, 0);
  EXPECT_EQ(std::get<ErrorEvent>(err->body).sqlstate, "42501");
  auto conn = decodeEvent(
      boost::json::parse(R"({"type":"connect","ts":1,"sid":"s1","resource":"kb"})").as_object());
  ASSERT_TRUE(conn.isOk());
  EXPECT_EQ(std::get<ConnectEvent>(conn->body).resource, "kb");
}

TEST_F(HttpCodec, MistypedHttpFieldsReadAsEmpty) {
  auto ev = decodeEvent(
      boost::json::parse(R"({"type":"http_response","ts":1,"sid":"h1","req":"x","status":-3,)"
                         R"("headers":[["a"],5,["b",1]],"body_b64":"!!","complete":"yes"})")
          .as_object());
  ASSERT_TRUE(ev.isOk());
  const auto& r = std::get<HttpResponseEvent>(ev->body);
  EXPECT_EQ(r.request_id, 0u);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.headers.empty());
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(r.complete);
}

HttpRequestEvent mcpRequest() {
  HttpRequestEvent e = request();
  e.path = "/mcp";
  e.query = "";
  e.route = "/";
  e.body = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_docs"}})";
  e.rpc_method = "tools/call";
  e.tool = "search_docs";
  e.rpc_id = "7";
  return e;
}

McpMessageEvent mcpMessage() {
  return McpMessageEvent{
      .request_id = 7,
      .direction = "server",
      .rpc_method = "sampling/createMessage",
      .rpc_id = "s-1",
      .tool = "search_docs",
      .body = R"({"jsonrpc":"2.0","id":"s-1","method":"sampling/createMessage","params":{}})",
      .raw_body = RawBytes::plain(R"({"jsonrpc":"2.0","id":"s-1","note":"bob@example.com"})"),
      .decision = "deny",
      .rule_id = "no-sampling",
      .reason = "sampling is not allowed",
      .document_ids = {"41"}};
}

TEST_F(HttpCodec, McpRequestRoundTripsItsJsonRpcMethodToolAndId) {
  std::string rec;
  auto back = roundTrip(mcpRequest(), RawSealer(std::nullopt), &rec);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  const auto& got = std::get<HttpRequestEvent>(back->body);
  EXPECT_EQ(got.rpc_method, "tools/call");
  EXPECT_EQ(got.tool, "search_docs");
  EXPECT_EQ(got.rpc_id, "7");
  EXPECT_EQ(got.body, mcpRequest().body);
  auto o = boost::json::parse(rec).as_object();
  EXPECT_EQ(o.at("rpc_method"), "tools/call");
  EXPECT_EQ(o.at("tool"), "search_docs");
  EXPECT_EQ(o.at("rpc_id"), "7");
}

TEST_F(HttpCodec, PlainHttpRequestWritesNoJsonRpcFields) {
  std::string rec;
  ASSERT_TRUE(roundTrip(request(), RawSealer(std::nullopt), &rec).isOk());
  auto o = boost::json::parse(rec).as_object();
  EXPECT_FALSE(o.contains("rpc_method"));
  EXPECT_FALSE(o.contains("tool"));
  EXPECT_FALSE(o.contains("rpc_id"));
}

TEST_F(HttpCodec, RequestRecordWrittenBeforeMcpDecodesWithEmptyJsonRpcFields) {
  auto ev = decodeEvent(
      boost::json::parse(R"({"type":"http_request","ts":1,"sid":"h1","req":3,"method":"GET",)"
                         R"("path":"/kb/x","decision":"allow"})")
          .as_object());
  ASSERT_TRUE(ev.isOk());
  const auto& r = std::get<HttpRequestEvent>(ev->body);
  EXPECT_EQ(r.path, "/kb/x");
  EXPECT_TRUE(r.rpc_method.empty());
  EXPECT_TRUE(r.tool.empty());
  EXPECT_TRUE(r.rpc_id.empty());
}

TEST_F(HttpCodec, McpMessageRoundTripsEveryFieldWithItsRawBodySealed) {
  std::string rec;
  auto back = roundTrip(mcpMessage(), RawSealer(*key_), &rec);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(typeName(back->body), "mcp_message");
  EXPECT_EQ(rec.find("bob@example.com"), std::string::npos);
  const auto& got = std::get<McpMessageEvent>(back->body);
  McpMessageEvent want = mcpMessage();
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.direction, want.direction);
  EXPECT_EQ(got.rpc_method, want.rpc_method);
  EXPECT_EQ(got.rpc_id, want.rpc_id);
  EXPECT_EQ(got.tool, want.tool);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.decision, want.decision);
  EXPECT_EQ(got.rule_id, want.rule_id);
  EXPECT_EQ(got.reason, want.reason);
  EXPECT_EQ(got.document_ids, want.document_ids);
  ASSERT_EQ(got.raw_body.state(), RawBytes::State::kSealed);
  auto raw = opener_.open(got.raw_body, key_->id(), rawAad("h1", "mcp_message", "raw_body"));
  ASSERT_TRUE(raw.isOk()) << raw.status().message();
  EXPECT_EQ(*raw, R"({"jsonrpc":"2.0","id":"s-1","note":"bob@example.com"})");
  EXPECT_FALSE(opener_.open(got.raw_body, key_->id(), rawAad("h1", "http_body", "raw_body")));
}

TEST_F(HttpCodec, McpNotificationOmitsEmptyFieldsAndDecodes) {
  McpMessageEvent note{.direction = "server",
                       .rpc_method = "notifications/progress",
                       .body = R"({"jsonrpc":"2.0","method":"notifications/progress"})"};
  std::string rec;
  auto back = roundTrip(note, RawSealer(*key_), &rec);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  auto o = boost::json::parse(rec).as_object();
  for (const char* absent :
       {"req", "rpc_id", "tool", "raw_body", "decision", "rule", "reason", "documents"}) {
    EXPECT_FALSE(o.contains(absent)) << absent << " in " << rec;
  }
  const auto& got = std::get<McpMessageEvent>(back->body);
  EXPECT_EQ(got.request_id, 0u);
  EXPECT_EQ(got.rpc_method, "notifications/progress");
  EXPECT_TRUE(got.raw_body.empty());
}

TEST_F(HttpCodec, McpMessageFromTheClientIsScrubbedLikeARequestBody) {
  McpMessageEvent reply{.request_id = 2,
                        .direction = "client",
                        .rpc_id = "s-1",
                        .body = R"({"jsonrpc":"2.0","id":"s-1","result":{"password":"hunter2"}})"};
  std::string rec;
  auto back = roundTrip(reply, RawSealer(std::nullopt), &rec);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(rec.find("hunter2"), std::string::npos) << rec;
  EXPECT_NE(std::get<McpMessageEvent>(back->body).body.find(R"("id":"s-1")"), std::string::npos);
}

TEST(HttpScrub, QueryKeepsOrdinaryParametersAndSeparators) {
  EXPECT_EQ(scrubQuery("a=1&token=x;b=2&signature=abc&empty="),
            "a=1&token=[redacted];b=2&signature=[redacted]&empty=");
  EXPECT_EQ(scrubQuery(""), "");
  EXPECT_EQ(scrubQuery("flag&code=xyz"), "flag&code=[redacted]");
}

TEST(HttpScrub, SecretNamesIncludeCommonHeaderAndParameterSpellings) {
  for (const char* n : {"Authorization", "Proxy-Authorization", "X-API-Key", "api-key", "apikey",
                        "X-Auth-Token", "Set-Cookie", "client_secret", "sig", "key"}) {
    EXPECT_TRUE(isSecretName(n)) << n;
  }
  for (const char* n : {"content-type", "accept", "x-request-id", "limit", "monkey", "q"}) {
    EXPECT_FALSE(isSecretName(n)) << n;
  }
}

}  // namespace
}  // namespace jg::audit
