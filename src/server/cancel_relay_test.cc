#include "server/cancel_relay.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "store/store.h"

namespace jg::server {
namespace {

TEST(CancelRelay, RefNamesTheProcessAndADigestThatDependsOnTheSecret) {
  std::string ref = CancelRelay::ref(1234567, 987654321);
  ASSERT_EQ(ref.rfind("1234567:", 0), 0u) << ref;
  EXPECT_EQ(ref.size(), std::string("1234567:").size() + 32);
  EXPECT_EQ(ref.find("987654321"), std::string::npos) << "the secret must not appear";
  EXPECT_EQ(ref, CancelRelay::ref(1234567, 987654321));
  EXPECT_NE(ref, CancelRelay::ref(1234567, 987654320));
  EXPECT_NE(ref.substr(8), CancelRelay::ref(1234568, 987654321).substr(8));
}

TEST(CancelRelay, RegistryFindsATargetOnlyWhenTheDigestOfItsSecretMatches) {
  CancelRegistry registry;
  pg::BackendKeyData key = registry.add(CancelTarget{.host = "db", .port = 5432, .key = {7, 8}});
  std::string wanted = CancelRelay::ref(key.process_id, key.secret_key);
  auto match = [&](int32_t secret) { return CancelRelay::ref(key.process_id, secret) == wanted; };
  auto found = registry.lookupIf(key.process_id, match);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->port, 5432);
  std::string wrong = CancelRelay::ref(key.process_id, key.secret_key ^ 1);
  EXPECT_FALSE(registry.lookupIf(key.process_id, [&](int32_t secret) {
    return CancelRelay::ref(key.process_id, secret) == wrong;
  }));
  EXPECT_FALSE(registry.lookupIf(key.process_id + 1, match));
}

TEST(CancelRelay, AStoreWithoutEventsHasNoFeedAndForwardsAreRateLimited) {
  auto store = store::open("sqlite::memory:");
  ASSERT_TRUE(store) << store.status().message();
  CancelRegistry registry;
  boost::asio::io_context io;
  CancelRelay relay(**store, registry, io.get_executor());
  ASSERT_TRUE(relay.start());
  EXPECT_FALSE(relay.active());
  for (int i = 0; i < CancelRelay::kForwardsPerSecond; ++i) {
    ASSERT_TRUE(relay.forward(i + 1, i)) << i;
  }
  Status over = relay.forward(99, 99);
  EXPECT_EQ(over.code(), Code::kResourceExhausted);
}

}  // namespace
}  // namespace jg::server
