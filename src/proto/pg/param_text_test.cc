#include "proto/pg/param_text.h"

#include <gtest/gtest.h>

namespace jg::pg {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int c : b) {
    out.push_back(static_cast<char>(c));
  }
  return out;
}

TEST(ParamText, TextFormatValuesAreShownAsSentWithoutANote) {
  ParamText t = paramText("42", 0, 23);
  EXPECT_EQ(t.text, "42");
  EXPECT_EQ(t.note, "");
}

TEST(ParamText, BinaryIntegersAreDecodedByTheirWidthAndSign) {
  EXPECT_EQ(paramText(bytes({0xff, 0xfe}), 1, 21).text, "-2");
  EXPECT_EQ(paramText(bytes({0, 0, 0, 3}), 1, 23).text, "3");
  EXPECT_EQ(paramText(bytes({0, 0, 0, 3}), 1, 23).note, "binary int4");
  EXPECT_EQ(paramText(bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 1, 20).text, "-1");
}

TEST(ParamText, BinaryFloatsBoolsAndTextAreDecoded) {
  EXPECT_EQ(paramText(bytes({0x40, 0x09, 0x1e, 0xb8, 0x51, 0xeb, 0x85, 0x1f}), 1, 701).text,
            "3.14");
  EXPECT_EQ(paramText(bytes({0x3f, 0xc0, 0, 0}), 1, 700).text, "1.5");
  EXPECT_EQ(paramText(bytes({1}), 1, 16).text, "t");
  EXPECT_EQ(paramText("héllo", 1, 25).text, "héllo");
  EXPECT_EQ(paramText(bytes({1, '{', '}'}), 1, 3802).text, "{}");
}

TEST(ParamText, BinaryUuidNumericAndTimesUsePostgresTextForms) {
  EXPECT_EQ(paramText(bytes({0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78,
                             0x9a, 0xbc, 0xde, 0xf0}),
                      1, 2950)
                .text,
            "12345678-9abc-def0-1234-56789abcdef0");
  // -12345.678: digits 1, 2345, 6780; weight 1; negative; dscale 3.
  EXPECT_EQ(
      paramText(bytes({0, 3, 0, 1, 0x40, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c}), 1, 1700).text,
      "-12345.678");
  // 0.05: one digit 500 at weight -1, dscale 2.
  EXPECT_EQ(paramText(bytes({0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x01, 0xf4}), 1, 1700).text, "0.05");
  // 2000-01-02 00:00:01.5 = 86401.5 s after PostgreSQL's epoch.
  EXPECT_EQ(paramText(bytes({0, 0, 0, 0x14, 0x1d, 0xee, 0x43, 0x60}), 1, 1114).text,
            "2000-01-02 00:00:01.5");
  EXPECT_EQ(paramText(bytes({0, 0, 0, 0, 0, 0, 0, 0}), 1, 1184).text, "2000-01-01 00:00:00+00");
  EXPECT_EQ(paramText(bytes({0xff, 0xff, 0xff, 0xff}), 1, 1082).text, "1999-12-31");
}

TEST(ParamText, BinaryByteaIsHex) {
  ParamText t = paramText(bytes({0xde, 0xad, 0x00}), 1, 17);
  EXPECT_EQ(t.text, "\\xdead00");
  EXPECT_EQ(t.note, "binary bytea");
}

TEST(ParamText, AnUnknownTypeOrBytesThatDoNotFitAreHexWithANote) {
  ParamText unknown = paramText(bytes({1, 2}), 1, 16385);
  EXPECT_EQ(unknown.text, "\\x0102");
  EXPECT_EQ(unknown.note, "binary oid 16385, shown as hex");
  ParamText unspecified = paramText(bytes({1}), 1, 0);
  EXPECT_EQ(unspecified.note, "binary, type not specified, shown as hex");
  ParamText short_int = paramText(bytes({0, 1}), 1, 23);
  EXPECT_EQ(short_int.text, "\\x0001");
  EXPECT_NE(short_int.note.find("do not fit"), std::string::npos);
}

TEST(ParamText, FormatCodesApplyToAllOrEachParameter) {
  EXPECT_EQ(paramFormat({}, 3), 0);
  EXPECT_EQ(paramFormat({1}, 3), 1);
  EXPECT_EQ(paramFormat({0, 1}, 1), 1);
}

}  // namespace
}  // namespace jg::pg
