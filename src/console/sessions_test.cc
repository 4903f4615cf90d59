#include "console/sessions.h"

#include <gtest/gtest.h>

namespace jg::console {
namespace {

using std::chrono::seconds;

identity::Identity alice() {
  identity::Identity who;
  who.subject = "alice";
  who.groups = {"dba"};
  return who;
}

TEST(ConsoleSessions, SessionIsFoundUntilItsTtlThenGone) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  SessionStore store(clock, seconds(60), 10);
  auto s = store.create(alice());
  ASSERT_TRUE(s);
  EXPECT_GE(s->id.size(), 43u);
  EXPECT_NE(s->id, s->csrf_token);
  ASSERT_TRUE(store.find(s->id));
  EXPECT_EQ(store.find(s->id)->who.subject, "alice");
  clock.advance(seconds(61));
  EXPECT_FALSE(store.find(s->id));
}

TEST(ConsoleSessions, SessionEndsWithTheAccessTokenWhenThatIsSooner) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  SessionStore store(clock, seconds(3600), 10);
  auto who = alice();
  who.expires_at = clock.now() + seconds(30);
  auto s = store.create(who);
  ASSERT_TRUE(s);
  clock.advance(seconds(31));
  EXPECT_FALSE(store.find(s->id));
}

TEST(ConsoleSessions, SignOutRemovesTheSession) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  SessionStore store(clock, seconds(60), 10);
  auto s = store.create(alice());
  ASSERT_TRUE(s);
  EXPECT_TRUE(store.remove(s->id));
  EXPECT_FALSE(store.find(s->id));
  EXPECT_FALSE(store.remove(s->id));
  EXPECT_FALSE(store.find(""));
}

TEST(ConsoleSessions, FullStoreRefusesTheNextSessionButReclaimsExpiredOnes) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  SessionStore store(clock, seconds(60), 2);
  ASSERT_TRUE(store.create(alice()));
  ASSERT_TRUE(store.create(alice()));
  auto refused = store.create(alice());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
  clock.advance(seconds(61));
  EXPECT_TRUE(store.create(alice()));
  EXPECT_EQ(store.size(), 1u);
}

TEST(ConsoleSessions, PendingLoginIsTakenOnlyOnce) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  LoginStore logins(clock, seconds(600), 10);
  auto p = logins.begin();
  ASSERT_TRUE(p);
  EXPECT_NE(p->state, p->nonce);
  auto taken = logins.take(p->state);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->code_verifier, p->code_verifier);
  EXPECT_FALSE(logins.take(p->state));
  EXPECT_FALSE(logins.take("unknown"));
}

TEST(ConsoleSessions, ExpiredPendingLoginIsRefused) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  LoginStore logins(clock, seconds(600), 10);
  auto p = logins.begin();
  ASSERT_TRUE(p);
  clock.advance(seconds(601));
  EXPECT_FALSE(logins.take(p->state));
}

TEST(ConsoleSessions, TooManyPendingLoginsAreRefused) {
  auto clock = ManualClock::atUnix(1'800'000'000);
  LoginStore logins(clock, seconds(600), 1);
  ASSERT_TRUE(logins.begin());
  EXPECT_FALSE(logins.begin());
}

}  // namespace
}  // namespace jg::console
