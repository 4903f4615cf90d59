#include "proto/mcp/jsonrpc.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace jg::mcp {
namespace {

namespace json = boost::json;

Message one(std::string_view body) {
  auto parsed = parseBody(body, /*allow_batch=*/false);
  EXPECT_TRUE(std::holds_alternative<Parsed>(parsed)) << body;
  if (!std::holds_alternative<Parsed>(parsed)) {
    return {};
  }
  EXPECT_EQ(std::get<Parsed>(parsed).messages.size(), 1u);
  return std::get<Parsed>(parsed).messages.at(0);
}

RpcError refused(std::string_view body, bool allow_batch = false) {
  auto parsed = parseBody(body, allow_batch);
  EXPECT_TRUE(std::holds_alternative<RpcError>(parsed)) << body;
  if (!std::holds_alternative<RpcError>(parsed)) {
    return {};
  }
  return std::get<RpcError>(parsed);
}

constexpr std::string_view kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
    R"("capabilities":{"roots":{"listChanged":true},"sampling":{}},)"
    R"("clientInfo":{"name":"ExampleClient","version":"1.0.0"}}})";

TEST(JsonRpc, NumberBeyondTheRangeOfADoubleIsAParseError) {
  RpcError e = refused(R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                       R"("params":{"name":"search","arguments":{"limit":1e400}}})");
  EXPECT_EQ(e.code, kParseError);
  EXPECT_NE(e.message.find("beyond the range of a double"), std::string::npos) << e.message;
  EXPECT_TRUE(std::holds_alternative<Parsed>(
      parseBody(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1e300}})", false)));
}

TEST(JsonRpc, InitializeRequestIsARequestWithItsParams) {
  Message m = one(kInitialize);
  EXPECT_EQ(m.kind, Message::Kind::kRequest);
  EXPECT_TRUE(m.isRequest());
  EXPECT_EQ(m.id, json::value(1));
  EXPECT_EQ(m.method, "initialize");
  EXPECT_EQ(m.params.at("protocolVersion"), "2025-06-18");
  EXPECT_EQ(m.tool(), "");
  EXPECT_EQ(m.arguments(), nullptr);
}

TEST(JsonRpc, InitializeResultIsAResult) {
  Message m =
      one(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":)"
          R"({"tools":{"listChanged":true}},"serverInfo":{"name":"jitgate","version":"1"}}})");
  EXPECT_EQ(m.kind, Message::Kind::kResult);
  EXPECT_FALSE(m.isRequest());
  EXPECT_EQ(m.result.at("serverInfo").at("name"), "jitgate");
}

TEST(JsonRpc, ToolsCallExposesToolNameAndArguments) {
  Message m = one(R"({"jsonrpc":"2.0","id":"call-2","method":"tools/call",)"
                  R"("params":{"name":"get_weather","arguments":{"location":"New York"}}})");
  EXPECT_EQ(m.id, json::value("call-2"));
  EXPECT_EQ(m.tool(), "get_weather");
  ASSERT_NE(m.arguments(), nullptr);
  EXPECT_EQ(m.arguments()->at("location"), "New York");
}

TEST(JsonRpc, ToolsCallWithoutStringNameHasEmptyToolAndNoArguments) {
  Message m = one(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}})");
  EXPECT_EQ(m.tool(), "");
  EXPECT_EQ(m.arguments(), nullptr);
}

TEST(JsonRpc, ToolNameOfAnotherMethodIsEmpty) {
  Message m = one(R"({"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"x"}})");
  EXPECT_EQ(m.tool(), "");
}

TEST(JsonRpc, ProgressNotificationHasNullId) {
  Message m = one(R"({"jsonrpc":"2.0","method":"notifications/progress",)"
                  R"("params":{"progressToken":"abc123","progress":50,"total":100}})");
  EXPECT_EQ(m.kind, Message::Kind::kNotification);
  EXPECT_TRUE(m.id.is_null());
  EXPECT_EQ(m.params.at("progress"), 50);
}

TEST(JsonRpc, ErrorResponseCarriesCodeMessageAndData) {
  Message m = one(R"({"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: x",)"
                  R"("data":{"tool":"x"}}})");
  EXPECT_EQ(m.kind, Message::Kind::kError);
  EXPECT_EQ(m.error_code, kInvalidParams);
  EXPECT_EQ(m.error_message, "Unknown tool: x");
  EXPECT_EQ(m.error_data.at("tool"), "x");
}

TEST(JsonRpc, ErrorResponseWithNullIdIsAccepted) {
  Message m = one(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
  EXPECT_EQ(m.kind, Message::Kind::kError);
  EXPECT_TRUE(m.id.is_null());
  EXPECT_TRUE(m.error_data.is_null());
}

TEST(JsonRpc, NullIdOnARequestIsRefused) {
  RpcError e = refused(R"({"jsonrpc":"2.0","id":null,"method":"ping"})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_TRUE(e.id.is_null());
}

TEST(JsonRpc, FractionalIdIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})").code, kInvalidRequest);
}

