#include "mask/body.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "mask/test_util.h"

namespace jg::mask {
namespace {

using testing::makeEngine;

struct Masked {
  Status status;
  std::string out;
};

class BodyTest : public ::testing::Test {
 protected:
  std::shared_ptr<const BodyPlan> plan(std::vector<JsonPathRule> rules = {},
                                       std::vector<std::string> ids = {},
                                       std::optional<std::string> items = std::nullopt) {
    auto p =
        BodyPlan::compile(engine_->profile(), std::move(rules), std::move(ids), std::move(items));
    EXPECT_TRUE(p.isOk()) << p.status().message();
    return p.isOk() ? *p : nullptr;
  }

  // Feeds `chunks` to a new masker, then finishes; stops at the first error.
  Masked run(BodyKind kind, const BodyPlan& p, const std::vector<std::string_view>& chunks,
             BodyLimits limits = {}) {
    masker_ = makeBodyMasker(kind, p, scanner_, limits);
    Masked m;
    for (std::string_view c : chunks) {
      m.status = masker_->write(c, m.out);
      if (!m.status) {
        return m;
      }
    }
    m.status = masker_->finish(m.out);
    return m;
  }

  std::string ok(BodyKind kind, const BodyPlan& p, std::string_view body, BodyLimits limits = {}) {
    Masked m = run(kind, p, {body}, limits);
    EXPECT_TRUE(m.status.isOk()) << m.status.message() << " for " << body;
    return m.out;
  }

  static void expectValidJson(std::string_view s) {
    boost::system::error_code ec;
    boost::json::parse(s, ec);
    EXPECT_FALSE(ec) << s;
  }

  static std::shared_ptr<const Engine> sharedEngine() {
    static std::shared_ptr<const Engine> e = makeEngine();
    return e;
  }

  std::shared_ptr<const Engine> engine_ = sharedEngine();
  Scanner scanner_{engine_};
  std::unique_ptr<BodyMasker> masker_;
};

constexpr std::string_view kSearch =
    R"({"result": [{"id": 7, "score": 0.8125e0, "payload": {"text": "mail bob@example.com now",)"
    R"( "email": "ann@example.org", "card": 4111111111111111, "ok": true, "x": null}},)"
    R"( {"id": "doc-8", "score": -1.50, "payload": {"text": "say \"hi\" \u00e9", "email": "c@d.io"}}],)"
    R"( "time": 0.002})";

TEST_F(BodyTest, JsonSplitAtEveryByteGivesTheSameOutputAsOneChunk) {
  auto p = plan({{.path = "$.result[*].payload.email", .strategy = Strategy::kTokenize}},
                {"$.result[*].id"});
  std::string whole = ok(BodyKind::kJson, *p, kSearch);
  expectValidJson(whole);
  for (size_t i = 0; i <= kSearch.size(); ++i) {
    Masked m = run(BodyKind::kJson, *p, {kSearch.substr(0, i), kSearch.substr(i)});
    ASSERT_TRUE(m.status.isOk()) << i << ": " << m.status.message();
    ASSERT_EQ(m.out, whole) << "split at " << i;
  }
}

TEST_F(BodyTest, JsonFedOneByteAtATimeGivesTheSameOutput) {
  auto p = plan();
  std::string whole = ok(BodyKind::kJson, *p, kSearch);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < kSearch.size(); ++i) {
    bytes.push_back(kSearch.substr(i, 1));
  }
  Masked m = run(BodyKind::kJson, *p, bytes);
  ASSERT_TRUE(m.status.isOk()) << m.status.message();
  EXPECT_EQ(m.out, whole);
}

