#include "mask/cell.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "mask/scanner.h"
#include "mask/test_util.h"

namespace jg::mask {
namespace {

using testing::be32;
using testing::makeEngine;

class CellTest : public ::testing::Test {
 protected:
  CellTest() : engine_(sharedEngine()), scanner_(engine_) {}

  // Compiled once for the suite: compiling every detector takes a noticeable fraction of a second.
  static std::shared_ptr<const Engine> sharedEngine() {
    static std::shared_ptr<const Engine> e = makeEngine(
        Strategy::kRedact, {{"crm", "customers", "email", Strategy::kTokenize, 4, "EMAIL"},
                            {"crm", "customers", "card", Strategy::kPartial, 4, "CARD"},
                            {"crm", "customers", "ssn", Strategy::kNull, 4, "SSN"}});
    return e;
  }
  static std::shared_ptr<const Engine> nullEngine() {
    static std::shared_ptr<const Engine> e = makeEngine(Strategy::kNull);
    return e;
  }

  const Profile& profile() { return *engine_->profile(); }
  const ColumnRule* rule(std::string_view column) {
    return profile().findRule("crm", "customers", column);
  }
  // Masks `in`; returns the bytes to send ("<NULL>" for NULL, the input for kUnchanged).
  std::string mask(uint32_t oid, int16_t format, std::string_view in,
                   const ColumnRule* r = nullptr) {
    ColumnPlan plan = planColumn(profile(), oid, format, r);
    std::string out = "untouched";
    auto res = scanner_.maskCell(plan, in, out, counters_);
    EXPECT_TRUE(res.isOk()) << res.status().message();
    if (!res.isOk()) {
      return "<ERROR>";
    }
    switch (*res) {
      case CellResult::kUnchanged:
        EXPECT_EQ(out, "untouched");
        return std::string(in);
      case CellResult::kNull:
        return "<NULL>";
      case CellResult::kRewritten:
        return out;
    }
    return "";
  }
  Status maskError(uint32_t oid, int16_t format, std::string_view in,
                   const ColumnRule* r = nullptr) {
    ColumnPlan plan = planColumn(profile(), oid, format, r);
    std::string out;
    auto res = scanner_.maskCell(plan, in, out, counters_);
    return res.isOk() ? Status::ok() : res.status();
  }
  static void expectValidJson(std::string_view s) {
    boost::system::error_code ec;
    boost::json::parse(s, ec);
    EXPECT_FALSE(ec) << s;
  }

