#include "access/notifier.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "access/test_util.h"

namespace jg::access {
namespace {

using namespace std::chrono_literals;

struct Sent {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) {
        return v;
      }
    }
    return {};
  }
};

class FakeTransport final : public WebhookTransport {
 public:
  Result<int> post(const std::string& url,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body, std::chrono::milliseconds) override {
    std::lock_guard lk(mu_);
    sent_.push_back(Sent{url, headers, body});
    if (!answers_.empty()) {
      auto a = answers_.front();
      answers_.erase(answers_.begin());
      if (a < 0) {
        return Status::error(Code::kUnavailable, "connection refused");
      }
      return a;
    }
    return 200;
  }
  void answer(std::vector<int> a) { answers_ = std::move(a); }
  std::vector<Sent> sent() {
    std::lock_guard lk(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<int> answers_;  // -1: transport error
  std::vector<Sent> sent_;
};

AccessEvent createdEvent() {
  Review r;
  r.id = "r-abc";
  r.requester = Person::from(testing::person("alice"));
  r.resource = "kb";
  r.role = "reader";
  r.rule_id = "pii-review";
  r.reason = "incident <42> & co";
  r.approver_groups = {"data-owners"};
  r.grant_duration = 1h;
  return AccessEvent{AccessEvent::Type::kReviewCreated,
                     TimePoint(1'700'000'000s),
                     std::nullopt,
                     {},
                     r,
                     std::nullopt};
}

WebhookSettings hook(WebhookSettings::Format f = WebhookSettings::Format::kGeneric) {
  WebhookSettings w;
  w.url = "https://hooks.test/x";
  w.secret = "0123456789abcdef0123";
  w.format = f;
  w.max_attempts = 3;
  return w;
}

TEST(Notifier, SignsTheGenericBodyWithHmac) {
  auto t = std::make_shared<FakeTransport>();
  Notifier n(NotifierOptions{{hook()}, "", t, &Clock::system(), 1ms, 10ms, 100});
  n.notify(createdEvent());
  ASSERT_TRUE(n.drain(5s));
  auto sent = t->sent();
  ASSERT_EQ(sent.size(), 1u);
  const auto& s = sent[0];
  EXPECT_EQ(s.header("X-Jitgate-Event"), "review.created");
  EXPECT_EQ(s.header("X-Jitgate-Signature"),
            signature("0123456789abcdef0123", s.header("X-Jitgate-Timestamp"), s.body));
  auto v = boost::json::parse(s.body).as_object();
  EXPECT_EQ(v["event"].as_string(), "review.created");
  EXPECT_EQ(v["review"].as_object()["id"].as_string(), "r-abc");
  EXPECT_EQ(v["delivery"].as_string(), s.header("X-Jitgate-Delivery"));
}

TEST(Notifier, TheWebhookPayloadShowsTheClientAndTheWindowInHumanUnits) {
  AccessEvent e = createdEvent();
  e.review->client = ClientInfo{"203.0.113.7:51234", "rag-retriever"};
  e.review->grant_duration = 5400s;
  auto t = std::make_shared<FakeTransport>();
  Notifier n(NotifierOptions{{hook()}, "", t, &Clock::system(), 1ms, 10ms, 100});
  n.notify(e);
  ASSERT_TRUE(n.drain(5s));
  ASSERT_EQ(t->sent().size(), 1u);
  auto v = boost::json::parse(t->sent()[0].body).as_object();
  auto review = v["review"].as_object();
  EXPECT_EQ(review["client"].as_object()["address"].as_string(), "203.0.113.7:51234");
  EXPECT_EQ(review["client"].as_object()["application"].as_string(), "rag-retriever");
  EXPECT_EQ(review["grant_duration"].as_string(), "1h30m");
  EXPECT_EQ(review["grant_duration_seconds"].as_int64(), 5400);
  std::string summary(v["summary"].as_string());
  EXPECT_NE(summary.find("alice@example.com from 203.0.113.7:51234 (rag-retriever) asks for "
                         "access to kb as reader for 1h30m"),
            std::string::npos)
      << summary;
}

TEST(Notifier, KnownHmacVector) {
  // The signed data is timestamp + "." + body; expected value from
  // printf 'what do ya want for nothing.?' | openssl dgst -sha256 -hmac Jefe
  EXPECT_EQ(signature("Jefe", "what do ya want for nothing", "?"),
            "sha256=155919e0daf8bec124e0c77ab84649a9c91a9649077c7265f11c47b37dee5783");
}

TEST(Notifier, SlackBodyHasTextAndEscapes) {
  auto body = boost::json::parse(slackBody(createdEvent(), "https://jg.example/")).as_object();
  std::string text(body["text"].as_string());
  EXPECT_NE(text.find("alice@example.com asks for access to kb as reader for 1h"),
            std::string::npos);
  EXPECT_NE(text.find("&lt;42&gt; &amp; co"), std::string::npos);
  EXPECT_TRUE(body["blocks"].is_array());
}

TEST(Notifier, RetriesServerErrorsWithBackoffThenDelivers) {
  auto t = std::make_shared<FakeTransport>();
  t->answer({503, -1, 200});
  Notifier n(NotifierOptions{{hook()}, "", t, &Clock::system(), 1ms, 10ms, 100});
  n.notify(createdEvent());
  ASSERT_TRUE(n.drain(5s));
  auto sent = t->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].header("X-Jitgate-Delivery"), sent[2].header("X-Jitgate-Delivery"));
  EXPECT_EQ(n.stats().delivered, 1u);
  EXPECT_EQ(n.stats().retried, 2u);
}

TEST(Notifier, GivesUpAfterMaxAttemptsAndOnClientErrors) {
  auto t = std::make_shared<FakeTransport>();
  t->answer({500, 500, 500, 404});
  Notifier n(NotifierOptions{{hook()}, "", t, &Clock::system(), 1ms, 10ms, 100});
  n.notify(createdEvent());
  ASSERT_TRUE(n.drain(5s));
  n.notify(createdEvent());
  ASSERT_TRUE(n.drain(5s));
  EXPECT_EQ(t->sent().size(), 4u);
  EXPECT_EQ(n.stats().failed, 2u);
}

TEST(Notifier, OnlySubscribedEventsAreSent) {
  auto t = std::make_shared<FakeTransport>();
  auto h = hook();
  h.events = {"grant.revoked"};
  Notifier n(NotifierOptions{{h}, "", t, &Clock::system(), 1ms, 10ms, 100});
  n.notify(createdEvent());
  ASSERT_TRUE(n.drain(5s));
  EXPECT_TRUE(t->sent().empty());
}

}  // namespace
}  // namespace jg::access
