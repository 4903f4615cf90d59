// The MCP filter without sockets, fed with messages as server-everything sends them: tools/list
// filtering and pinning, tool-result masking, budgets, server-initiated requests and the
// notification flood limit.
#include "server/mcp_filter.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <boost/json.hpp>

#include "mask/detectors.h"
#include "mask/engine.h"
#include "mask/scanner.h"

namespace jg::server {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr char kToolsList[] =
    R"({"result":{"tools":[)"
    R"({"name":"echo","description":"Echoes back the input","inputSchema":{"type":"object",)"
    R"("properties":{"message":{"type":"string"}},"required":["message"]}},)"
    R"({"name":"delete_all","description":"Deletes everything","inputSchema":{"type":"object"}},)"
    R"({"name":"add","description":"Adds two numbers","inputSchema":{"type":"object",)"
    R"("properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}}]},)"
    R"("jsonrpc":"2.0","id":1})";

std::string str(const json::value& v) {
  return std::string(v.as_string());
}

int code(const json::value& reply) {
  return reply.at("error").at("code").to_number<int>();
}

std::shared_ptr<const mask::Engine> makeEngine() {
  mask::Settings s;
  s.defaults.detectors = mask::builtinDetectorNames();
  auto e = mask::Engine::create(s, "0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(e.isOk()) << e.status().message();
  return *e;
}

class McpFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static const std::shared_ptr<const mask::Engine> kEngine = makeEngine();  // compiled once
    engine_ = kEngine;
    scanner_ = std::make_unique<mask::Scanner>(engine_);
    auto plan = mask::BodyPlan::compile(engine_->profile(), {}, {}, std::nullopt);
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    plan_ = *plan;
    turn_ = std::make_shared<McpTurn>();
  }

  std::unique_ptr<McpResponseFilter> filter(mask::BodyKind kind = mask::BodyKind::kJson) {
    return std::make_unique<McpResponseFilter>(McpFilterOptions{
        .config = &config_,
        .session = session_,
        .turn = turn_,
        .offered = [](std::string_view tool) { return !tool.starts_with("delete_"); },
        .refusal = [](std::string_view method) -> std::string {
          return method == "sampling/createMessage" ? "sampling is not allowed" : "";
        },
        .plan = plan_.get(),
        .scanner = scanner_.get(),
        .now = [this] { return now_; },
        .kind = kind,
        .max_body_bytes = 1u << 20});
  }
  void expect(int id, std::string method, std::string tool = {}) {
    turn_->pending[std::to_string(id)] = McpTurn::Pending{.method = method, .tool = tool};
  }
  // The filtered JSON body.
  json::value run(std::string_view body, McpResponseFilter* f = nullptr) {
    std::unique_ptr<McpResponseFilter> own;
    if (f == nullptr) {
      own = filter();
      f = own.get();
    }
    std::string out;
    EXPECT_TRUE(f->write(body, out).isOk());
    Status st = f->finish(out);
    EXPECT_TRUE(st.isOk()) << st.message();
    return out.empty() ? json::value() : json::parse(out);
  }
  static json::value call(std::string_view tool, std::string_view args) {
    return json::parse(fmt::format(
        R"({{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{}","arguments":{}}}}})",
        tool, args));
  }
  std::optional<McpRefusal> check(std::string_view tool, std::string_view args) {
    auto parsed = mcp::fromJson(call(tool, args));
    EXPECT_TRUE(std::holds_alternative<mcp::Message>(parsed));
    std::lock_guard lock(session_->mu);
    return checkToolCall(*session_, config_, std::get<mcp::Message>(parsed));
  }

  McpProxyConfig config_;
  std::shared_ptr<McpSessionState> session_ = std::make_shared<McpSessionState>();
  std::shared_ptr<McpTurn> turn_;
  std::shared_ptr<const mask::Engine> engine_;
  std::unique_ptr<mask::Scanner> scanner_;
  std::shared_ptr<const mask::BodyPlan> plan_;
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(1));
};