  std::shared_ptr<const Engine> engine_;
  Scanner scanner_;
  Counters counters_;
};

TEST_F(CellTest, CleanTextIsForwardedUnchanged) {
  EXPECT_EQ(mask(oid::kText, 0, "nothing to see here"), "nothing to see here");
  EXPECT_EQ(counters_.cells_masked, 0u);
}

TEST_F(CellTest, TextCellsAreMaskedInBothFormats) {
  EXPECT_EQ(mask(oid::kText, 0, "mail bob@example.com"), "mail [EMAIL]");
  EXPECT_EQ(mask(oid::kVarchar, 1, "mail bob@example.com"), "mail [EMAIL]");
  EXPECT_EQ(mask(oid::kBpchar, 1, "bob@example.com   "), "[EMAIL]   ");
  EXPECT_EQ(mask(oid::kXml, 1, "<a>bob@example.com</a>"), "<a>[EMAIL]</a>");
  EXPECT_EQ(counters_.cells_masked, 4u);
  EXPECT_EQ(counters_.by_label["EMAIL"], 4u);
}

TEST_F(CellTest, CountersCountCellsPerLabelAndValues) {
  (void)mask(oid::kText, 0, "a@example.com b@example.com 10.0.0.1");
  EXPECT_EQ(counters_.cells_masked, 1u);
  EXPECT_EQ(counters_.values_masked, 3u);
  EXPECT_EQ(counters_.by_label["EMAIL"], 1u);
  EXPECT_EQ(counters_.by_label["IPV4"], 1u);
  Counters session;
  session.add(counters_);
  session.add(counters_);
  EXPECT_EQ(session.by_label["EMAIL"], 2u);
  EXPECT_EQ(session.cells_masked, 2u);
}

TEST_F(CellTest, InvalidUtf8InAMaskedTextCellFailsClosed) {
  EXPECT_FALSE(maskError(oid::kText, 0, "bob@example.com \xff").isOk());
}

TEST_F(CellTest, ColumnRulesApplyToTheWholeValue) {
  std::string tok = mask(oid::kText, 0, "alice@example.com", rule("email"));
  EXPECT_EQ(tok.rfind("tok_", 0), 0u);
  EXPECT_EQ(tok, mask(oid::kVarchar, 1, "alice@example.com", rule("email")));
  EXPECT_EQ(mask(oid::kText, 0, "4111111111111234", rule("card")), "************1234");
  EXPECT_EQ(mask(oid::kText, 0, "123-45-6789", rule("ssn")), "<NULL>");
  EXPECT_EQ(counters_.by_label["EMAIL"], 2u);
  EXPECT_EQ(counters_.by_label["SSN"], 1u);
}

TEST_F(CellTest, TokensAreTheSameInEverySession) {
  Scanner other(makeEngine(Strategy::kRedact, {{"", "t", "c", Strategy::kTokenize, 4, "C"}}));
  ColumnPlan a = planColumn(profile(), oid::kText, 0, rule("email"));
  ColumnPlan b = planColumn(*other.engine().profile(), oid::kText, 0,
                            other.engine().profile()->findRule("any", "t", "c"));
  std::string ta, tb;
  ASSERT_TRUE(scanner_.maskCell(a, "x@example.com", ta, counters_).isOk());
  ASSERT_TRUE(other.maskCell(b, "x@example.com", tb, counters_).isOk());
  EXPECT_EQ(ta, tb);
}

TEST_F(CellTest, NonTextTypeInTextFormatBecomesNullWhenADetectorMatches) {
  EXPECT_EQ(mask(oid::kInt8, 0, "4111111111111111"), "<NULL>");
  EXPECT_EQ(mask(oid::kInt8, 0, "42"), "42");
  EXPECT_EQ(mask(869 /* inet */, 0, "10.1.2.3"), "<NULL>");
}

TEST_F(CellTest, NonTextTypeInTextFormatUnderARuleIsAnnouncedAsText) {
  ColumnPlan plan = planColumn(profile(), oid::kInt8, 0, rule("card"));
  EXPECT_EQ(plan.output_type_oid, oid::kText);
  EXPECT_EQ(mask(oid::kInt8, 0, "4111111111111234", rule("card")), "************1234");
  EXPECT_EQ(planColumn(profile(), oid::kInt8, 0, rule("ssn")).output_type_oid, oid::kInt8);
}

TEST_F(CellTest, NonTextTypeInBinaryFormatUnderARuleIsSentAsNull) {
  EXPECT_EQ(mask(oid::kInt8, 1, std::string(8, '\x01'), rule("card")), "<NULL>");
  EXPECT_EQ(mask(1114 /* timestamp */, 1, std::string(8, '\x01'), rule("email")), "<NULL>");
}

TEST_F(CellTest, BinaryBigintHoldingACardNumberBecomesNull) {
  int64_t card = 4111111111111111;
  std::string bytes = be32(static_cast<int32_t>(card >> 32)) + be32(static_cast<int32_t>(card));
  EXPECT_EQ(mask(oid::kInt8, 1, bytes), "<NULL>");
  EXPECT_EQ(mask(oid::kInt4, 1, be32(42)), be32(42));
}

TEST_F(CellTest, BinaryByteaHoldingAnEmailBecomesNull) {
  EXPECT_EQ(mask(oid::kBytea, 1, "mail ada@example.com now"), "<NULL>");
  EXPECT_EQ(mask(oid::kBytea, 1, std::string("\x00\x01\xff plain", 9)),
            std::string("\x00\x01\xff plain", 9));
}

TEST_F(CellTest, TextByteaIsScannedOnceDecodedFromHex) {
  // 'ada@example.com' as bytea_output = hex
  EXPECT_EQ(mask(oid::kBytea, 0, "\\x616461406578616d706c652e636f6d"), "<NULL>");
  EXPECT_EQ(mask(oid::kBytea, 0, "\\x6869"), "\\x6869");
}

TEST_F(CellTest, BinaryRecordsTsvectorsAndOtherArraysAreScannedAsRawBytes) {
  constexpr uint32_t kRecord = 2249, kTsvector = 3614, kInt4Array = 1007;
  std::string record = be32(1) + be32(25) + be32(15) + "ada@example.com";
  EXPECT_EQ(mask(kRecord, 1, record), "<NULL>");
  std::string tsv = be32(1) + std::string("ada@example.com\0", 16) + std::string("\0\0", 2);
  EXPECT_EQ(mask(kTsvector, 1, tsv), "<NULL>");
  std::string ints = be32(1) + be32(0) + be32(23) + be32(1) + be32(1) + be32(4) + be32(7);
  EXPECT_EQ(mask(kInt4Array, 1, ints), ints);
}

TEST_F(CellTest, BinaryUserDefinedTypeHoldingTextIsScanned) {
  EXPECT_EQ(mask(90210, 1, "card 4111 1111 1111 1111"), "<NULL>");
}

TEST_F(CellTest, JsonIsMaskedInsideStringsAndStaysValid) {
  std::string doc = R"({"user": {"email": "bob@example.com", "note": "call +1 415 555 2671"}})";
  std::string out = mask(oid::kJson, 0, doc);
  EXPECT_EQ(out, R"({"user": {"email": "[EMAIL]", "note": "call [PHONE]"}})");
  expectValidJson(out);
}

TEST_F(CellTest, JsonEscapesCannotHideAValue) {
  std::string out = mask(oid::kJsonb, 0, R"({"e": "bob\u0040example.com", "q": "say \"hi\""})");
  EXPECT_EQ(out, R"({"e": "[EMAIL]", "q": "say \"hi\""})");
  expectValidJson(out);
}

