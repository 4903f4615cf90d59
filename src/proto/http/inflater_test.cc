#include "proto/http/inflater.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace jg::http {
namespace {

enum class Wrap { kGzip, kZlib, kRaw };

// `data` compressed by zlib itself, in the given wrapper.
std::string compress(std::string_view data, Wrap wrap, int level = 6) {
  const int bits = wrap == Wrap::kGzip ? 15 + 16 : wrap == Wrap::kZlib ? 15 : -15;
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string sampleJson() {
  std::string s = "{\"results\":[";
  for (int i = 0; i < 2000; ++i) {
    s += "{\"id\":" + std::to_string(i) + ",\"text\":\"chunk " + std::to_string(i * 7919) +
         " about alice@example.com\"},";
  }
  s += "{}]}";
  return s;
}

// Decodes `encoded` fed in pieces of `step` bytes; the status of the first failure or finish().
Status decode(Inflater::Format f, std::string_view encoded, std::string& out, size_t step,
              size_t limit = 1 << 24) {
  Inflater in(f, limit);
  for (size_t pos = 0; pos < encoded.size(); pos += step) {
    if (auto s = in.write(encoded.substr(pos, step), out); !s) {
      return s;
    }
  }
  return in.finish();
}

TEST(Inflater, FormatOfKnowsGzipAndDeflateOnly) {
  EXPECT_EQ(Inflater::formatOf("gzip"), Inflater::Format::kGzip);
  EXPECT_EQ(Inflater::formatOf(" X-GZIP "), Inflater::Format::kGzip);
  EXPECT_EQ(Inflater::formatOf("Deflate"), Inflater::Format::kDeflate);
  EXPECT_EQ(Inflater::formatOf("br"), std::nullopt);
  EXPECT_EQ(Inflater::formatOf("identity"), std::nullopt);
  EXPECT_EQ(Inflater::formatOf("gzip, gzip"), std::nullopt);
  EXPECT_TRUE(isIdentityEncoding(""));
  EXPECT_TRUE(isIdentityEncoding("Identity"));
  EXPECT_FALSE(isIdentityEncoding("br"));
}

TEST(Inflater, GzipZlibAndRawDeflateRoundTripInEveryPieceSize) {
  const std::string data = sampleJson();
  struct Case {
    Wrap wrap;
    Inflater::Format format;
  };
  for (const Case c :
       {Case{Wrap::kGzip, Inflater::Format::kGzip}, Case{Wrap::kZlib, Inflater::Format::kDeflate},
        Case{Wrap::kRaw, Inflater::Format::kDeflate}}) {
    const std::string encoded = compress(data, c.wrap);
    for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{512}, encoded.size()}) {
      std::string out;
      const Status s = decode(c.format, encoded, out, step);
      ASSERT_TRUE(s) << static_cast<int>(c.wrap) << " step " << step << ": " << s.message();
      EXPECT_EQ(out, data);
    }
  }
}

TEST(Inflater, RawDeflateOfEveryShortInputIsToldFromZlib) {
  for (size_t n = 0; n < 64; ++n) {
    const std::string data(n, static_cast<char>('a' + n % 26));
    for (Wrap w : {Wrap::kZlib, Wrap::kRaw}) {
      for (int level : {0, 1, 9}) {
        std::string out;
        ASSERT_TRUE(decode(Inflater::Format::kDeflate, compress(data, w, level), out, 1))
            << n << " " << level;
        EXPECT_EQ(out, data);
      }
    }
  }
}

TEST(Inflater, ConcatenatedGzipMembersDecodeToTheirConcatenation) {
  const std::string encoded = compress("first,", Wrap::kGzip) + compress("second", Wrap::kGzip);
  std::string out;
  ASSERT_TRUE(decode(Inflater::Format::kGzip, encoded, out, 5));
  EXPECT_EQ(out, "first,second");
}

TEST(Inflater, DecodedSizePastTheLimitIsAnErrorAndNothingBeyondIsKept) {
  const std::string bomb = compress(std::string(16 << 20, '\0'), Wrap::kGzip, 9);
  EXPECT_LT(bomb.size(), 32u * 1024);
  std::string out;
  const Status s = decode(Inflater::Format::kGzip, bomb, out, 4096, 1 << 20);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_LE(out.size(), size_t{1} << 20);
}

TEST(Inflater, DecodedSizeExactlyAtTheLimitIsAccepted) {
  const std::string data(100000, 'x');
  std::string out;
  EXPECT_TRUE(decode(Inflater::Format::kGzip, compress(data, Wrap::kGzip), out, 100, 100000));
  out.clear();
  EXPECT_EQ(decode(Inflater::Format::kGzip, compress(data, Wrap::kGzip), out, 100, 99999).code(),
            Code::kResourceExhausted);
}

TEST(Inflater, TruncatedStreamFailsAtFinish) {
  const std::string encoded = compress(sampleJson(), Wrap::kGzip);
  for (size_t cut : {size_t{1}, size_t{5}, size_t{10}, encoded.size() / 2, encoded.size() - 1}) {
    Inflater in(Inflater::Format::kGzip, 1 << 24);
    std::string out;
    ASSERT_TRUE(in.write(std::string_view(encoded).substr(0, cut), out)) << cut;
    const Status s = in.finish();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << cut;
    EXPECT_NE(s.message().find("truncated"), std::string::npos);
  }
  Inflater one(Inflater::Format::kDeflate, 1 << 24);  // a single byte of deflate
  std::string out;
  ASSERT_TRUE(one.write("x", out));
  EXPECT_FALSE(one.finish());
}

TEST(Inflater, EmptyBodyFinishesCleanly) {
  Inflater in(Inflater::Format::kGzip, 10);
  std::string out;
  EXPECT_TRUE(in.write("", out));
  EXPECT_TRUE(in.finish());
}

TEST(Inflater, CorruptDataIsAnErrorThatSticks) {
  std::string encoded = compress(sampleJson(), Wrap::kGzip);
  encoded[0] = 'X';  // not the gzip magic
  Inflater in(Inflater::Format::kGzip, 1 << 24);
  std::string out;
  const Status s = in.write(encoded, out);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_FALSE(in.write("more", out));
  EXPECT_FALSE(in.finish());
}

TEST(Inflater, FlippedCrcOfAGzipTrailerIsCorrupt) {
  std::string encoded = compress("hello", Wrap::kGzip);
  encoded[encoded.size() - 6] ^= 0x01;
  std::string out;
  EXPECT_EQ(decode(Inflater::Format::kGzip, encoded, out, encoded.size()).code(),
            Code::kInvalidArgument);
}

TEST(Inflater, BytesAfterTheEndOfADeflateStreamAreRefused) {
  const std::string encoded = compress("hello", Wrap::kZlib) + "junk";
  std::string out;
  EXPECT_EQ(decode(Inflater::Format::kDeflate, encoded, out, 3).code(), Code::kInvalidArgument);
}

TEST(Inflater, GarbageAfterAGzipMemberIsRefused) {
  const std::string encoded = compress("hello", Wrap::kGzip) + "junk";
  std::string out;
  EXPECT_FALSE(decode(Inflater::Format::kGzip, encoded, out, encoded.size()));
}

}  // namespace
}  // namespace jg::http
