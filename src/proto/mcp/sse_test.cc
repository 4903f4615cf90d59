#include "proto/mcp/sse.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace jg::mcp {
namespace {

std::vector<SseEvent> readAll(std::string_view stream, SseReader& reader) {
  std::vector<SseEvent> events;
  EXPECT_TRUE(reader.feed(stream, events)) << reader.error();
  return events;
}

std::vector<SseEvent> readAll(std::string_view stream) {
  SseReader reader;
  return readAll(stream, reader);
}

bool sameEvents(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].event != b[i].event || a[i].data != b[i].data ||
        a[i].retry != b[i].retry) {
      return false;
    }
  }
  return true;
}

// A Streamable HTTP response: a progress notification, a priming event, then the result.
constexpr std::string_view kStream =
    "\xEF\xBB\xBF: stream opened\r\n"
    "retry: 3000\r\n"
    "id: 1\r\n"
    "data:\r\n"
    "\r\n"
    "event: message\n"
    "id: 2\n"
    "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\n"
    "data: \"params\":{\"progressToken\":\"t\",\"progress\":1}}\n"
    "\n"
    "id: 3\r"
    "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}\r"
    "\r";

TEST(SseReader, StreamableHttpResponseYieldsEveryEvent) {
  std::vector<SseEvent> events = readAll(kStream);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[0].event, "message");
  EXPECT_EQ(events[0].retry, 3000);
  EXPECT_EQ(events[1].id, "2");
  EXPECT_EQ(events[1].data,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\n"
            "\"params\":{\"progressToken\":\"t\",\"progress\":1}}");
  EXPECT_FALSE(events[1].retry.has_value());
  EXPECT_EQ(events[2].id, "3");
  EXPECT_EQ(events[2].data, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}");
}

TEST(SseReader, SplittingAtEveryByteGivesTheSameEvents) {
  const std::vector<SseEvent> whole = readAll(kStream);
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    SseReader reader;
    std::vector<SseEvent> events;
    ASSERT_TRUE(reader.feed(kStream.substr(0, cut), events));
    ASSERT_TRUE(reader.feed(kStream.substr(cut), events));
    EXPECT_TRUE(sameEvents(events, whole)) << "cut at " << cut;
    EXPECT_EQ(reader.pending(), 0u);
  }
}

TEST(SseReader, OneByteAtATimeGivesTheSameEvents) {
  SseReader reader;
  std::vector<SseEvent> events;
  for (char c : kStream) {
    ASSERT_TRUE(reader.feed(std::string_view(&c, 1), events));
  }
  EXPECT_TRUE(sameEvents(events, readAll(kStream)));
}

TEST(SseReader, FuzzSeedStreamYieldsItsThreeEvents) {
  std::ifstream in("fuzz/corpus/mcp/sse_stream", std::ios::binary);
  ASSERT_TRUE(in) << "tests run from the source root";
  std::stringstream stream;
  stream << in.rdbuf();
  SseReader reader;
  auto events = readAll(stream.str(), reader);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].id, "3");
  EXPECT_EQ(reader.pending(), 0u);
}

TEST(SseReader, CrlfLfAndCrLineEndsAreEquivalent) {
  auto lf = readAll("event: e\ndata: a\ndata: b\n\n");
  auto crlf = readAll("event: e\r\ndata: a\r\ndata: b\r\n\r\n");
  auto cr = readAll("event: e\rdata: a\rdata: b\r\r");
  ASSERT_EQ(lf.size(), 1u);
  EXPECT_EQ(lf[0].data, "a\nb");
  EXPECT_EQ(lf[0].event, "e");
  EXPECT_TRUE(sameEvents(lf, crlf));
  EXPECT_TRUE(sameEvents(lf, cr));
}