TEST_F(BodyTest, JsonDetectorsMaskStringsKeysAndNumbersAtAnyDepth) {
  auto p = plan();
  EXPECT_EQ(ok(BodyKind::kJson, *p,
               R"({"a": [{"b": {"note": "call +1 415 555 2671"}}], "bob@example.com": 1,)"
               R"( "card": 4111111111111111, "n": 12})"),
            R"({"a":[{"b":{"note":"call [PHONE]"}}],"[EMAIL]":1,"card":"[CREDIT_CARD]","n":12})");
  EXPECT_EQ(masker_->counters().by_label.at("EMAIL"), 1u);
  EXPECT_EQ(masker_->counters().by_label.at("PHONE"), 1u);
  EXPECT_EQ(masker_->counters().by_label.at("CREDIT_CARD"), 1u);
}

TEST_F(BodyTest, ShortTokensBatchedAcrossManyKilobytesAreMaskedWhereTheyHit) {
  auto p = plan();
  std::string doc = "[", want = "[";
  for (int i = 0; i < 2000; ++i) {
    bool pii = i % 397 == 5;
    std::string v = pii ? "u" + std::to_string(i) + "@example.com" : "w" + std::to_string(i);
    doc +=
        (i ? ", " : "") + std::string("{\"k\": \"") + v + "\", \"n\": " + std::to_string(i) + "}";
    want += (i ? "," : "") + std::string("{\"k\":\"") + (pii ? "[EMAIL]" : v) +
            "\",\"n\":" + std::to_string(i) + "}";
  }
  doc += "]";
  want += "]";
  EXPECT_EQ(ok(BodyKind::kJson, *p, doc), want);
  EXPECT_EQ(masker_->counters().by_label.at("EMAIL"), 6u);
  Masked m = run(BodyKind::kJson, *p,
                 {std::string_view(doc).substr(0, 7777), std::string_view(doc).substr(7777)});
  EXPECT_EQ(m.out, want);
}

TEST_F(BodyTest, JsonEscapesCannotHideAValue) {
  auto p = plan();
  EXPECT_EQ(ok(BodyKind::kJson, *p, R"({"e": "bob\u0040example.com", "q": "say \"hi\"\n"})"),
            R"({"e":"[EMAIL]","q":"say \"hi\"\n"})");
}

TEST_F(BodyTest, JsonSecretMembersAreMaskedLikeInJsonCells) {
  auto p = plan();
  EXPECT_EQ(ok(BodyKind::kJson, *p, R"({"db_password": "hunter2xyz", "apiKey": 12345, "p": "x"})"),
            R"({"db_password":"[SECRET]","apiKey":"[SECRET]","p":"x"})");
}

TEST_F(BodyTest, JsonKeepsNumberSpellingAndKeyOrder) {
  auto p = plan();
  std::string_view doc = R"({"z": 1.50, "a": -0.0e+10, "m": 123456789012345678901234567890})";
  EXPECT_EQ(ok(BodyKind::kJson, *p, doc),
            R"({"z":1.50,"a":-0.0e+10,"m":123456789012345678901234567890})");
  // Split inside the long number.
  Masked m = run(BodyKind::kJson, *p, {doc.substr(0, 50), doc.substr(50)});
  EXPECT_EQ(m.out, R"({"z":1.50,"a":-0.0e+10,"m":123456789012345678901234567890})");
}

