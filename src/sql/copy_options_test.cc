#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/classifier.h"

namespace jg::sql {
namespace {

using ::testing::ElementsAre;
using Format = CopyOptions::Format;

CopyOptions copyOf(std::string_view sql) {
  Classification c = classifyUncached(sql);
  EXPECT_TRUE(c.status.isOk()) << sql << ": " << c.status.message();
  if (c.statements.size() != 1 || !c.statements[0].copy) {
    ADD_FAILURE() << sql << ": no COPY options";
    return {};
  }
  return *c.statements[0].copy;
}

TEST(CopyOptions, TextFormatDefaultsAreTabAndBackslashN) {
  CopyOptions c = copyOf("COPY t TO STDOUT");
  EXPECT_EQ(c.format, Format::kText);
  EXPECT_EQ(c.delimiter, '\t');
  EXPECT_EQ(c.null_string, "\\N");
  EXPECT_FALSE(c.header);
  EXPECT_TRUE(c.columns.empty());
  EXPECT_TRUE(c.readable);
}

TEST(CopyOptions, CsvDefaultsAreCommaEmptyNullAndDoubleQuote) {
  for (const char* sql : {"COPY t TO STDOUT WITH (FORMAT csv)", "COPY t TO STDOUT CSV",
                          "COPY t TO STDOUT WITH (FORMAT 'CSV')"}) {
    CopyOptions c = copyOf(sql);
    EXPECT_EQ(c.format, Format::kCsv) << sql;
    EXPECT_EQ(c.delimiter, ',') << sql;
    EXPECT_EQ(c.null_string, "") << sql;
    EXPECT_EQ(c.quote, '"') << sql;
    EXPECT_EQ(c.escape, '"') << sql;
  }
}

TEST(CopyOptions, EveryOptionIsReadAsTheServerReadsIt) {
  CopyOptions c = copyOf(
      "COPY crm.customers (id, note) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', "
      "NULL 'NUL', QUOTE '''', ESCAPE '\\', FORCE_QUOTE *, ENCODING 'UTF8')");
  EXPECT_EQ(c.format, Format::kCsv);
  EXPECT_TRUE(c.header);
  EXPECT_EQ(c.delimiter, ';');
  EXPECT_EQ(c.null_string, "NUL");
  EXPECT_EQ(c.quote, '\'');
  EXPECT_EQ(c.escape, '\\');
  EXPECT_EQ(c.encoding, "UTF8");
  EXPECT_THAT(c.columns, ElementsAre("id", "note"));
}

TEST(CopyOptions, EscapeDefaultsToAQuoteGivenAfterIt) {
  CopyOptions c = copyOf("COPY t TO STDOUT WITH (FORMAT csv, QUOTE '|')");
  EXPECT_EQ(c.quote, '|');
  EXPECT_EQ(c.escape, '|');
}

TEST(CopyOptions, OldSyntaxAndBinary) {
  CopyOptions c = copyOf("COPY t TO STDOUT WITH DELIMITER '|' NULL 'x' CSV HEADER");
  EXPECT_EQ(c.format, Format::kCsv);
  EXPECT_EQ(c.delimiter, '|');
  EXPECT_EQ(c.null_string, "x");
  EXPECT_TRUE(c.header);
  EXPECT_EQ(copyOf("COPY t TO STDOUT BINARY").format, Format::kBinary);
  EXPECT_EQ(copyOf("COPY t TO STDOUT WITH (FORMAT binary)").format, Format::kBinary);
}

TEST(CopyOptions, HeaderCanBeTurnedOff) {
  for (const char* v : {"false", "off", "0"}) {
    EXPECT_FALSE(copyOf(std::string("COPY t TO STDOUT (FORMAT csv, HEADER ") + v + ")").header)
        << v;
  }
  EXPECT_TRUE(copyOf("COPY t TO STDOUT (FORMAT csv, HEADER 1)").header);
  EXPECT_TRUE(copyOf("COPY t TO STDOUT (FORMAT text, HEADER on)").header);
}

TEST(CopyOptions, AnAliasNamedLikeAFormatDoesNotChangeTheFormat) {
  CopyOptions c = copyOf("COPY (SELECT note AS csv_note FROM t) TO STDOUT");
  EXPECT_EQ(c.format, Format::kText);
  EXPECT_EQ(c.delimiter, '\t');
  c = copyOf("COPY (SELECT 'csv' AS binary) TO STDOUT WITH (DELIMITER ',')");
  EXPECT_EQ(c.format, Format::kText);
  EXPECT_EQ(c.delimiter, ',');
}

TEST(CopyOptions, AnOptionTheServerWouldRefuseIsUnreadable) {
  EXPECT_FALSE(copyOf("COPY t TO STDOUT WITH (DELIMITER ';;')").readable);
  EXPECT_FALSE(copyOf("COPY t TO STDOUT WITH (FORMAT xml)").readable);
}

}  // namespace
}  // namespace jg::sql
