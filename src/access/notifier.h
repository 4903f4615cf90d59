// Notifier: delivers access events to webhooks — a generic JSON body or a Slack-compatible one —
// signed with HMAC-SHA256, retried with exponential backoff, off the data path.
//
// notify() only queues (bounded; the oldest delivery is dropped with a warning when full) and
// returns; one worker thread sends. A delivery is retried on transport errors, 429 and 5xx, up
// to the webhook's max_attempts, waiting initial_backoff × 2^n (capped at max_backoff) between
// attempts; other 4xx answers are final. Deliveries to a slow hook do not delay others beyond
// the hook's timeout.
//
// Signature headers (when the webhook has a secret):
//   X-Jitgate-Timestamp: <unix seconds>
//   X-Jitgate-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// plus X-Jitgate-Event (event name) and X-Jitgate-Delivery (unique id, stable across retries).
//
// Thread-safe. stop() (or the destructor) stops after the attempt in flight; queued deliveries
// are dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "access/settings.h"
#include "access/types.h"
#include "core/clock.h"
#include "core/status.h"

namespace jg::access {

// Sends one POST; returns the HTTP status, or an error for transport failures.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  virtual Result<int> post(const std::string& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, std::chrono::milliseconds timeout) = 0;
};

// The production transport (net::HttpClient).
std::shared_ptr<WebhookTransport> makeHttpTransport();

// The bodies, exposed for tests and documentation.
std::string genericBody(const AccessEvent& e, const std::string& delivery_id);
std::string slackBody(const AccessEvent& e, const std::string& public_url);
// "sha256=<hex>" over timestamp + "." + body.
std::string signature(const std::string& secret, const std::string& timestamp,
                      const std::string& body);

struct NotifierOptions {
  std::vector<WebhookSettings> webhooks;
  std::string public_url;
  std::shared_ptr<WebhookTransport> transport;  // default: makeHttpTransport()
  const Clock* clock = &Clock::system();
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60'000};
  size_t max_queue = 1000;
};

struct NotifierStats {
  uint64_t delivered = 0;
  uint64_t retried = 0;
  uint64_t failed = 0;   // gave up
  uint64_t dropped = 0;  // queue full
};

class Notifier {
 public:
  explicit Notifier(NotifierOptions options);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues one delivery per webhook subscribed to the event. Never blocks on the network.
  void notify(const AccessEvent& e);
  void stop();
  NotifierStats stats() const;
  // Waits until nothing is queued or in flight (tests); false on timeout.
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct Delivery {
    size_t hook = 0;
    std::string id;
    std::string event;
    std::string body;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
  };
  void run();
  bool attempt(Delivery& d);

  NotifierOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  NotifierStats stats_;
  std::thread worker_;
};

}  // namespace jg::access