TEST_F(BodyTest, PathRulesApplyEachStrategyToTheValueAtThePath) {
  std::string_view doc = R"({"u": {"email": "ann@example.org", "ssn": "123-45-6789"}, "k": 1})";
  auto redact = plan({{.path = "$.u.email"}});
  EXPECT_EQ(ok(BodyKind::kJson, *redact, doc),
            R"({"u":{"email":"[EMAIL]","ssn":"[US_SSN]"},"k":1})");
  auto partial = plan({{.path = "$.u['email']", .strategy = Strategy::kPartial, .keep_last = 3}});
  EXPECT_EQ(ok(BodyKind::kJson, *partial, doc),
            R"({"u":{"email":"************org","ssn":"[US_SSN]"},"k":1})");
  auto hash = plan({{.path = "$.u.email", .strategy = Strategy::kHash}});
  std::string hashed = ok(BodyKind::kJson, *hash, doc);
  EXPECT_TRUE(hashed.starts_with(R"({"u":{"email":")")) << hashed;
  EXPECT_EQ(hashed.size(), std::string_view(R"({"u":{"email":"0123456789abcdef",)").size() +
                               std::string_view(R"("ssn":"[US_SSN]"},"k":1})").size());
  auto token = plan({{.path = "$.u.email", .strategy = Strategy::kTokenize, .label = "MAIL"}});
  EXPECT_NE(ok(BodyKind::kJson, *token, doc).find(R"("email":"tok_)"), std::string::npos);
  EXPECT_EQ(masker_->counters().by_label.at("MAIL"), 1u);
  auto null = plan({{.path = "$.k", .strategy = Strategy::kNull}});
  EXPECT_EQ(ok(BodyKind::kJson, *null, doc),
            R"({"u":{"email":"[EMAIL]","ssn":"[US_SSN]"},"k":null})");
}

TEST_F(BodyTest, PathRuleMasksAWholeContainerAsOneValue) {
  auto p = plan({{.path = "$.items[*].payload"}, {.path = "$.flag", .label = "F"}});
  EXPECT_EQ(ok(BodyKind::kJson, *p,
               R"({"items": [{"id": 1, "payload": {"a": [1, {"b": "c"}]}}, {"payload": []}],)"
               R"( "flag": false})"),
            R"({"items":[{"id":1,"payload":"[PAYLOAD]"},{"payload":"[PAYLOAD]"}],"flag":"[F]"})");
  EXPECT_EQ(masker_->counters().by_label.at("PAYLOAD"), 2u);
}

TEST_F(BodyTest, TokenOfAContainerDependsOnItsContent) {
  auto p = plan({{.path = "$[*].v", .strategy = Strategy::kTokenize}});
  std::string out =
      ok(BodyKind::kJson, *p, R"([{"v": {"a": 1}}, {"v": {"a": 1}}, {"v": {"a": 2}}])");
  auto v = boost::json::parse(out).as_array();
  EXPECT_EQ(v[0].at("v"), v[1].at("v"));
  EXPECT_NE(v[0].at("v"), v[2].at("v"));
}

TEST_F(BodyTest, RecursiveDescentMatchesAtAnyDepth) {
  auto p = plan(
      {{.path = "$..ssn", .strategy = Strategy::kNull}, {.path = "$..['x']..*", .label = "X"}});
  EXPECT_EQ(ok(BodyKind::kJson, *p,
               R"({"ssn": "1", "a": [{"ssn": 2}, {"b": {"ssn": {"deep": 1}}}], "x": {"y": 3}})"),
            R"({"ssn":null,"a":[{"ssn":null},{"b":{"ssn":null}}],"x":{"y":"[X]"}})");
}

TEST_F(BodyTest, WildcardMatchesMembersAndElements) {
  auto p = plan({{.path = "$.*.a", .label = "A"}, {.path = "$.l[*]", .label = "L"}});
  EXPECT_EQ(ok(BodyKind::kJson, *p, R"({"o": {"a": 1, "b": 2}, "l": [1, "x"]})"),
            R"({"o":{"a":"[A]","b":2},"l":["[L]","[L]"]})");
}

TEST_F(BodyTest, BadPathsAreRefusedWithTheReason) {
  for (std::string_view bad : {"", "result", "$.", "$[0]", "$['a", "$.a..", "$x"}) {
    auto p = BodyPlan::compile(engine_->profile(), {{.path = std::string(bad)}}, {}, {});
    ASSERT_FALSE(p.isOk()) << bad;
    EXPECT_NE(p.status().message().find(std::string("'") + std::string(bad) + "'"),
              std::string::npos)
        << p.status().message();
  }
  EXPECT_FALSE(BodyPlan::compile(nullptr, {}, {"$.a["}, {}).isOk());
  EXPECT_FALSE(BodyPlan::compile(nullptr, {}, {}, "nope").isOk());
}

TEST_F(BodyTest, MalformedJsonFailsClosedInTheMiddleAndAtTheEnd) {
  auto p = plan();
  for (std::string_view bad :
       {R"({"a": 1,, "b": 2})", R"({"a": [1, 2})", R"({"a": tru})", R"({"a": 1} {"b": 2})",
        R"({"a": 1} x)", "", "   ", R"({"a": "x)", "[1, 2,]", "\"\xff\""}) {
    Masked m = run(BodyKind::kJson, *p, {bad});
    EXPECT_FALSE(m.status.isOk()) << bad;
  }
  // The error comes from the write that holds the bad byte; its output is not returned.
  masker_ = makeBodyMasker(BodyKind::kJson, *p, scanner_, {});
  std::string out;
  ASSERT_TRUE(masker_->write(R"({"a": "bob@example.com", )", out).isOk());
  std::string before = out;
  EXPECT_FALSE(masker_->write(R"("b" 1})", out).isOk());
  EXPECT_EQ(out, before);
  EXPECT_FALSE(masker_->write("}", out).isOk());  // sticky
  EXPECT_FALSE(masker_->finish(out).isOk());
}

TEST_F(BodyTest, TruncatedJsonFailsAtFinish) {
  auto p = plan();
  masker_ = makeBodyMasker(BodyKind::kJson, *p, scanner_, {});
  std::string out;
  ASSERT_TRUE(masker_->write(R"({"a": [1, 2], "b": "tex)", out).isOk());
  EXPECT_EQ(out, R"({"a":[1,2],"b":)");
  EXPECT_FALSE(masker_->finish(out).isOk());
}

TEST_F(BodyTest, TrailingWhitespaceAfterTheDocumentIsAccepted) {
  auto p = plan();
  Masked m = run(BodyKind::kJson, *p, {"[1] ", "\n\t "});
  EXPECT_TRUE(m.status.isOk()) << m.status.message();
  EXPECT_EQ(m.out, "[1]");
}

TEST_F(BodyTest, DepthOverTheLimitFails) {
  auto p = plan();
  BodyLimits limits{.max_depth = 4};
  EXPECT_TRUE(run(BodyKind::kJson, *p, {"[[[[1]]]]"}, limits).status.isOk());
  EXPECT_FALSE(run(BodyKind::kJson, *p, {"[[[[[1]]]]]"}, limits).status.isOk());
}

TEST_F(BodyTest, StringOverTheLimitFailsEvenInParts) {
  auto p = plan();
  BodyLimits limits{.max_string_bytes = 8};
  EXPECT_TRUE(run(BodyKind::kJson, *p, {R"(["12345678"])"}, limits).status.isOk());
  EXPECT_FALSE(run(BodyKind::kJson, *p, {R"(["123456789"])"}, limits).status.isOk());
  EXPECT_FALSE(run(BodyKind::kJson, *p, {R"(["12345)", R"(6789"])"}, limits).status.isOk());
  EXPECT_FALSE(run(BodyKind::kJson, *p, {R"({"123456789": 1})"}, limits).status.isOk());
  auto rule = plan({{.path = "$.a"}});
  EXPECT_FALSE(run(BodyKind::kJson, *rule, {R"({"a": [1, 2, 3, 4, 5]})"}, limits).status.isOk());
}

TEST_F(BodyTest, ItemsBeyondMaxItemsAreDroppedAndTheOutputStaysValid) {
  auto p = plan({}, {"$.result[*].id"}, "$.result");
  BodyLimits limits{.max_items = 2};
  std::string out =
      ok(BodyKind::kJson, *p,
         R"({"result": [{"id": 1}, {"id": 2}, {"id": 3, "x": [1]}, 4], "n": 1})", limits);
  EXPECT_EQ(out, R"({"result":[{"id":1},{"id":2}],"n":1})");
  expectValidJson(out);
  EXPECT_EQ(masker_->items(), 4);
  EXPECT_TRUE(masker_->truncated());
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"1", "2"}));
}

