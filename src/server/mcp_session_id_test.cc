#include "server/mcp_session_id.h"

#include <gtest/gtest.h>

#include "identity/base64url.h"

namespace jg::server {
namespace {

const std::string kKey(32, 'k');
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

TEST(McpSessionIds, IdMintedForASubjectVerifiesForThatSubject) {
  McpSessionIds ids(kKey);
  std::string id = ids.mint("alice", kNow);
  EXPECT_TRUE(ids.verify(id, "alice"));
}

TEST(McpSessionIds, IdOfOneSubjectIsRefusedForAnother) {
  McpSessionIds ids(kKey);
  EXPECT_FALSE(ids.verify(ids.mint("alice", kNow), "bob"));
  // The length prefix keeps ("ab", stamp) and ("a", "b" + stamp) apart.
  EXPECT_FALSE(ids.verify(ids.mint("ab", kNow), "a"));
}

TEST(McpSessionIds, ReplicaWithTheSameKeyAcceptsTheId) {
  McpSessionIds a(kKey), b(kKey);
  EXPECT_TRUE(b.verify(a.mint("alice", kNow), "alice"));
}

TEST(McpSessionIds, IdMintedWithAnotherKeyIsRefused) {
  McpSessionIds a(kKey), other(std::string(32, 'x'));
  EXPECT_FALSE(other.verify(a.mint("alice", kNow), "alice"));
}

TEST(McpSessionIds, ProcessWithoutAKeyDrawsItsOwn) {
  McpSessionIds a(""), b("");
  std::string id = a.mint("alice", kNow);
  EXPECT_TRUE(a.verify(id, "alice"));
  EXPECT_FALSE(b.verify(id, "alice"));
}

TEST(McpSessionIds, TamperedIdIsRefused) {
  McpSessionIds ids(kKey);
  std::string id = ids.mint("alice", kNow);
  auto raw = identity::base64UrlDecode(id);
  ASSERT_TRUE(raw);
  for (size_t i = 0; i < raw->size(); i += 7) {
    std::string bad = *raw;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(ids.verify(identity::base64UrlEncode(bad), "alice")) << "byte " << i;
  }
}

TEST(McpSessionIds, MalformedIdsAreRefused) {
  McpSessionIds ids(kKey);
  EXPECT_FALSE(ids.verify("", "alice"));
  EXPECT_FALSE(ids.verify("not base64url!", "alice"));
  std::string id = ids.mint("alice", kNow);
  EXPECT_FALSE(ids.verify(id.substr(0, id.size() - 4), "alice"));
  EXPECT_FALSE(ids.verify(id + "AAAA", "alice"));
  EXPECT_FALSE(ids.verify(std::string(10'000, 'A'), "alice"));
}

TEST(McpSessionIds, TwoIdsForTheSameSubjectDiffer) {
  McpSessionIds ids(kKey);
  EXPECT_NE(ids.mint("alice", kNow), ids.mint("alice", kNow));
}

}  // namespace
}  // namespace jg::server
