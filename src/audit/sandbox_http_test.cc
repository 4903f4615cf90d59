#include "audit/sandbox_http.h"

#include <gtest/gtest.h>

#include <sstream>

#include "audit/test_util.h"

namespace jg::audit {
namespace {

constexpr std::string_view kRaw = R"({"id":42,"email":"bob@example.com"})";
constexpr std::string_view kMasked = R"({"id":42,"email":"b***@example.com"})";

class HttpSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rec = Recorder::open(dir_.settings());
    ASSERT_TRUE(rec.isOk());
    rec_ = std::move(*rec);
    ConnectEvent c;
    c.resource = "vectors";
    c.protocol = "http";
    add(c);
  }
  void add(EventBody body) { ASSERT_TRUE(rec_->append(Event{"h1", {}, std::move(body)}).isOk()); }
  void request(uint64_t id, std::string method, std::string route, std::string body = "",
               std::string decision = "allow") {
    HttpRequestEvent r{.request_id = id,
                       .method = std::move(method),
                       .path = "/vectors" + route,
                       .route = route,
                       .headers = {{"content-type", "application/json"},
                                   {"host", "gw.example"},
                                   {"authorization", "Bearer [redacted]"}},
                       .body = body,
                       .body_bytes = body.size(),
                       .body_digest = sha256Hex(body),
                       .decision = std::move(decision)};
    add(r);
  }
  void completeResponse(uint64_t id, int status, std::string_view sent, std::string_view raw) {
    add(HttpResponseEvent{.request_id = id,
                          .status = status,
                          .content_type = "application/json",
                          .body = std::string(sent),
                          .raw_body = sent == raw ? RawBytes() : RawBytes::plain(std::string(raw)),
                          .complete = true,
                          .bytes = sent.size(),
                          .masked_values = {{"email", sent == raw ? 0u : 1u}},
                          .outcome = "complete"});
  }
  Result<HttpSandboxReport> run(const RawOpener* opener) {
    EXPECT_TRUE(rec_->close().isOk());
    auto send = [this](const net::HttpRequest& r) -> Result<net::HttpResponse> {
      sent_.push_back(r);
      auto it = answers_.find(r.method + " " + r.url);
      if (it == answers_.end()) {
        return Status::error(Code::kUnavailable, "connection refused");
      }
      return it->second;
    };
    return httpSandboxReplay(dir_.auditDir(), "h1", std::nullopt, "http://127.0.0.1:9/", send,
                             opener);
  }

  testing::TempAuditDir dir_;
  std::unique_ptr<Recorder> rec_;
  std::map<std::string, net::HttpResponse> answers_;
  std::vector<net::HttpRequest> sent_;
};

TEST_F(HttpSandboxTest, ResendsRoutesToTheBaseUrlAndComparesStatusAndRawBody) {
  request(1, "POST", "/collections/docs/points/search", R"({"limit":1})");
  completeResponse(1, 200, kMasked, kRaw);
  answers_["POST http://127.0.0.1:9/collections/docs/points/search"] = {
      .status = 200, .content_type = "application/json", .body = std::string(kRaw)};
  RawOpener opener;
  opener.addKey(*AeadKey::loadFile(dir_.path("keys/raw.key")));
  auto report = run(&opener);
  ASSERT_TRUE(report.isOk()) << report.status().message();
  ASSERT_EQ(report->exchanges.size(), 1u);
  const auto& x = report->exchanges[0];
  EXPECT_EQ(x.outcome, SandboxOutcome::kMatch) << x.reason;
  EXPECT_EQ(x.basis, "raw");
  EXPECT_EQ(report->exitCode(), 0);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].body, R"({"limit":1})");
  // Host and scrubbed headers are not forwarded; the others are.
  ASSERT_EQ(sent_[0].headers.size(), 1u);
  EXPECT_EQ(sent_[0].headers[0].first, "content-type");
}

TEST_F(HttpSandboxTest, WithoutTheKeyAMaskedBodyIsComparedAsMaskedAndDiffers) {
  request(1, "GET", "/collections/docs/points/42");
  completeResponse(1, 200, kMasked, kRaw);
  answers_["GET http://127.0.0.1:9/collections/docs/points/42"] = {
      .status = 200, .content_type = "", .body = std::string(kRaw)};
  auto report = run(nullptr);
  ASSERT_TRUE(report.isOk());
  const auto& x = report->exchanges[0];
  EXPECT_EQ(x.outcome, SandboxOutcome::kDiffers);
  EXPECT_EQ(x.basis, "masked");
  EXPECT_NE(x.reason.find("body differs"), std::string::npos) << x.reason;
  EXPECT_EQ(report->exitCode(), 1);
}