TEST_F(CellTest, JsonNumbersAndKeysAreMaskedToo) {
  std::string out = mask(oid::kJsonb, 0, R"({"card": 4111111111111111, "bob@example.com": 1})");
  EXPECT_EQ(out, R"({"card": "[CREDIT_CARD]", "[EMAIL]": 1})");
  expectValidJson(out);
}

// In a json or jsonb column the key and its value are separate tokens, so the assignment
// expression never sees them together: the member's name decides.
TEST_F(CellTest, JsonMembersUnderASecretKeyAreMaskedAndTheKeyStays) {
  std::string doc =
      R"({"db": {"user": "app", "db_password": "hunter2xyz"}, "apiKey": 12345, "n": 1})";
  std::string want =
      R"({"db": {"user": "app", "db_password": "[SECRET]"}, "apiKey": "[SECRET]", "n": 1})";
  EXPECT_EQ(mask(oid::kJsonb, 0, doc), want);
  EXPECT_EQ(mask(oid::kJson, 0, doc), want);
  EXPECT_EQ(mask(oid::kJsonb, 1, "\x01" + doc), "\x01" + want);
  EXPECT_EQ(mask(oid::kJsonArray, 0, R"({"{\"password\": \"x1\"}"})"),
            R"({"{\"password\": \"[SECRET]\"}"})");
  EXPECT_EQ(counters_.by_label["SECRET"], 4u);
}

TEST_F(CellTest, JsonSecretMemberHiddenByAnEscapedKeyIsMasked) {
  EXPECT_EQ(mask(oid::kJsonb, 0, R"({"pass\u0077ord": "hunter2"})"),
            R"({"pass\u0077ord": "[SECRET]"})");
}

TEST_F(CellTest, JsonStandInsAndContainersUnderASecretKeyAreLeftAlone) {
  for (std::string_view doc :
       {R"({"password": "*****", "token": null, "secret": true})",
        R"({"credentials": {"user": "app"}, "tokens": ["abc"], "password_hint": "dog"})",
        R"(["password", "hunter2"])"}) {
    EXPECT_EQ(mask(oid::kJsonb, 0, doc), doc);
  }
}