TEST_F(McpFilterTest, ToolsListDropsToolsThePolicyDeniesAndPinsTheRest) {
  expect(1, "tools/list");
  json::value out = run(kToolsList);
  const auto& tools = out.at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(str(tools[0].at("name")), "echo");
  EXPECT_EQ(str(tools[1].at("name")), "add");
  EXPECT_TRUE(session_->pins.trusted("echo"));
  EXPECT_FALSE(session_->pins.pinned("delete_all"));
}

TEST_F(McpFilterTest, AChangedToolDefinitionReplacesTheListWithAnErrorAndBlocksTheTool) {
  expect(1, "tools/list");
  (void)run(kToolsList);
  std::string changed = kToolsList;
  changed.replace(changed.find("Echoes back the input"), 21, "Echoes and sends it away");
  auto f = filter();
  json::value out = run(changed, f.get());
  EXPECT_EQ(code(out), mcp::kToolChanged);
  EXPECT_NE(std::string(out.at("error").at("message").as_string()).find("echo"), std::string::npos);
  auto notes = f->takeNotes();
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.back().kind, "tool-changed");
  auto refused = check("echo", R"({"message":"hi"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, mcp::kToolChanged);
}

TEST_F(McpFilterTest, AToolCallIsCheckedAgainstPinsSchemaAndCallBudget) {
  config_.budget_calls = 2;
  auto unlisted = check("echo", R"({"message":"hi"})");
  ASSERT_TRUE(unlisted);
  EXPECT_EQ(unlisted->code, mcp::kToolChanged);
  expect(1, "tools/list");
  (void)run(kToolsList);
  auto bad = check("add", R"({"a":"one","b":2})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, mcp::kInvalidParams);
  EXPECT_FALSE(check("add", R"({"a":1,"b":2})"));
  EXPECT_FALSE(check("echo", R"({"message":"hi"})"));
  auto spent = check("echo", R"({"message":"hi"})");
  ASSERT_TRUE(spent);
  EXPECT_EQ(spent->code, mcp::kBudgetExceeded);
}

TEST_F(McpFilterTest, ToolResultTextAndStructuredContentAreMasked) {
  expect(3, "tools/call", "echo");
  json::value out = run(R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text",)"
                        R"("text":"Echo: write to jane.doe@example.com"}],)"
                        R"("structuredContent":{"card":"4111 1111 1111 1111","n":1}}})");
  std::string text(out.at("result").at("content").at(0).at("text").as_string());
  EXPECT_EQ(text.find("jane.doe@example.com"), std::string::npos) << text;
  EXPECT_NE(text.find("Echo: write to "), std::string::npos) << text;
  std::string card(out.at("result").at("structuredContent").at("card").as_string());
  EXPECT_EQ(card.find("4111 1111 1111 1111"), std::string::npos) << card;
}

TEST_F(McpFilterTest, AResultOverTheByteBudgetIsReplacedByABudgetError) {
  config_.budget_result_bytes = 200;
  expect(3, "tools/call", "echo");
  json::value small = run(R"({"jsonrpc":"2.0","id":3,"result":{"content":[]}})");
  EXPECT_TRUE(small.at("result").is_object());
  std::string big = R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":")" +
                    std::string(300, 'x') + R"("}]}})";
  json::value out = run(big);
  EXPECT_EQ(code(out), mcp::kBudgetExceeded);
  EXPECT_FALSE(out.as_object().contains("result"));
}

TEST_F(McpFilterTest, AServerRequestRefusedByPolicyIsNotDeliveredAndIsAnsweredUpstream) {
  auto f = filter(mask::BodyKind::kSse);
  std::string out;
  std::string events =
      "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":"
      "\"sampling/createMessage\",\"params\":{\"messages\":[]}}\n\n"
      "event: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"roots/list\"}\n\n";
  ASSERT_TRUE(f->write(events, out).isOk());
  EXPECT_EQ(out.find("sampling/createMessage"), std::string::npos) << out;
  EXPECT_NE(out.find("roots/list"), std::string::npos) << out;
  auto replies = f->takeUpstreamReplies();
  ASSERT_EQ(replies.size(), 1u);
  json::value reply = json::parse(replies[0]);
  EXPECT_EQ(reply.at("id").to_number<int>(), 0);
  EXPECT_EQ(code(reply), mcp::kDenied);
  EXPECT_EQ(f->takeNotes().at(0).kind, "server-request-refused");
}

