#include "core/bytes.h"

#include <gtest/gtest.h>

#include "core/random.h"

namespace jg {
namespace {

TEST(ByteReader, ReadsBigEndianIntegersAndStrings) {
  std::string buf(
      "\x01\x02\x03\x04\x05\x06\x07"
      "abc\0rest",
      15);
  ByteReader r(buf);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  std::string_view s;
  ASSERT_TRUE(r.readU8(a));
  ASSERT_TRUE(r.readU16(b));
  ASSERT_TRUE(r.readU32(c));
  ASSERT_TRUE(r.readCString(s));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x04050607u);
  EXPECT_EQ(s, "abc");
  EXPECT_EQ(r.rest(), "rest");
}

TEST(ByteReader, RefusesToReadPastTheEnd) {
  ByteReader r(std::string_view("\x01\x02", 2));
  uint32_t v;
  EXPECT_FALSE(r.readU32(v));
  std::string_view s;
  EXPECT_FALSE(r.readCString(s));  // no terminating NUL
  EXPECT_FALSE(r.readBytes(3, s));
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(ByteWriter, StickyFailureOnEmbeddedNul) {
  std::string out;
  ByteWriter w(out);
  w.cstring(std::string_view("a\0b", 3));
  EXPECT_FALSE(w.ok());
  w.i32(7);
  EXPECT_TRUE(out.empty());
}

TEST(ByteWriter, PatchesLengthPrefix) {
  std::string out;
  ByteWriter w(out);
  w.u8('Q');
  w.i32(0);
  w.cstring("select 1");
  w.patchI32(1, static_cast<int32_t>(out.size() - 1));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(loadU32(out.data() + 1), 13u);
}

TEST(Random, IdsHaveRequestedLengthAndDiffer) {
  auto a = randomId(10);
  auto b = randomId(10);
  EXPECT_EQ(a.size(), 10u);
  EXPECT_NE(a, b);
  EXPECT_EQ(toHex("\x01\xff"), "01ff");
}

}  // namespace
}  // namespace jg
