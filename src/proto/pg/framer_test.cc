#include "proto/pg/framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"

namespace jg::pg {
namespace {

using namespace std::string_literals;

constexpr size_t kMax = 1 << 20;

// A realistic extended-protocol exchange in both directions, one message per element.
std::vector<std::string> sampleMessages() {
  std::vector<std::string> msgs;
  auto add = [&](auto&& fn) {
    msgs.emplace_back();
    fn(msgs.back());
  };
  add([](std::string& o) { encodeQuery(o, "SELECT doc_id, body FROM chunks LIMIT 10"); });
  add([](std::string& o) {
    encodeParse(o, {.name = "", .sql = "SELECT $1", .param_types = {23}});
  });
  add([](std::string& o) {
    encodeBind(o, {.portal = "",
                   .statement = "",
                   .param_formats = {1},
                   .params = {{"\0\0\0\1"s, false}},
                   .result_formats = {1}});
  });
  add([](std::string& o) { encodeDescribe(o, {.target = 'P', .name = ""}); });
  add([](std::string& o) { encodeExecute(o, {.portal = "", .max_rows = 0}); });
  add([](std::string& o) { encodeEmpty(o, fe::kSync); });
  add([](std::string& o) {
    RowDescription rd;
    rd.fields = {{"doc_id", 1, 1, 23, 4, -1, 0}};
    encodeRowDescription(o, rd);
  });
  add([](std::string& o) { encodeDataRow(o, {{"1", false}}); });
  add([](std::string& o) { encodeCommandComplete(o, "SELECT 1"); });
  add([](std::string& o) { encodeReadyForQuery(o, 'I'); });
  return msgs;
}

TEST(Framer, HeaderShorterThanFiveBytesNeedsMore) {
  Frame f;
  std::string err;
  for (std::string s : {""s, "Q"s, "Q\0\0\0"s}) {
    EXPECT_EQ(nextFrame(s, kMax, f, err), FrameStatus::kNeedMore);
    EXPECT_EQ(pendingFrameSize(s), 0u);
  }
}

TEST(Framer, EveryMessageSplitAtEveryOffsetNeedsMoreUntilComplete) {
  for (const std::string& msg : sampleMessages()) {
    Frame f;
    std::string err;
    for (size_t cut = 0; cut < msg.size(); ++cut) {
      ASSERT_EQ(nextFrame(std::string_view(msg).substr(0, cut), kMax, f, err),
                FrameStatus::kNeedMore)
          << "type " << msg[0] << " cut " << cut;
      if (cut >= 5) {
        EXPECT_EQ(pendingFrameSize(std::string_view(msg).substr(0, cut)), msg.size());
      }
    }
    ASSERT_EQ(nextFrame(msg, kMax, f, err), FrameStatus::kReady);
    EXPECT_EQ(f.type, msg[0]);
    EXPECT_EQ(f.size, msg.size());
    EXPECT_EQ(f.payload, std::string_view(msg).substr(5));
  }
}

TEST(Framer, ManyMessagesInOneBufferComeOutInOrder) {
  std::vector<std::string> msgs = sampleMessages();
  std::string stream;
  for (const auto& m : msgs) {
    stream += m;
  }
  std::string_view rest = stream;
  Frame f;
  std::string err;
  for (const auto& m : msgs) {
    ASSERT_EQ(nextFrame(rest, kMax, f, err), FrameStatus::kReady);
    EXPECT_EQ(f.type, m[0]);
    EXPECT_EQ(f.size, m.size());
    rest.remove_prefix(f.size);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(nextFrame(rest, kMax, f, err), FrameStatus::kNeedMore);
}

TEST(Framer, TwoMessagesWithTheSecondTruncated) {
  std::string stream;
  encodeReadyForQuery(stream, 'I');
  std::string second;
  encodeCommandComplete(second, "INSERT 0 1");
  stream += second.substr(0, 7);
  Frame f;
  std::string err;
  ASSERT_EQ(nextFrame(stream, kMax, f, err), FrameStatus::kReady);
  std::string_view rest = std::string_view(stream).substr(f.size);
  EXPECT_EQ(nextFrame(rest, kMax, f, err), FrameStatus::kNeedMore);
  EXPECT_EQ(pendingFrameSize(rest), second.size());
}

TEST(Framer, LengthBelowFourIsAnError) {
  Frame f;
  for (uint8_t len : {0, 1, 2, 3}) {
    std::string err;
    std::string msg = "Q\0\0\0"s + static_cast<char>(len);
    EXPECT_EQ(nextFrame(msg, kMax, f, err), FrameStatus::kError);
    EXPECT_NE(err.find("invalid message length"), std::string::npos) << err;
  }
}

TEST(Framer, LengthFourIsAnEmptyPayload) {
  Frame f;
  std::string err;
  ASSERT_EQ(nextFrame("S\0\0\0\x04"s, kMax, f, err), FrameStatus::kReady);
  EXPECT_EQ(f.type, 'S');
  EXPECT_TRUE(f.payload.empty());
  EXPECT_EQ(f.size, 5u);
}

TEST(Framer, OversizedLengthIsRejectedFromTheHeaderAlone) {
  Frame f;
  std::string err;
  // Only the header has arrived: the framer must not wait for 2 GB.
  EXPECT_EQ(nextFrame("D\x7f\xff\xff\xff"s, kMax, f, err), FrameStatus::kError);
  EXPECT_NE(err.find("exceeds the limit"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(nextFrame("D\xff\xff\xff\xff"s, kMax, f, err), FrameStatus::kError);
  // Exactly at the limit is fine.
  std::string msg;
  encodeCopyData(msg, std::string(95, 'x'));
  EXPECT_EQ(nextFrame(msg, 100, f, err), FrameStatus::kReady);
  EXPECT_EQ(nextFrame(msg, 99, f, err), FrameStatus::kError);
}

TEST(StartupFramer, SplitAtEveryOffsetNeedsMoreUntilComplete) {
  std::string msg;
  encodeStartupMessage(msg,
                       {.protocol = kProtocol30, .params = {{"user", "u"}, {"database", "kb"}}});
  Frame f;
  std::string err;
  for (size_t cut = 0; cut < msg.size(); ++cut) {
    ASSERT_EQ(nextStartupFrame(std::string_view(msg).substr(0, cut), kMax, f, err),
              FrameStatus::kNeedMore);
  }
  ASSERT_EQ(nextStartupFrame(msg, kMax, f, err), FrameStatus::kReady);
  EXPECT_EQ(f.type, 0);
  EXPECT_EQ(f.size, msg.size());
  EXPECT_EQ(f.payload, std::string_view(msg).substr(4));
}

TEST(StartupFramer, SslRequestFollowedByTlsBytesFramesOnlyTheRequest) {
  std::string stream;
  encodeSslRequest(stream);
  stream += "\x16\x03\x01\x02\x00"s;  // a TLS ClientHello starts right after
  Frame f;
  std::string err;
  ASSERT_EQ(nextStartupFrame(stream, kMax, f, err), FrameStatus::kReady);
  EXPECT_EQ(f.size, 8u);
}

TEST(StartupFramer, ShortAndOversizedLengthsAreErrors) {
  Frame f;
  std::string err;
  EXPECT_EQ(nextStartupFrame("\0\0\0\x07"s, kMax, f, err), FrameStatus::kError);
  EXPECT_EQ(nextStartupFrame("\0\0\0\0"s, kMax, f, err), FrameStatus::kError);
  EXPECT_EQ(nextStartupFrame("\x00\x01\x00\x01"s, 10000, f, err), FrameStatus::kError);
  EXPECT_EQ(nextStartupFrame("\xff\xff\xff\xff"s, kMax, f, err), FrameStatus::kError);
}

}  // namespace
}  // namespace jg::pg