TEST_F(BodyTest, TopLevelArrayIsTheItemArrayByDefault) {
  auto p = plan();
  BodyLimits limits{.max_items = 1};
  EXPECT_EQ(ok(BodyKind::kJson, *p, R"([[1, 2], [3]])", limits), "[[1,2]]");
  EXPECT_TRUE(masker_->truncated());
  EXPECT_EQ(ok(BodyKind::kJson, *p, R"([1])", limits), "[1]");
  EXPECT_FALSE(masker_->truncated());
  EXPECT_EQ(masker_->items(), 1);
}

TEST_F(BodyTest, DocumentIdsAreCollectedBeforeMaskingPerWrite) {
  auto p = plan({{.path = "$.hits[*].id"}}, {"$.hits[*].id"});
  masker_ = makeBodyMasker(BodyKind::kJson, *p, scanner_, {});
  std::string out;
  ASSERT_TRUE(masker_->write(R"({"hits": [{"id": "bob@example.com"}, {"id": 2.50},)", out).isOk());
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"bob@example.com", "2.50"}));
  ASSERT_TRUE(masker_->write(R"( {"id": {"no": 1}}, {"id": "z"}]})", out).isOk());
  ASSERT_TRUE(masker_->finish(out).isOk());
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"z"}));
  EXPECT_EQ(out, R"({"hits":[{"id":"[ID]"},{"id":"[ID]"},{"id":"[ID]"},{"id":"[ID]"}]})");
}

