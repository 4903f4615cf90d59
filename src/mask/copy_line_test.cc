#include "mask/copy_line.h"

#include <gtest/gtest.h>

#include "mask/test_util.h"

namespace jg::mask {
namespace {

std::vector<CopyField> split(std::string_view line, const CopyFormat& f) {
  std::vector<CopyField> fields;
  Status s = splitCopyLine(line, f, fields);
  EXPECT_TRUE(s.isOk()) << s.message();
  return fields;
}

std::string show(const std::vector<CopyField>& fields) {
  std::string s;
  for (const CopyField& f : fields) {
    s += f.is_null ? "<NULL>" : "[" + f.value + "]";
  }
  return s;
}

TEST(CopyText, SplitsOnTabsAndDecodesEscapes) {
  auto f = split("a\tb\\tc\t\\N\t\\\\N\tline\\nbreak\t\\x41\\101\\q\t\n", CopyFormat::text());
  EXPECT_EQ(show(f), "[a][b\tc]<NULL>[\\N][line\nbreak][AAq][]");
}

TEST(CopyText, ALoneBackslashAtTheEndIsAnErrorNotALostField) {
  std::vector<CopyField> fields;
  EXPECT_FALSE(splitCopyLine("a\tsecret\\\n", CopyFormat::text(), fields).isOk());
  EXPECT_FALSE(splitCopyLine("\\", CopyFormat::text(), fields).isOk());
  EXPECT_EQ(show(split("a\tb\\\\\n", CopyFormat::text())), "[a][b\\]");
}

TEST(CopyText, EscapedDelimiterDoesNotSplit) {
  CopyFormat pipe = CopyFormat::text();
  pipe.delimiter = '|';
  EXPECT_EQ(show(split("a\\|b|c\n", pipe)), "[a|b][c]");
}

TEST(CopyText, CustomNullString) {
  CopyFormat f = CopyFormat::text();
  f.null_string = "NULL";
  EXPECT_EQ(show(split("NULL\tnull\t\\N\n", f)), "<NULL>[null][N]");
}

TEST(CopyText, EncodeRoundTripsTrickyValues) {
  std::vector<CopyField> fields = {
      {"tab\there", false}, {"nl\nand\rcr", false}, {"back\\slash", false},
      {"", true},           {"\\N", false},         {"\b\f\v", false},
      {"", false}};
  std::string line;
  encodeCopyLine(fields, CopyFormat::text(), line);
  EXPECT_EQ(line, "tab\\there\tnl\\nand\\rcr\tback\\\\slash\t\\N\t\\\\N\t\\b\\f\\v\t\n");
  EXPECT_EQ(show(split(line, CopyFormat::text())), show(fields));
}

TEST(CopyCsv, SplitsQuotedFieldsWithDoubledQuotesCommasAndNewlines) {
  auto f = split("1,\"a,b\",\"say \"\"hi\"\"\",,\"\",\"multi\nline\"\n", CopyFormat::csvFormat());
  EXPECT_EQ(show(f), "[1][a,b][say \"hi\"]<NULL>[][multi\nline]");
}

TEST(CopyCsv, EscapeCharacterOtherThanQuote) {
  CopyFormat f = CopyFormat::csvFormat();
  f.escape = '\\';
  EXPECT_EQ(show(split(R"("a\"b","c\\d",e\f)", f)), "[a\"b][c\\d][e\\f]");
}

TEST(CopyCsv, UnterminatedQuoteIsAnError) {
  std::vector<CopyField> fields;
  EXPECT_FALSE(splitCopyLine("\"abc,def\n", CopyFormat::csvFormat(), fields).isOk());
}

TEST(CopyCsv, EncodeQuotesOnlyWhenNeededAndRoundTrips) {
  std::vector<CopyField> fields = {{"plain", false}, {"a,b", false}, {"q\"q", false},
                                   {"", false},      {"", true},     {"line\nbreak", false}};
  std::string line;
  encodeCopyLine(fields, CopyFormat::csvFormat(), line);
  EXPECT_EQ(line, "plain,\"a,b\",\"q\"\"q\",\"\",,\"line\nbreak\"\n");
  EXPECT_EQ(show(split(line, CopyFormat::csvFormat())), show(fields));
  std::vector<CopyField> marker = {{"\\.", false}};
  encodeCopyLine(marker, CopyFormat::csvFormat(), line);
  EXPECT_EQ(line, "\"\\.\"\n");
}

class CopyMaskTest : public ::testing::Test {
 protected:
  CopyMaskTest() : engine_(sharedEngine()), scanner_(engine_) {}
  static std::shared_ptr<const Engine> sharedEngine() {
    static std::shared_ptr<const Engine> e = testing::makeEngine(
        Strategy::kRedact, {{"", "users", "name", Strategy::kPartial, 2, "NAME"}});
    return e;
  }
  std::vector<ColumnPlan> plans(std::initializer_list<const ColumnRule*> rules) {
    std::vector<ColumnPlan> p;
    for (const ColumnRule* r : rules) {
      p.push_back(planColumn(*engine_->profile(), 0, 0, r));
    }
    return p;
  }
  std::string mask(std::string_view line, const CopyFormat& f, std::vector<ColumnPlan> p) {
    std::string out = "untouched";
    auto r = maskCopyLine(scanner_, p, f, line, out, counters_);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    if (!r.isOk()) {
      return "<ERROR>";
    }
    if (*r == CellResult::kUnchanged) {
      EXPECT_EQ(out, "untouched");
      return std::string(line);
    }
    return out;
  }

  std::shared_ptr<const Engine> engine_;
  Scanner scanner_;
  Counters counters_;
};

TEST_F(CopyMaskTest, CleanLinesAreForwardedUnchanged) {
  EXPECT_EQ(mask("1\thello\t\\N\n", CopyFormat::text(), plans({nullptr, nullptr, nullptr})),
            "1\thello\t\\N\n");
  EXPECT_EQ(counters_.cells_masked, 0u);
}

TEST_F(CopyMaskTest, TextLinesAreMaskedAndReEncoded) {
  EXPECT_EQ(mask("1\tmail bob@example.com\\tx\t\\N\n", CopyFormat::text(),
                 plans({nullptr, nullptr, nullptr})),
            "1\tmail [EMAIL]\\tx\t\\N\n");
  EXPECT_EQ(counters_.by_label["EMAIL"], 1u);
}

TEST_F(CopyMaskTest, EscapesCannotHideAValue) {
  // "bob\x40example.com" decodes to an address.
  EXPECT_EQ(mask("bob\\x40example.com\n", CopyFormat::text(), plans({nullptr})), "[EMAIL]\n");
}

TEST_F(CopyMaskTest, ColumnRulesApplyToTheirField) {
  const ColumnRule* name = engine_->profile()->findRule("public", "users", "name");
  EXPECT_EQ(mask("7\tAda Lovelace\n", CopyFormat::text(), plans({nullptr, name})),
            "7\t**********ce\n");
  // A quoted field stays quoted (FORCE_QUOTE output keeps its shape).
  EXPECT_EQ(mask("7,\"Ada, Countess\"\n", CopyFormat::csvFormat(), plans({nullptr, name})),
            "7,\"***********ss\"\n");
}

TEST_F(CopyMaskTest, CsvLinesAreMaskedAndStayParseable) {
  std::string out = mask("1,\"a@example.com, \"\"quoted\"\"\",x\n", CopyFormat::csvFormat(),
                         plans({nullptr, nullptr, nullptr}));
  EXPECT_EQ(out, "1,\"[EMAIL], \"\"quoted\"\"\",x\n");
  EXPECT_EQ(show(split(out, CopyFormat::csvFormat())), "[1][[EMAIL], \"quoted\"][x]");
}

TEST_F(CopyMaskTest, NullStrategyWritesTheNullString) {
  Scanner nulls(testing::makeEngine(Strategy::kNull));
  std::vector<ColumnPlan> p = {planColumn(*nulls.engine().profile(), 0, 0, nullptr)};
  std::string out;
  auto r = maskCopyLine(nulls, p, CopyFormat::csvFormat(), "a@example.com\n", out, counters_);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, "\n");  // a NULL in csv is the empty null string
}

TEST_F(CopyMaskTest, FieldCountMismatchFailsClosed) {
  std::string out;
  auto p = plans({nullptr, nullptr});
  EXPECT_FALSE(
      maskCopyLine(scanner_, p, CopyFormat::text(), "a\\tb bob@example.com\n", out, counters_)
          .isOk());
}

TEST_F(CopyMaskTest, ALastFieldEndingInALoneBackslashFailsClosed) {
  std::string out;
  auto p = plans({nullptr});
  EXPECT_FALSE(
      maskCopyLine(scanner_, p, CopyFormat::text(), "x\tbob@example.com\\\n", out, counters_)
          .isOk());
}

TEST_F(CopyMaskTest, MaskedAndUnmaskedLinesKeepTheirEndingByteForByte) {
  const ColumnRule* name = engine_->profile()->findRule("public", "users", "name");
  auto p = plans({nullptr, name});
  for (std::string_view end : {"\n", "\r\n", ""}) {
    std::string in = "7\tAda Lovelace" + std::string(end);
    EXPECT_EQ(mask(in, CopyFormat::text(), p), "7\t**********ce" + std::string(end));
    std::string clean = "7\t\\N" + std::string(end);
    EXPECT_EQ(mask(clean, CopyFormat::text(), p), clean);
  }
}

TEST_F(CopyMaskTest, UnmaskedFieldsKeepTheirBytesWhenAnotherFieldIsMasked) {
  const ColumnRule* name = engine_->profile()->findRule("public", "users", "name");
  // Forced quotes and an escaped tab around a masked field are not rewritten.
  EXPECT_EQ(
      mask("\"7\",Ada,\"x\"\"y\"\n", CopyFormat::csvFormat(), plans({nullptr, name, nullptr})),
      "\"7\",*da,\"x\"\"y\"\n");
  EXPECT_EQ(mask("a\\tb\tAda\t\\101\n", CopyFormat::text(), plans({nullptr, name, nullptr})),
            "a\\tb\t*da\t\\101\n");
}

TEST_F(CopyMaskTest, CsvQuotedNewlinesStayInsideTheirField) {
  const ColumnRule* name = engine_->profile()->findRule("public", "users", "name");
  auto p = plans({name, nullptr});
  EXPECT_EQ(mask("\"Ada\nLovelace\",\"two\nlines\"\n", CopyFormat::csvFormat(), p),
            "\"**********ce\",\"two\nlines\"\n");
  std::string last = "\"a\nb\",c";  // the last line of a stream without its ending
  EXPECT_EQ(mask(last, CopyFormat::csvFormat(), p), "\"*\nb\",c");
}

TEST_F(CopyMaskTest, EveryLineRoundTripsThroughSplitAndEncode) {
  CopyFormat semi = CopyFormat::csvFormat();
  semi.delimiter = ';';
  semi.null_string = "NUL";
  for (const auto& [line, format] : std::vector<std::pair<std::string, CopyFormat>>{
           {"1\tx\\ty\t\\N\n", CopyFormat::text()},
           {"1,\"a,b\",,\"\"\n", CopyFormat::csvFormat()},
           {"1;NUL;\"NUL\";\"q\"\"\"\n", semi}}) {
    std::vector<CopyField> fields = split(line, format);
    std::string again;
    encodeCopyLine(fields, format, again);
    EXPECT_EQ(show(split(again, format)), show(fields)) << line;
    EXPECT_EQ(mask(line, format,
                   std::vector<ColumnPlan>(fields.size(),
                                           planColumn(*engine_->profile(), 0, 0, nullptr))),
              line);
  }
}

}  // namespace
}  // namespace jg::mask