TEST_F(CellTest, JsonSecretMemberBecomesNullUnderTheNullStrategy) {
  Scanner nulls(nullEngine());
  ColumnPlan plan = planColumn(*nulls.engine().profile(), oid::kJsonb, 0, nullptr);
  std::string out;
  auto r = nulls.maskCell(plan, R"({"password": "hunter2", "user": "app"})", out, counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, R"({"password": null, "user": "app"})");
}

TEST_F(CellTest, JsonKeepsNumberSpellingAndWhitespaceOfUntouchedParts) {
  std::string doc = "{ \"big\" : 123456789012345678901234567890 ,\n \"m\":\"a@example.com\" }";
  EXPECT_EQ(mask(oid::kJson, 0, doc),
            "{ \"big\" : 123456789012345678901234567890 ,\n \"m\":\"[EMAIL]\" }");
}

TEST_F(CellTest, JsonbBinaryKeepsItsVersionByte) {
  std::string in = std::string("\x01") + R"({"m": "a@example.com"})";
  EXPECT_EQ(mask(oid::kJsonb, 1, in), std::string("\x01") + R"({"m": "[EMAIL]"})");
  EXPECT_EQ(mask(oid::kJsonb, 1, std::string("\x01") + "{}"), std::string("\x01") + "{}");
}

TEST_F(CellTest, JsonbBinaryWithAnUnknownVersionFailsClosed) {
  EXPECT_FALSE(maskError(oid::kJsonb, 1, std::string("\x02") + R"({"m": "a@example.com"})").isOk());
}

TEST_F(CellTest, JsonUnderAColumnRuleMasksEveryStringAndNumber) {
  std::string out = mask(oid::kJson, 0, R"({"a": "x", "b": [1, true, null]})", rule("card"));
  EXPECT_EQ(out, R"({"a": "*", "b": ["*", true, null]})");
  expectValidJson(out);
}

TEST_F(CellTest, JsonThatDoesNotParseUnderARuleFailsClosed) {
  EXPECT_FALSE(maskError(oid::kJson, 0, R"({"a": "x")", rule("email")).isOk());
  EXPECT_FALSE(maskError(oid::kJson, 0, R"({"a": "bob@example.com")").isOk());
}

TEST_F(CellTest, TextArraysAreMaskedElementByElement) {
  EXPECT_EQ(mask(oid::kTextArray, 0, R"({a,"b c",NULL,bob@example.com})"),
            R"({a,"b c",NULL,[EMAIL]})");
  EXPECT_EQ(mask(oid::kVarcharArray, 0, R"({"mail \"bob@example.com\"",x})"),
            R"({"mail \"[EMAIL]\"",x})");
  EXPECT_EQ(mask(oid::kTextArray, 0, "[0:1]={{a@example.com,b},{c,d}}"),
            "[0:1]={{[EMAIL],b},{c,d}}");
  EXPECT_EQ(mask(oid::kTextArray, 0, "{clean,values}"), "{clean,values}");
}

TEST_F(CellTest, TextArrayUnderARuleMasksEachElement) {
  EXPECT_EQ(mask(oid::kTextArray, 0, R"({12345,"a b",NULL})", rule("card")), R"({*2345,***,NULL})");
  EXPECT_EQ(mask(oid::kTextArray, 0, R"({1,2})", rule("ssn")), "<NULL>");
}

std::string binaryTextArray(uint32_t elem_oid, std::vector<std::optional<std::string>> items,
                            bool has_null) {
  std::string s = be32(1) + be32(has_null ? 1 : 0) + be32(static_cast<int32_t>(elem_oid)) +
                  be32(static_cast<int32_t>(items.size())) + be32(1);
  for (const auto& it : items) {
    if (it) {
      s += be32(static_cast<int32_t>(it->size())) + *it;
    } else {
      s += be32(-1);
    }
  }
  return s;
}