TEST_F(HttpSandboxTest, StatusDifferenceAndStreamedBodiesAreReported) {
  request(1, "GET", "/a");
  add(HttpResponseEvent{.request_id = 1, .status = 200, .body = "part1-"});
  add(HttpBodyEvent{.request_id = 1, .body = "part2"});
  add(HttpResponseEndEvent{.request_id = 1, .bytes = 11, .outcome = "complete"});
  request(2, "GET", "/b");
  completeResponse(2, 200, "ok", "ok");
  answers_["GET http://127.0.0.1:9/a"] = {.status = 200, .content_type = "", .body = "part1-part2"};
  answers_["GET http://127.0.0.1:9/b"] = {.status = 500, .content_type = "", .body = "ok"};
  auto report = run(nullptr);
  ASSERT_TRUE(report.isOk());
  ASSERT_EQ(report->exchanges.size(), 2u);
  EXPECT_EQ(report->exchanges[0].outcome, SandboxOutcome::kMatch) << report->exchanges[0].reason;
  EXPECT_EQ(report->exchanges[0].basis, "raw");
  EXPECT_EQ(report->exchanges[1].outcome, SandboxOutcome::kDiffers);
  EXPECT_NE(report->exchanges[1].reason.find("status 200 recorded, 500 in the sandbox"),
            std::string::npos);
}

TEST_F(HttpSandboxTest, RefusedScrubbedAndCutRequestsAreSkipped) {
  request(1, "DELETE", "/collections/docs", "", "deny");
  HttpRequestEvent scrubbed{.request_id = 2,
                            .method = "POST",
                            .path = "/vectors/login",
                            .route = "/login",
                            .body = R"({"password":"[redacted]"})",
                            .body_bytes = 21,
                            .body_digest = sha256Hex(R"({"password":"x"})"),
                            .decision = "allow"};
  add(scrubbed);
  HttpRequestEvent cut = scrubbed;
  cut.request_id = 3;
  cut.body = "{\"a\":";
  cut.body_bytes = 1 << 20;
  add(cut);
  auto report = run(nullptr);
  ASSERT_TRUE(report.isOk());
  ASSERT_EQ(report->exchanges.size(), 3u);
  EXPECT_EQ(report->skipped, 3u);
  EXPECT_NE(report->exchanges[0].reason.find("refused"), std::string::npos);
  EXPECT_NE(report->exchanges[1].reason.find("scrubbed"), std::string::npos);
  EXPECT_NE(report->exchanges[2].reason.find("cut"), std::string::npos);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(HttpSandboxTest, TransportFailureIsAnErrorAndTheReportRenders) {
  request(1, "GET", "/unanswered");
  completeResponse(1, 200, "x", "x");
  auto report = run(nullptr);
  ASSERT_TRUE(report.isOk());
  EXPECT_EQ(report->errors, 1u);
  EXPECT_EQ(report->exitCode(), 2);
  std::ostringstream text;
  renderHttpSandboxText(*report, text);
  EXPECT_NE(text.str().find("[1] error    GET /unanswered"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("connection refused"), std::string::npos);
  auto j = httpSandboxJson(*report);
  EXPECT_EQ(j["errors"].as_uint64(), 1u);
  EXPECT_FALSE(j["ok"].as_bool());
}

TEST(HttpSandbox, APostgresSessionIsRefused) {
  testing::TempAuditDir dir;
  auto rec = Recorder::open(dir.settings());
  ASSERT_TRUE(rec.isOk());
  ConnectEvent c;
  c.resource = "kb";
  ASSERT_TRUE((*rec)->append(Event{"p1", {}, c}).isOk());
  ASSERT_TRUE((*rec)->close().isOk());
  auto report = httpSandboxReplay(
      dir.auditDir(), "p1", std::nullopt, "http://127.0.0.1:9",
      [](const net::HttpRequest&) -> Result<net::HttpResponse> { return net::HttpResponse{}; },
      nullptr);
  EXPECT_FALSE(report.isOk());
}

}  // namespace
}  // namespace jg::audit
