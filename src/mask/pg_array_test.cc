#include "mask/pg_array.h"

#include <gtest/gtest.h>

#include "mask/json_text.h"
#include "mask/scanner.h"
#include "mask/test_util.h"

namespace jg::mask {
namespace {

using testing::be32;

// Upper-cases every element, to see the re-encoding.
Result<CellResult> upper(std::string_view in, std::string& out) {
  out.assign(in);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out == in ? CellResult::kUnchanged : CellResult::kRewritten;
}

std::string rewrite(std::string_view in, const ArrayElementFn& fn = upper) {
  std::string out;
  auto r = rewriteTextArray(in, fn, out);
  EXPECT_TRUE(r.isOk()) << r.status().message();
  return r.isOk() && *r == CellResult::kRewritten ? out : std::string(in);
}

TEST(TextArray, ParsesQuotingEscapesAndNulls) {
  auto r = parseTextArray(R"({a,"b c",NULL,"NULL","",  "x\"y\\z"  ,null})");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  std::vector<std::optional<std::string>> want = {"a", "b c",      std::nullopt, "NULL",
                                                  "",  R"(x"y\z)", std::nullopt};
  EXPECT_EQ(*r, want);
}

TEST(TextArray, ElementsAreQuotedOnlyWhenNeeded) {
  std::string out;
  for (std::string_view v : {"plain", "", "null", "a b", "a,b", "{x}", "q\"", "b\\s", "tab\t"}) {
    out.clear();
    appendTextArrayElement(v, out);
    auto back = parseTextArray("{" + out + "}");
    ASSERT_TRUE(back.isOk()) << out;
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ(back->at(0), std::optional<std::string>(std::string(v))) << out;
  }
  out.clear();
  appendTextArrayElement("plain", out);
  EXPECT_EQ(out, "plain");
}

TEST(TextArray, RewritesOnlyChangedElementsAndKeepsTheRestByteForByte) {
  EXPECT_EQ(rewrite(R"({ONE,"T W O",NULL,x})"), R"({ONE,"T W O",NULL,X})");
  EXPECT_EQ(rewrite(R"({"a b"})"), R"({"A B"})");
  EXPECT_EQ(rewrite("{{a,B},{C,D}}"), "{{A,B},{C,D}}");
  EXPECT_EQ(rewrite("[2:3]={a,B}"), "[2:3]={A,B}");
  EXPECT_EQ(rewrite("{}"), "{}");
}

TEST(TextArray, ReplacementThatNeedsQuotingIsQuoted) {
  auto fn = [](std::string_view in, std::string& out) -> Result<CellResult> {
    out = "has \"quote\", comma";
    return CellResult::kRewritten;
  };
  EXPECT_EQ(rewrite("{a}", fn), R"({"has \"quote\", comma"})");
}

TEST(TextArray, ElementTurnedNullIsWrittenAsNull) {
  auto fn = [](std::string_view, std::string&) -> Result<CellResult> { return CellResult::kNull; };
  EXPECT_EQ(rewrite(R"({a,"b"})", fn), "{NULL,NULL}");
}

TEST(TextArray, MalformedInputFailsClosed) {
  std::string out;
  for (std::string_view bad : {"", "a,b", "{a", R"({"a})", "{a}}", "{{{{{{{a}}}}}}}", "[1:2]{a}"}) {
    EXPECT_FALSE(rewriteTextArray(bad, upper, out).isOk()) << bad;
  }
}

std::string binArray(std::vector<std::optional<std::string>> items, int32_t flags = 0) {
  std::string s =
      be32(1) + be32(flags) + be32(25) + be32(static_cast<int32_t>(items.size())) + be32(1);
  for (const auto& it : items) {
    s += it ? be32(static_cast<int32_t>(it->size())) + *it : be32(-1);
  }
  return s;
}

TEST(BinaryArray, RoundTripsElementsAndNulls) {
  std::string out;
  auto r = rewriteBinaryArray(binArray({"ab", std::nullopt, "", "cd"}, 1), 25, upper, out);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(out, binArray({"AB", std::nullopt, "", "CD"}, 1));
}

TEST(BinaryArray, UnchangedArrayIsNotCopied) {
  std::string out = "untouched";
  auto r = rewriteBinaryArray(binArray({"AB"}), 25, upper, out);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, CellResult::kUnchanged);
  EXPECT_EQ(out, "untouched");
}

