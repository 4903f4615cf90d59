// The admin HTTP listener (server/admin_api.h) over real sockets: authentication, routing,
// JSON errors and the access API behind it.
#include "server/admin_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "access/test_util.h"
#include "console/web.h"
#include "net/http.h"

namespace jg::server {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using access::testing::person;

constexpr char kPolicy[] = R"(
- { id: kb-read, match: { resource: kb }, allow: [select], role: reader }
- { id: kb-session, match: { resource: kb, groups: [engineers] }, action: review,
    scope: session, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
)";

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::openSqlite(dir_.file("state.db"));
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    access::BrokerOptions bo;
    bo.start_sweeper = false;
    broker_ = *access::Broker::create(*store_, bo);
    config::Errors errors;
    policy_ = *policy::Policy::compile(*config::Node::parse(kPolicy, "p.yaml"), errors);
    AdminApiOptions o;
    o.listen = Endpoint{"127.0.0.1", 0};
    o.broker = broker_;
    o.policy = [this] { return policy_; };
    o.authenticate = [](std::string_view token) -> Result<identity::Identity> {
      if (token == "alice-token") {
        return person("alice", {"engineers"});
      }
      if (token == "olga-token") {
        return person("olga", {"data-owners"});
      }
      return Status::error(Code::kPermissionDenied, "invalid token: bad signature", "28P01");
    };
    // A stand-in for the console's cookie sessions: "sid=olga" is a live session whose state
    // changes need X-CSRF-Token: t; "sid=gone" has ended.
    o.authenticate_request =
        [](const AdminRequest& req) -> std::optional<Result<identity::Identity>> {
      if (req.cookie.empty()) {
        return std::nullopt;
      }
      if (req.cookie != "sid=olga") {
        return Result<identity::Identity>(Status::error(Code::kNotFound, "session ended"));
      }
      if (req.method != http::verb::get && req.csrf_token != "t") {
        return Result<identity::Identity>(Status::error(Code::kPermissionDenied, "no CSRF token"));
      }
      return Result<identity::Identity>(person("olga", {"data-owners"}));
    };
    auto api = AdminApi::start(io_, std::move(o));
    ASSERT_TRUE(api) << api.status().message();
    api_ = std::move(*api);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    api_.reset();
    io_.stop();
    thread_.join();
  }

  net::HttpResponse send(const std::string& method, const std::string& path,
                         const std::string& token = {}, const std::string& body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::HttpRequest req;
    req.method = method;
    req.headers = std::move(headers);
    req.url = "http://127.0.0.1:" + std::to_string(api_->port()) + path;
    if (!token.empty()) {
      req.headers.emplace_back("Authorization", "Bearer " + token);
    }
    if (!body.empty()) {
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body;
    }
    auto res = http_.send(req, std::chrono::seconds(5));
    EXPECT_TRUE(res) << res.status().message();
    return res ? *res : net::HttpResponse{};
  }

  static json::object obj(const net::HttpResponse& r) { return json::parse(r.body).as_object(); }

  access::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<access::Broker> broker_;
  std::shared_ptr<const policy::Policy> policy_;
  boost::asio::io_context io_;
  std::unique_ptr<AdminApi> api_;
  std::thread thread_;
  net::HttpClient http_;
};