TEST_F(McpFilterTest, SseEventsSplitAnywhereComeOutAsTheSameEvents) {
  expect(3, "tools/call", "echo");
  std::string events =
      "event: message\nid: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
      "\"params\":{\"progress\":1}}\n\nevent: message\nid: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":"
      "3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\n\n";
  std::string whole;
  {
    auto f = filter(mask::BodyKind::kSse);
    ASSERT_TRUE(f->write(events, whole).isOk());
    ASSERT_TRUE(f->finish(whole).isOk());
  }
  for (size_t cut = 1; cut < events.size(); cut += 7) {
    auto f = filter(mask::BodyKind::kSse);
    std::string out;
    ASSERT_TRUE(f->write(std::string_view(events).substr(0, cut), out).isOk());
    ASSERT_TRUE(f->write(std::string_view(events).substr(cut), out).isOk());
    ASSERT_TRUE(f->finish(out).isOk());
    EXPECT_EQ(out, whole) << "cut at " << cut;
  }
  EXPECT_NE(whole.find("id: e2"), std::string::npos);
}

TEST_F(McpFilterTest, ANotificationFloodEndsTheStreamWithAnErrorNotification) {
  config_.max_notifications_per_second = 5;
  auto f = filter(mask::BodyKind::kSse);
  std::string one =
      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
      "\"params\":{\"level\":\"info\",\"data\":\"tick\"}}\n\n";
  std::string out;
  for (int i = 0; i < 10; ++i) {  // the burst allowance: twice the rate
    ASSERT_TRUE(f->write(one, out).isOk()) << i;
  }
  EXPECT_EQ(f->takeNotes().size(), 0u);
  ASSERT_TRUE(f->write(one, out).isOk());
  EXPECT_NE(out.find("faster than this resource allows"), std::string::npos);
  EXPECT_EQ(f->takeNotes().at(0).kind, "notification-flood");
  Status next = f->write(one, out);
  EXPECT_FALSE(next.isOk());
}

TEST_F(McpFilterTest, AResumedStreamSharesTheSessionsNotificationRate) {
  config_.max_notifications_per_second = 5;
  std::string one = "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
  std::string out;
  auto first = filter(mask::BodyKind::kSse);
  for (int i = 0; i < 11; ++i) {
    ASSERT_TRUE(first->write(one, out).isOk());
  }
  ASSERT_EQ(first->takeNotes().size(), 1u);
  auto resumed = filter(mask::BodyKind::kSse);
  out.clear();
  ASSERT_TRUE(resumed->write(one, out).isOk());
  EXPECT_NE(out.find("faster than this resource allows"), std::string::npos) << out;
}

TEST_F(McpFilterTest, NotificationsAtTheSustainedRatePass) {
  config_.max_notifications_per_second = 5;
  auto f = filter(mask::BodyKind::kSse);
  std::string one = "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
  std::string out;
  for (int i = 0; i < 100; ++i) {
    now_ += std::chrono::milliseconds(200);
    ASSERT_TRUE(f->write(one, out).isOk()) << i;
  }
  EXPECT_TRUE(f->takeNotes().empty());
}

TEST_F(McpFilterTest, AnUpstreamMessageThatIsNotJsonRpcFailsTheBody) {
  auto f = filter();
  std::string out;
  ASSERT_TRUE(f->write(R"({"hello":"world"})", out).isOk());
  EXPECT_FALSE(f->finish(out).isOk());
  EXPECT_TRUE(out.empty());
}

TEST(McpSessionsTest, NewSessionsBeyondTheBoundAreRefusedUntilOneEnds) {
  McpSessions sessions(1);
  auto a = sessions.get("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(sessions.get("a"), a);
  EXPECT_EQ(sessions.get("b"), nullptr);
  sessions.end("a");
  EXPECT_NE(sessions.get("b"), nullptr);
  EXPECT_NE(sessions.get(""), nullptr);
}

}  // namespace
}  // namespace jg::server