TEST(JsonRpc, BooleanIdIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":true,"method":"ping"})").code, kInvalidRequest);
}

TEST(JsonRpc, ObjectIdOnAResultIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":{},"result":{}})").code, kInvalidRequest);
}

TEST(JsonRpc, StringAndNegativeIntegerIdsAreKept) {
  EXPECT_EQ(one(R"({"jsonrpc":"2.0","id":"a","method":"ping"})").id, json::value("a"));
  EXPECT_EQ(one(R"({"jsonrpc":"2.0","id":-4,"method":"ping"})").id, json::value(-4));
}

TEST(JsonRpc, MissingJsonrpcIsRefusedWithTheIdItCouldRead) {
  RpcError e = refused(R"({"id":9,"method":"ping"})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.id, json::value(9));
  EXPECT_NE(e.message.find("jsonrpc"), std::string::npos);
}

TEST(JsonRpc, WrongJsonrpcVersionIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"1.0","id":9,"method":"ping"})").code, kInvalidRequest);
  EXPECT_EQ(refused(R"({"jsonrpc":2.0,"id":9,"method":"ping"})").code, kInvalidRequest);
}

TEST(JsonRpc, NonStringMethodIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":9,"method":3})").code, kInvalidRequest);
}

TEST(JsonRpc, ScalarParamsAreRefused) {
  RpcError e = refused(R"({"jsonrpc":"2.0","id":9,"method":"ping","params":"x"})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.id, json::value(9));
}

TEST(JsonRpc, NullParamsAreRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":9,"method":"ping","params":null})").code,
            kInvalidRequest);
}

TEST(JsonRpc, ArrayParamsAreAccepted) {
  EXPECT_TRUE(one(R"({"jsonrpc":"2.0","id":9,"method":"x","params":[1,2]})").params.is_array());
}

TEST(JsonRpc, ResponseWithBothResultAndErrorIsRefused) {
  RpcError e = refused(R"({"jsonrpc":"2.0","id":2,"result":{},"error":{"code":1,"message":"m"}})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.id, json::value(2));
}

TEST(JsonRpc, ResponseWithNeitherResultNorErrorIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":2})").code, kInvalidRequest);
}

TEST(JsonRpc, MessageWithoutMethodOrIdIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","result":{}})").code, kInvalidRequest);
}

TEST(JsonRpc, RequestCarryingAResultIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":1,"method":"ping","result":{}})").code,
            kInvalidRequest);
}

TEST(JsonRpc, ErrorWithFractionalCodeOrMissingMessageIsRefused) {
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":2,"error":{"code":1.5,"message":"m"}})").code,
            kInvalidRequest);
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":2,"error":{"code":1}})").code, kInvalidRequest);
  EXPECT_EQ(refused(R"({"jsonrpc":"2.0","id":2,"error":"bad"})").code, kInvalidRequest);
}

TEST(JsonRpc, MemberOrderDoesNotMatter) {
  // The TypeScript SDK writes responses with "result" first.
  Message m =
      one(R"({"result":{"content":[{"type":"text","text":"Echo: hi"}]},"jsonrpc":"2.0","id":3})");
  EXPECT_EQ(m.kind, Message::Kind::kResult);
  EXPECT_EQ(m.id, json::value(3));
}

TEST(JsonRpc, RepeatedKeyKeepsItsLastValueLikeJsonParse) {
  Message m = one(R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                  R"("params":{"name":"read_docs","name":"drop_table"}})");
  EXPECT_EQ(m.tool(), "drop_table");
}

TEST(JsonRpc, InvalidUtf8AndTrailingDataAreParseErrors) {
  EXPECT_EQ(refused("\"\xff\"").code, kParseError);
  RpcError e = refused(R"({"jsonrpc":"2.0","id":1,"method":"ping"} {})");
  EXPECT_EQ(e.code, kParseError);
  EXPECT_EQ(e.message, "the body is not valid JSON: extra data");
}

TEST(JsonRpc, ScalarBodyIsAnInvalidRequest) {
  EXPECT_EQ(refused("42").code, kInvalidRequest);
}

TEST(JsonRpc, MalformedJsonIsAParseErrorWithNullId) {
  RpcError e = refused(R"({"jsonrpc":"2.0","id":1,"method":)");
  EXPECT_EQ(e.code, kParseError);
  EXPECT_TRUE(e.id.is_null());
}

TEST(JsonRpc, NestingDeeperThanTheBoundIsAParseError) {
  std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"x","params":)";
  deep += std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(refused(deep).code, kParseError);
}

TEST(JsonRpc, NestingWithinTheBoundIsAccepted) {
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"x","params":)";
  body += std::string(kMaxDepth - 1, '[') + std::string(kMaxDepth - 1, ']') + "}";
  EXPECT_EQ(one(body).method, "x");
}