TEST_F(AdminApiTest, HealthNeedsNoToken) {
  auto r = send("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(obj(r)["status"].as_string(), "ok");
}

TEST_F(AdminApiTest, ApiWithoutOrWithABadTokenIs401WithAJsonBody) {
  auto none = send("GET", "/api/v1/reviews");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(obj(none)["error"].as_string(), "unauthorized");
  auto bad = send("GET", "/api/v1/reviews", "forged");
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(std::string(obj(bad)["message"].as_string()).find("bad signature"), std::string::npos);
  EXPECT_EQ(send("GET", "/api/v1/nothing-here").status, 401);
  EXPECT_EQ(send("GET", "/api/v1/nothing-here", "alice-token").status, 404);
  EXPECT_EQ(send("GET", "/elsewhere").status, 404);
}

TEST_F(AdminApiTest, AskApproveAndSelfApprovalOverHttp) {
  auto created = send("POST", "/api/v1/reviews", "alice-token",
                      R"({"resource":"kb","reason":"incident","duration":"10m"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(obj(created)["id"].as_string());
  EXPECT_EQ(send("POST", "/api/v1/reviews/" + id + "/approve", "alice-token").status, 403);
  auto ok = send("POST", "/api/v1/reviews/" + id + "/approve", "olga-token", R"({"comment":"k"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(obj(ok)["state"].as_string(), "approved");
  EXPECT_EQ(send("POST", "/api/v1/reviews/" + id + "/approve", "olga-token").status, 409);
  EXPECT_TRUE(broker_->activeGrant(person("alice"), "kb", "reader"));
}

TEST_F(AdminApiTest, ExtraRoutesCanBeRegistered) {
  api_->addRoute(
      http::verb::get, "/.well-known/jwks.json",
      [](const AdminRequest&) {
        return AdminResponse{200, "application/json", R"({"keys":[]})", {}};
      },
      false);
  api_->addRoute(http::verb::get, "/api/v1/whoami", [](const AdminRequest& r) {
    return AdminResponse{200, "text/plain", r.caller->subject, {}};
  });
  EXPECT_EQ(send("GET", "/.well-known/jwks.json").body, R"({"keys":[]})");
  EXPECT_EQ(send("GET", "/api/v1/whoami").status, 401);
  EXPECT_EQ(send("GET", "/api/v1/whoami", "olga-token").body, "olga");
  EXPECT_EQ(send("POST", "/.well-known/jwks.json").status, 405);
}

TEST_F(AdminApiTest, RequestAuthenticatorStandsInForABearerToken) {
  api_->addRoute(http::verb::get, "/api/v1/whoami", [](const AdminRequest& r) {
    return AdminResponse{200, "text/plain", r.caller->subject, {}};
  });
  EXPECT_EQ(send("GET", "/api/v1/whoami", "", "", {{"Cookie", "sid=olga"}}).body, "olga");
  auto ended = send("GET", "/api/v1/whoami", "", "", {{"Cookie", "sid=gone"}});
  EXPECT_EQ(ended.status, 401);
  EXPECT_NE(ended.body.find("session ended"), std::string::npos);
  // A bearer token wins over a cookie.
  EXPECT_EQ(send("GET", "/api/v1/whoami", "alice-token", "", {{"Cookie", "sid=olga"}}).body,
            "alice");
}

TEST_F(AdminApiTest, StateChangeRefusedByTheRequestAuthenticatorIs403AndChangesNothing) {
  auto created = send("POST", "/api/v1/reviews", "alice-token",
                      R"({"resource":"kb","reason":"incident","duration":"10m"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string path = "/api/v1/reviews/" + std::string(obj(created)["id"].as_string());
  auto forged = send("POST", path + "/approve", "", "{}", {{"Cookie", "sid=olga"}});
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(obj(forged)["error"].as_string(), "forbidden");
  EXPECT_EQ(obj(send("GET", path, "olga-token"))["state"].as_string(), "pending");
  auto ok =
      send("POST", path + "/approve", "", "{}", {{"Cookie", "sid=olga"}, {"X-CSRF-Token", "t"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(obj(ok)["decisions"].as_array()[0].as_object()["approver"].as_object()["subject"],
            "olga");
}

TEST_F(AdminApiTest, GetAnswersCarryAnETagAndAMatchingIfNoneMatchGets304) {
  auto first = send("GET", "/api/v1/reviews", "olga-token");
  ASSERT_EQ(first.status, 200);
  // The ETag of an answer without one of its own is that of its body (the client here does not
  // return response headers; the e2e test reads the header itself).
  const std::string etag = console::etagOf(first.body);
  auto same = send("GET", "/api/v1/reviews", "olga-token", "", {{"If-None-Match", etag}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  ASSERT_EQ(send("POST", "/api/v1/reviews", "alice-token",
                 R"({"resource":"kb","reason":"incident","duration":"10m"})")
                .status,
            201);
  auto changed = send("GET", "/api/v1/reviews", "olga-token", "", {{"If-None-Match", etag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.body, first.body);
}

TEST_F(AdminApiTest, OversizedBodyIs413) {
  auto r = send("POST", "/api/v1/reviews", "alice-token", std::string(70 * 1024, 'x'));
  EXPECT_EQ(r.status, 413);
}

}  // namespace
}  // namespace jg::server