TEST_F(BodyTest, DocumentIdsAreCappedPerBody) {
  auto p = plan({}, {"$[*]"});
  std::string doc = "[";
  for (size_t i = 0; i <= kMaxDocumentIds; ++i) {
    doc += (i ? "," : "") + std::to_string(i);
  }
  doc += "]";
  ok(BodyKind::kJson, *p, doc);
  EXPECT_EQ(masker_->takeDocumentIds().size(), kMaxDocumentIds);
  EXPECT_TRUE(masker_->documentIdsCapped());
}

TEST_F(BodyTest, DocumentIdsOfAnMcpToolResultAreFoundInEachEventOfAStream) {
  // An MCP tool result (JSON-RPC) in an SSE stream: paths start at the JSON-RPC message that is
  // each event's data; ids inside a text content item are a string's contents, not found.
  auto p = plan({}, {"$.result.structuredContent.rows[*].doc_id"});
  std::string_view body =
      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":"
      "\"text\",\"text\":\"{\\\"doc_id\\\":\\\"doc-9\\\"}\"}],\"structuredContent\":{\"rows\":"
      "[{\"doc_id\":\"doc-7\"},{\"doc_id\":8}]}}}\n\n";
  ok(BodyKind::kSse, *p, body);
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"doc-7", "8"}));
  ok(BodyKind::kJson, *p, body.substr(body.rfind("data: ") + 6));
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"doc-7", "8"}));
}

TEST_F(BodyTest, RulesOnlyPlanLeavesUnmatchedValuesAlone) {
  auto p = BodyPlan::compile(nullptr, {{.path = "$.a"}}, {}, {});
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(ok(BodyKind::kJson, **p, R"({"a": "x", "b": "bob@example.com"})"),
            R"({"a":"[A]","b":"bob@example.com"})");
}