TEST(SseReader, CrAtTheEndOfAFeedFollowedByLfIsOneLineEnd) {
  SseReader reader;
  std::vector<SseEvent> events;
  ASSERT_TRUE(reader.feed("data: a\r", events));
  ASSERT_TRUE(reader.feed("\ndata: b\r", events));
  ASSERT_TRUE(reader.feed("\n\r\n", events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseReader, CommentsAreSkippedAndDoNotEndAnEvent) {
  auto events = readAll(": keep-alive\n\ndata: a\n: inside\ndata: b\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseReader, EventWithoutDataIsNotDispatchedButItsIdCarriesOver) {
  auto events = readAll("id: 7\nevent: x\n\ndata: d\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].event, "message");
}

TEST(SseReader, FieldSyntaxFollowsWhatwg) {
  // No space after the colon, two spaces (one kept), no colon at all, an unknown field.
  auto events = readAll("data:a\ndata:  b\ndata\nfoo: bar\nretry: 12x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\n b\n");
  EXPECT_FALSE(events[0].retry.has_value());
}

TEST(SseReader, IdWithNulIsIgnored) {
  auto events = readAll(std::string_view("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n", 35));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "1");
}

TEST(SseReader, PartialBomFollowedByTextIsKeptAsText) {
  auto events = readAll(
      "\xEF"
      "data: a\n\n");
  EXPECT_TRUE(events.empty());  // the field name is "\xEF" "data", which is unknown
  auto second = readAll(
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "data: a\n\n");
  EXPECT_TRUE(second.empty());  // only one BOM is skipped
}

TEST(SseReader, PendingCountsAnIncompleteEvent) {
  SseReader reader;
  std::vector<SseEvent> events;
  ASSERT_TRUE(reader.feed("data: abc\ndata: de", events));
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(reader.pending(), 11u);  // the data "abc" and the open line "data: de"
  ASSERT_TRUE(reader.feed("\n\n", events));
  EXPECT_EQ(reader.pending(), 0u);
}

TEST(SseReader, OversizedEventIsAnErrorAndTheReaderStaysStopped) {
  SseReader reader(16);
  std::vector<SseEvent> events;
  EXPECT_TRUE(reader.feed("data: 0123456789\n", events));
  EXPECT_FALSE(reader.feed("data: 0123456789\n\n", events));
  EXPECT_FALSE(reader.ok());
  EXPECT_NE(reader.error().find("16 bytes"), std::string::npos);
  EXPECT_FALSE(reader.feed("\n", events));
  EXPECT_TRUE(events.empty());
}

TEST(SseReader, OversizedLineWithoutEndIsAnError) {
  SseReader reader(64);
  std::vector<SseEvent> events;
  std::string chunk(40, 'x');
  EXPECT_TRUE(reader.feed(chunk, events));
  EXPECT_FALSE(reader.feed(chunk, events));
  EXPECT_FALSE(reader.ok());
}

TEST(SseReader, TheLimitDoesNotDependOnWhereTheStreamIsSplit) {
  // Each event holds 10 data bytes; the raw line "data: 0123456789" is 16.
  const std::string stream = "data: 0123456789\n\ndata: 01234\ndata: 5678\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseReader reader(16);
    std::vector<SseEvent> events;
    ASSERT_TRUE(reader.feed(std::string_view(stream).substr(0, cut), events)) << cut;
    ASSERT_TRUE(reader.feed(std::string_view(stream).substr(cut), events)) << reader.error();
    EXPECT_EQ(events.size(), 2u) << "cut at " << cut;
  }
}

TEST(SseReader, EventsAtTheLimitPass) {
  SseReader reader(8);
  std::vector<SseEvent> events;
  EXPECT_TRUE(reader.feed("data:12\n\ndata:12\n\n", events)) << reader.error();
  EXPECT_EQ(events.size(), 2u);
}

TEST(SseEventText, WritesEventIdAndOneDataLinePerLine) {
  EXPECT_EQ(sseEventText("{\"a\":1}"), "event: message\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sseEventText("a\nb\r\nc\rd", "message", "s1-42"),
            "event: message\nid: s1-42\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(sseEventText("", "", ""), "data: \n\n");
}

TEST(SseEventText, LineEndsInEventAndIdCannotInjectFields) {
  EXPECT_EQ(sseEventText("x", "a\ndata: evil", "1\r\nretry: 1"),
            "event: adata: evil\nid: 1retry: 1\ndata: x\n\n");
}

TEST(SseEventText, ReaderGivesBackWhatTheWriterWrote) {
  std::string text = sseEventText("line one\nline two", "message", "9") +
                     sseEventText("{\"jsonrpc\":\"2.0\"}", "custom");
  auto events = readAll(text);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "line one\nline two");
  EXPECT_EQ(events[0].id, "9");
  EXPECT_EQ(events[1].event, "custom");
  EXPECT_EQ(events[1].id, "9");  // the last event ID carries over
}

}  // namespace
}  // namespace jg::mcp