TEST(BinaryArray, EmptyAndMultiDimensionalArrays) {
  std::string out;
  std::string empty = be32(0) + be32(0) + be32(25);
  EXPECT_EQ(*rewriteBinaryArray(empty, 25, upper, out), CellResult::kUnchanged);
  std::string two = be32(2) + be32(0) + be32(25) + be32(2) + be32(1) + be32(1) + be32(1) + be32(1) +
                    "a" + be32(1) + "B";
  ASSERT_EQ(*rewriteBinaryArray(two, 25, upper, out), CellResult::kRewritten);
  EXPECT_EQ(out, be32(2) + be32(0) + be32(25) + be32(2) + be32(1) + be32(1) + be32(1) + be32(1) +
                     "A" + be32(1) + "B");
}

TEST(BinaryArray, LyingLengthsFailClosed) {
  std::string out;
  std::string huge = be32(1) + be32(0) + be32(25) + be32(0x7fffffff) + be32(1);
  EXPECT_FALSE(rewriteBinaryArray(huge, 25, upper, out).isOk());
  std::string neg = be32(1) + be32(0) + be32(25) + be32(1) + be32(1) + be32(-5);
  EXPECT_FALSE(rewriteBinaryArray(neg, 25, upper, out).isOk());
  std::string past = be32(1) + be32(0) + be32(25) + be32(1) + be32(1) + be32(10) + "abc";
  EXPECT_FALSE(rewriteBinaryArray(past, 25, upper, out).isOk());
  EXPECT_FALSE(rewriteBinaryArray(be32(1) + be32(2) + be32(25), 25, upper, out).isOk());
}

TEST(JsonText, UnchangedDocumentIsNotCopied) {
  std::string out = "untouched";
  auto fn = [](JsonToken, std::string_view, std::string_view, std::string&) -> Result<CellResult> {
    return CellResult::kUnchanged;
  };
  auto r = rewriteJson(R"({"a": [1, -2.5e3, "x", true, null]})", fn, out);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, CellResult::kUnchanged);
  EXPECT_EQ(out, "untouched");
}

TEST(JsonText, TokensAreClassifiedAndDecoded) {
  std::vector<std::string> seen;
  auto fn = [&](JsonToken k, std::string_view v, std::string_view,
                std::string&) -> Result<CellResult> {
    seen.push_back((k == JsonToken::kKey      ? "K:"
                    : k == JsonToken::kString ? "S:"
                                              : "N:") +
                   std::string(v));
    return CellResult::kUnchanged;
  };
  std::string out;
  ASSERT_TRUE(rewriteJson(R"({"k\u00e9y" : "v\n", "n": -1.5E2, "t": true})", fn, out).isOk());
  std::vector<std::string> want = {"K:k\xc3\xa9y", "S:v\n", "K:n", "N:-1.5E2", "K:t"};
  EXPECT_EQ(seen, want);
}

TEST(JsonText, MemberValuesCarryTheirKeyAndOtherTokensNone) {
  std::vector<std::string> seen;
  auto fn = [&](JsonToken, std::string_view v, std::string_view key,
                std::string&) -> Result<CellResult> {
    seen.push_back(std::string(v) + "<" + std::string(key) + ">");
    return CellResult::kUnchanged;
  };
  std::string out;
  ASSERT_TRUE(
      rewriteJson(R"({"a": "x", "b" : {"c":1}, "d": ["y", 2], "e\u0041": "z"})", fn, out).isOk());
  std::vector<std::string> want = {"a<>", "x<a>", "b<>", "c<>",  "1<c>",
                                   "d<>", "y<>",  "2<>", "eA<>", "z<eA>"};
  EXPECT_EQ(seen, want);
}

TEST(JsonText, ReplacementsAreEscaped) {
  auto fn = [](JsonToken k, std::string_view v, std::string_view,
               std::string& out) -> Result<CellResult> {
    if (k != JsonToken::kString) {
      return CellResult::kUnchanged;
    }
    out = "quote\" backslash\\ newline\n";
    return CellResult::kRewritten;
  };
  std::string out;
  ASSERT_TRUE(rewriteJson(R"(["x"])", fn, out).isOk());
  EXPECT_EQ(out, R"(["quote\" backslash\\ newline\n"])");
}

TEST(JsonText, InvalidJsonIsAnError) {
  auto fn = [](JsonToken, std::string_view, std::string_view, std::string&) -> Result<CellResult> {
    return CellResult::kUnchanged;
  };
  std::string out;
  for (std::string_view bad : {"", "{", R"({"a":})", "[1,]", "\"\xff\"", "{} x"}) {
    EXPECT_FALSE(rewriteJson(bad, fn, out).isOk()) << bad;
  }
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_FALSE(rewriteJson(deep, fn, out).isOk());
}

}  // namespace
}  // namespace jg::mask