TEST_F(BodyTest, NdjsonMasksEachLineAndKeepsBlankLines) {
  auto p = plan({{.path = "$.ssn"}}, {"$.id"});
  std::string_view body = "{\"id\": 1, \"m\": \"bob@example.com\"}\r\n\n{\"id\": 2, \"ssn\": 5}\n";
  std::string whole = ok(BodyKind::kNdjson, *p, body);
  EXPECT_EQ(whole, "{\"id\":1,\"m\":\"[EMAIL]\"}\n\n{\"id\":2,\"ssn\":\"[SSN]\"}\n");
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"1", "2"}));
  for (size_t i = 0; i <= body.size(); ++i) {
    Masked m = run(BodyKind::kNdjson, *p, {body.substr(0, i), body.substr(i)});
    ASSERT_TRUE(m.status.isOk()) << i;
    ASSERT_EQ(m.out, whole) << i;
  }
  EXPECT_EQ(ok(BodyKind::kNdjson, *p, "[1]\n[2]"), "[1]\n[2]");
}

TEST_F(BodyTest, NdjsonMaxItemsDropsLaterLinesAndBadLinesFail) {
  auto p = plan();
  EXPECT_EQ(ok(BodyKind::kNdjson, *p, "1\n\n2\n3 x\n", {.max_items = 2}), "1\n\n2\n");
  EXPECT_TRUE(masker_->truncated());
  EXPECT_EQ(masker_->items(), 3);
  EXPECT_FALSE(run(BodyKind::kNdjson, *p, {"1\n2 3\n"}).status.isOk());
  EXPECT_FALSE(run(BodyKind::kNdjson, *p, {"{\"a\":\n1}\n"}).status.isOk());
  EXPECT_FALSE(run(BodyKind::kNdjson, *p, {"[1,"}).status.isOk());
  EXPECT_FALSE(
      run(BodyKind::kNdjson, *p, {"[1,2,", "3]\n"}, {.max_string_bytes = 5}).status.isOk());
}

TEST_F(BodyTest, SseMasksJsonDataAsJsonAndTextDataAsText) {
  auto p = plan({{.path = "$.choices[*].ssn"}});
  std::string_view body =
      "event: delta\nid: 1\ndata: {\"choices\": [{\"ssn\": 1, \"t\": \"bob@example.com\"}]}\n\n"
      ": keep-alive\n\n"
      "data: hello bob@example.com\ndata:second line\n\n"
      "data: [DONE]\n\n";
  EXPECT_EQ(ok(BodyKind::kSse, *p, body),
            "event: delta\nid: 1\ndata: {\"choices\":[{\"ssn\":\"[SSN]\",\"t\":\"[EMAIL]\"}]}\n\n"
            ": keep-alive\n\n"
            "data: hello [EMAIL]\ndata: second line\n\n"
            "data: [DONE]\n\n");
  EXPECT_EQ(masker_->counters().by_label.at("EMAIL"), 2u);
  EXPECT_EQ(masker_->counters().by_label.at("SSN"), 1u);
}

TEST_F(BodyTest, SseDataThatIsAlmostJsonIsMaskedAndCountedOnceAsText) {
  auto p = plan({}, {"$.id"});
  EXPECT_EQ(ok(BodyKind::kSse, *p, "data: {\"id\": 1, \"m\": \"bob@example.com\"} tail\n\n"),
            "data: {\"id\": 1, \"m\": \"[EMAIL]\"} tail\n\n");
  EXPECT_EQ(masker_->counters().by_label.at("EMAIL"), 1u);
  EXPECT_TRUE(masker_->takeDocumentIds().empty());
  EXPECT_EQ(ok(BodyKind::kSse, *p, ": c bob@example.com\ndata: {\"id\": 2}\n\n"),
            ": c [EMAIL]\ndata: {\"id\":2}\n\n");
  EXPECT_EQ(masker_->takeDocumentIds(), (std::vector<std::string>{"2"}));
}

TEST_F(BodyTest, SseMultiLineJsonDataIsJoinedThenMasked) {
  auto p = plan({{.path = "$.a"}});
  EXPECT_EQ(ok(BodyKind::kSse, *p, "data: {\"a\":\ndata: 1, \"b\": 2}\nretry: 5\n\n"),
            "data: {\"a\":\"[A]\",\"b\":2}\nretry: 5\n\n");
}

