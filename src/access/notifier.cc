#include "access/notifier.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>

#include "access/json.h"
#include "core/log.h"
#include "core/random.h"
#include "net/http.h"

namespace jg::access {
namespace {

namespace json = boost::json;

class HttpTransport final : public WebhookTransport {
 public:
  Result<int> post(const std::string& url,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body, std::chrono::milliseconds timeout) override {
    net::HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = body;
    auto res = http_.send(req, timeout);
    if (!res) {
      return res.status();
    }
    return res->status;
  }

 private:
  net::HttpClient http_;
};

bool subscribed(const WebhookSettings& w, std::string_view event) {
  return w.events.empty() || std::find(w.events.begin(), w.events.end(), event) != w.events.end();
}

bool retryable(const Result<int>& r) {
  return !r || *r == 429 || *r >= 500;
}

// Slack mrkdwn needs &, < and > escaped.
std::string slackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  }
  return out;
}

}  // namespace

std::shared_ptr<WebhookTransport> makeHttpTransport() {
  return std::make_shared<HttpTransport>();
}

std::string genericBody(const AccessEvent& e, const std::string& delivery_id) {
  json::object o = toJson(e);
  o["delivery"] = delivery_id;
  return json::serialize(o);
}

std::string slackBody(const AccessEvent& e, const std::string& public_url) {
  std::string text = slackEscape(summary(e));
  std::string detail;
  if (e.review) {
    const Review& r = *e.review;
    detail = "*Review* `" + r.id + "` · *state* " + std::string(stateName(r.state)) +
             " · *approvers* " + std::to_string(r.approvals()) + "/" +
             std::to_string(r.approver_count);
    if (r.state == ReviewState::kPending) {
      detail += "\nApprove with `jitgate review approve " + r.id + "`";
      if (!public_url.empty()) {
        detail += " or at <" + public_url + "|" + slackEscape(public_url) + ">";
      }
    }
  } else if (e.grant) {
    detail = "*Grant* `" + e.grant->id + "` · *until* " + formatUtc(e.grant->expires_at);
  }
  json::array blocks;
  blocks.push_back(json::object{{"type", "section"},
                                {"text", json::object{{"type", "mrkdwn"}, {"text", text}}}});
  if (!detail.empty()) {
    blocks.push_back(json::object{
        {"type", "context"},
        {"elements", json::array{json::object{{"type", "mrkdwn"}, {"text", detail}}}}});
  }
  return json::serialize(json::object{{"text", text}, {"blocks", std::move(blocks)}});
}

std::string signature(const std::string& secret, const std::string& timestamp,
                      const std::string& body) {
  const std::string data = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return "sha256=" + toHex(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Notifier::Notifier(NotifierOptions options) : options_(std::move(options)) {
  if (!options_.transport) {
    options_.transport = makeHttpTransport();
  }
  if (!options_.webhooks.empty()) {
    worker_ = std::thread([this] { run(); });
  }
}

Notifier::~Notifier() {
  stop();
}

void Notifier::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
}

void Notifier::notify(const AccessEvent& e) {
  const std::string_view name = eventName(e.type);
  std::vector<Delivery> add;
  for (size_t i = 0; i < options_.webhooks.size(); ++i) {
    const auto& hook = options_.webhooks[i];
    if (!subscribed(hook, name)) {
      continue;
    }
    Delivery d;
    d.hook = i;
    d.id = "d-" + randomId(16);
    d.event = std::string(name);
    d.body = hook.format == WebhookSettings::Format::kSlack ? slackBody(e, options_.public_url)
                                                            : genericBody(e, d.id);
    d.due = std::chrono::steady_clock::now();
    add.push_back(std::move(d));
  }
  if (add.empty()) {
    return;
  }
  {
    std::lock_guard lk(mu_);
    if (stopping_) {
      return;
    }
    for (auto& d : add) {
      if (queue_.size() >= options_.max_queue) {
        log::warn("", "webhook queue full ({}): dropping delivery {} ({})", options_.max_queue,
                  queue_.front().id, queue_.front().event);
        queue_.pop_front();
        ++stats_.dropped;
      }
      queue_.push_back(std::move(d));
    }
  }
  cv_.notify_all();
}

NotifierStats Notifier::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

bool Notifier::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return queue_.empty() && !busy_; });
}

// Sends one attempt; true when the delivery is finished (delivered or given up).
bool Notifier::attempt(Delivery& d) {
  const auto& hook = options_.webhooks[d.hook];
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"},
                                                              {"X-Jitgate-Event", d.event},
                                                              {"X-Jitgate-Delivery", d.id}};
  if (!hook.secret.empty()) {
    const std::string ts = std::to_string(options_.clock->nowUnixSeconds());
    headers.emplace_back("X-Jitgate-Timestamp", ts);
    headers.emplace_back("X-Jitgate-Signature", signature(hook.secret, ts, d.body));
  }
  ++d.attempts;
  auto res = options_.transport->post(hook.url, headers, d.body, hook.timeout);
  std::lock_guard lk(mu_);
  if (res && *res >= 200 && *res < 300) {
    ++stats_.delivered;
    return true;
  }
  const std::string why = res ? "HTTP " + std::to_string(*res) : res.status().message();
  if (!retryable(res) || d.attempts >= hook.max_attempts) {
    ++stats_.failed;
    log::warn("", "webhook {}: giving up on delivery {} ({}) after {} attempts: {}", hook.url, d.id,
              d.event, d.attempts, why);
    return true;
  }
  ++stats_.retried;
  auto backoff = options_.initial_backoff * (1LL << std::min(d.attempts - 1, 20));
  d.due = std::chrono::steady_clock::now() +
          std::min<std::chrono::milliseconds>(backoff, options_.max_backoff);
  log::debug("", "webhook {}: delivery {} failed ({}), retrying", hook.url, d.id, why);
  return false;
}

void Notifier::run() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      continue;
    }
    auto next = std::min_element(queue_.begin(), queue_.end(),
                                 [](const auto& a, const auto& b) { return a.due < b.due; });
    if (next->due > std::chrono::steady_clock::now()) {
      const auto due = next->due;
      cv_.wait_until(lk, due);
      continue;
    }
    Delivery d = std::move(*next);
    queue_.erase(next);
    busy_ = true;
    lk.unlock();
    const bool done = attempt(d);
    lk.lock();
    busy_ = false;
    if (!done && !stopping_) {
      queue_.push_back(std::move(d));
    }
    cv_.notify_all();
  }
}

}  // namespace jg::access