TEST_F(CellTest, BinaryArraysAreMaskedElementByElement) {
  std::string in = binaryTextArray(oid::kText, {"a", std::nullopt, "bob@example.com"}, true);
  EXPECT_EQ(mask(oid::kTextArray, 1, in),
            binaryTextArray(oid::kText, {"a", std::nullopt, "[EMAIL]"}, true));
  std::string clean = binaryTextArray(oid::kText, {"a", "b"}, false);
  EXPECT_EQ(mask(oid::kTextArray, 1, clean), clean);
}

TEST_F(CellTest, BinaryArrayElementTurnedNullSetsTheNullFlag) {
  Scanner nulls(nullEngine());
  ColumnPlan plan = planColumn(*nulls.engine().profile(), oid::kTextArray, 1, nullptr);
  std::string out;
  auto r = nulls.maskCell(plan, binaryTextArray(oid::kText, {"a", "bob@example.com"}, false), out,
                          counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, binaryTextArray(oid::kText, {"a", std::nullopt}, true));
}

TEST_F(CellTest, BinaryJsonbArrayKeepsEachVersionByte) {
  std::string v = std::string("\x01") + R"({"m": "bob@example.com"})";
  std::string want = std::string("\x01") + R"({"m": "[EMAIL]"})";
  EXPECT_EQ(mask(oid::kJsonbArray, 1, binaryTextArray(oid::kJsonb, {v}, false)),
            binaryTextArray(oid::kJsonb, {want}, false));
}

TEST_F(CellTest, TextJsonArrayElementsStayValidJson) {
  std::string out = mask(oid::kJsonArray, 0, R"({"{\"m\": \"bob@example.com\"}",NULL})");
  EXPECT_EQ(out, R"({"{\"m\": \"[EMAIL]\"}",NULL})");
}

TEST_F(CellTest, MalformedBinaryArraysFailClosed) {
  std::string good = binaryTextArray(oid::kText, {"bob@example.com"}, false);
  EXPECT_FALSE(maskError(oid::kTextArray, 1, good.substr(0, good.size() - 1)).isOk());
  EXPECT_FALSE(maskError(oid::kTextArray, 1, good + "x").isOk());
  EXPECT_FALSE(maskError(oid::kTextArray, 1, binaryTextArray(oid::kInt4, {"x"}, false)).isOk());
  EXPECT_FALSE(maskError(oid::kTextArray, 1, be32(7) + be32(0) + be32(25)).isOk());
}

TEST_F(CellTest, NullStrategyForDetectorsNullsTheCell) {
  Scanner nulls(nullEngine());
  ColumnPlan plan = planColumn(*nulls.engine().profile(), oid::kText, 0, nullptr);
  std::string out;
  auto r = nulls.maskCell(plan, "x bob@example.com", out, counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, CellResult::kNull);
}

TEST_F(CellTest, PartialStrategyForDetectorsKeepsTheEndOfEachMatch) {
  Scanner partial(makeEngine(Strategy::kPartial));
  ColumnPlan plan = planColumn(*partial.engine().profile(), oid::kText, 0, nullptr);
  std::string out;
  auto r = partial.maskCell(plan, "card 4111 1111 1111 1111.", out, counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, "card ***************1111.");
}

TEST_F(CellTest, FreeTextNeverBecomesNull) {
  Scanner nulls(nullEngine());
  std::string out;
  auto r = nulls.maskFreeText(*nulls.engine().profile(), "duplicate key (email)=(bob@example.com)",
                              out, counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, "duplicate key (email)=([EMAIL])");
}

TEST_F(CellTest, NoDetectorsAndNoRuleMeansNothingToDo) {
  Settings s;
  auto e = Engine::create(s, "");
  ASSERT_TRUE(e.isOk());
  ColumnPlan plan = planColumn(*(*e)->profile(), oid::kText, 0, nullptr);
  EXPECT_EQ(plan.action, Action::kNone);
}

}  // namespace
}  // namespace jg::mask