TEST_F(BodyTest, SseAcceptsCrlfAndCrLineEndings) {
  auto p = plan();
  std::string_view body = "data: bob@example.com\r\n\r\ndata: x\r\rdata: 1\r\n\r\n";
  std::string want = "data: [EMAIL]\n\ndata: x\n\ndata: 1\n\n";
  EXPECT_EQ(ok(BodyKind::kSse, *p, body), want);
  for (size_t i = 0; i <= body.size(); ++i) {
    Masked m = run(BodyKind::kSse, *p, {body.substr(0, i), body.substr(i)});
    ASSERT_TRUE(m.status.isOk()) << i;
    ASSERT_EQ(m.out, want) << "split at " << i;
  }
}

TEST_F(BodyTest, SseEventSplitAcrossChunksIsEmittedOnlyWhenComplete) {
  auto p = plan();
  masker_ = makeBodyMasker(BodyKind::kSse, *p, scanner_, {});
  std::string out;
  ASSERT_TRUE(masker_->write("data: {\"m\": \"bob@exa", out).isOk());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(masker_->write("mple.com\"}\n", out).isOk());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(masker_->write("\ndata: next", out).isOk());
  EXPECT_EQ(out, "data: {\"m\":\"[EMAIL]\"}\n\n");
  EXPECT_FALSE(masker_->finish(out).isOk());  // the second event never ended
}

TEST_F(BodyTest, SseEventOverTheLimitFailsAndUnknownFieldsAreDropped) {
  auto p = plan();
  EXPECT_FALSE(
      run(BodyKind::kSse, *p, {"data: 0123456789\n\n"}, {.max_string_bytes = 8}).status.isOk());
  EXPECT_EQ(ok(BodyKind::kSse, *p, "foo: bob@example.com\ndata: 1\n\n"), "data: 1\n\n");
}

TEST_F(BodyTest, TextIsMaskedLineByLine) {
  auto p = plan();
  std::string_view body = "a bob@example.com\r\nplain\ncall +1 415 555 2671";
  std::string want = "a [EMAIL]\r\nplain\ncall [PHONE]";
  EXPECT_EQ(ok(BodyKind::kText, *p, body), want);
  for (size_t i = 0; i <= body.size(); ++i) {
    Masked m = run(BodyKind::kText, *p, {body.substr(0, i), body.substr(i)});
    ASSERT_TRUE(m.status.isOk()) << i;
    ASSERT_EQ(m.out, want) << "split at " << i;
  }
  EXPECT_FALSE(
      run(BodyKind::kText, *p, {"0123", "456789\n"}, {.max_string_bytes = 8}).status.isOk());
  EXPECT_EQ(masker_->counters().cells_masked, 0u);
}

TEST(BodyKindTest, MediaTypesMapToTheirMaskers) {
  struct Case {
    std::string_view type;
    std::optional<BodyKind> want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"application/json", BodyKind::kJson},
           {"Application/JSON; charset=UTF-8", BodyKind::kJson},
           {"application/problem+json", BodyKind::kJson},
           {"application/vnd.api+json;charset=\"utf-8\"", BodyKind::kJson},
           {"application/x-ndjson", BodyKind::kNdjson},
           {"application/jsonl", BodyKind::kNdjson},
           {"text/event-stream", BodyKind::kSse},
           {"text/plain; charset=us-ascii", BodyKind::kText},
           {"text/csv", BodyKind::kText},
           {"text/html; charset=utf-8", BodyKind::kText},
           {"text/plain; charset=iso-8859-1", std::nullopt},
           {"application/json; charset=utf-16", std::nullopt},
           {"application/json-seq", std::nullopt},
           {"application/octet-stream", std::nullopt},
           {"+json", std::nullopt},
           {"", std::nullopt},
       }) {
    EXPECT_EQ(bodyKindOf(c.type), c.want) << c.type;
  }
}

}  // namespace
}  // namespace jg::mask