TEST(JsonRpc, BatchWhenForbiddenIsRefusedNamingTheProtocolVersion) {
  RpcError e = refused(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_NE(e.message.find("protocol version"), std::string::npos);
}

TEST(JsonRpc, BatchWhenAllowedYieldsEveryMessage) {
  auto parsed = parseBody(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},)"
                          R"({"jsonrpc":"2.0","method":"notifications/initialized"}])",
                          /*allow_batch=*/true);
  ASSERT_TRUE(std::holds_alternative<Parsed>(parsed));
  const Parsed& p = std::get<Parsed>(parsed);
  EXPECT_TRUE(p.batch);
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[1].kind, Message::Kind::kNotification);
}

TEST(JsonRpc, SingleMessageWhenBatchesAllowedIsNotABatch) {
  auto parsed = parseBody(kInitialize, /*allow_batch=*/true);
  ASSERT_TRUE(std::holds_alternative<Parsed>(parsed));
  EXPECT_FALSE(std::get<Parsed>(parsed).batch);
}

TEST(JsonRpc, EmptyBatchIsAnInvalidRequest) {
  EXPECT_EQ(refused("[]", /*allow_batch=*/true).code, kInvalidRequest);
}

TEST(JsonRpc, BatchWithOneInvalidMemberIsRefusedWithThatMembersId) {
  RpcError e =
      refused(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":7,"method":4}])",
              /*allow_batch=*/true);
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.id, json::value(7));
}

// The fuzz seeds are real MCP messages; each must be accepted, so fuzzing starts from valid input.
TEST(JsonRpc, FuzzSeedMessagesAreAccepted) {
  for (const char* name : {"initialize", "initialize_result", "tools_list_result", "tools_call",
                           "progress", "error", "batch"}) {
    std::ifstream in(std::string("fuzz/corpus/mcp/") + name, std::ios::binary);
    ASSERT_TRUE(in) << name << " (tests run from the source root)";
    std::stringstream body;
    body << in.rdbuf();
    auto parsed = parseBody(body.str(), /*allow_batch=*/true);
    EXPECT_TRUE(std::holds_alternative<Parsed>(parsed)) << name;
  }
}

TEST(JsonRpc, SerializersWriteCompactJsonRpc) {
  EXPECT_EQ(resultText(1, json::object{{"tools", json::array{}}}),
            R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})");
  EXPECT_EQ(errorText("a", kDenied, "denied by rule r1"),
            R"({"jsonrpc":"2.0","id":"a","error":{"code":-32001,"message":"denied by rule r1"}})");
  EXPECT_EQ(errorText(nullptr, kParseError, "bad", json::object{{"rule", "x"}}),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad",)"
            R"("data":{"rule":"x"}}})");
  EXPECT_EQ(requestText(2, "tools/list", json::object{}),
            R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}})");
  EXPECT_EQ(requestText(3, "ping", nullptr), R"({"jsonrpc":"2.0","id":3,"method":"ping"})");
  EXPECT_EQ(notificationText("notifications/initialized", nullptr),
            R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
}

TEST(JsonRpc, ToJsonIsTheInverseOfFromJsonForEveryKind) {
  for (std::string_view body : {
           kInitialize,
           std::string_view(R"({"jsonrpc":"2.0","method":"notifications/progress",)"
                            R"("params":{"progressToken":1,"progress":2}})"),
           std::string_view(R"({"jsonrpc":"2.0","id":"x","result":{"content":[]}})"),
           std::string_view(R"({"jsonrpc":"2.0","id":4,"error":{"code":-32004,)"
                            R"("message":"tool changed","data":[1]}})"),
       }) {
    json::value original = json::parse(body);
    auto m = fromJson(original);
    ASSERT_TRUE(std::holds_alternative<Message>(m)) << body;
    EXPECT_EQ(toJson(std::get<Message>(m)), original) << body;
  }
}

TEST(JsonRpc, SupportedVersionsAreTheSdksNewestFirst) {
  auto versions = supportedVersions();
  ASSERT_EQ(versions.size(), 5u);
  EXPECT_EQ(versions.front(), "2025-11-25");
  EXPECT_EQ(versions.back(), "2024-10-07");
}

TEST(JsonRpc, NegotiateKeepsASupportedVersionAndOtherwiseOffersTheLatest) {
  EXPECT_EQ(negotiateVersion("2025-03-26"), "2025-03-26");
  EXPECT_EQ(negotiateVersion("2024-11-05"), "2024-11-05");
  EXPECT_EQ(negotiateVersion("2099-01-01"), "2025-11-25");
  EXPECT_EQ(negotiateVersion(""), "2025-11-25");
}

TEST(JsonRpc, OnlyVersion20250326AllowsBatches) {
  EXPECT_TRUE(versionAllowsBatch("2025-03-26"));
  EXPECT_FALSE(versionAllowsBatch("2025-06-18"));
  EXPECT_FALSE(versionAllowsBatch("2025-11-25"));
  EXPECT_FALSE(versionAllowsBatch("2024-11-05"));
}

}  // namespace
}  // namespace jg::mcp
