#include "server/chain_check.h"

#include "audit/anchor.h"
#include "audit/crypto.h"
#include "audit/verify_replicas.h"
#include "core/clock.h"
#include "core/log.h"

namespace jg::server {

namespace json = boost::json;

ChainCheck::ChainCheck(TargetSource target, store::Store* store, std::chrono::milliseconds interval)
    : target_(std::move(target)), store_(store), interval_(interval) {
  last_ = {{"state", "pending"}};
  thread_ = std::thread([this] { run(); });
}

ChainCheck::~ChainCheck() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool ChainCheck::request() {
  std::lock_guard lock(mu_);
  if (running_ || asked_) {
    return false;
  }
  asked_ = true;
  cv_.notify_all();
  return true;
}

json::object ChainCheck::status() const {
  std::lock_guard lock(mu_);
  json::object out = last_;
  if (running_ || (asked_ && out["state"] != "pending")) {
    out["state"] = "running";  // asked for or under way: the fields are the previous result's
  }
  return out;
}

void ChainCheck::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    auto asked = [this] { return stop_ || asked_; };
    if (interval_.count() > 0) {
      cv_.wait_for(lock, interval_, asked);
    } else {
      cv_.wait(lock, asked);
    }
    if (stop_) {
      return;
    }
    asked_ = false;
    running_ = true;
    lock.unlock();
    std::optional<Target> t = target_();
    json::object report =
        t ? verifyOnce(*t) : json::object{{"state", "failed"}, {"error", "recording is off"}};
    lock.lock();
    running_ = false;
    last_ = std::move(report);
  }
}

json::object ChainCheck::verifyOnce(const Target& t) const {
  const auto started = std::chrono::system_clock::now();
  const auto t0 = std::chrono::steady_clock::now();
  json::object out{{"started_at", formatUtc(started)}};
  auto fail = [&](const std::string& why) {
    out["state"] = "failed";
    out["error"] = why;
    out["finished_at"] = formatUtc(std::chrono::system_clock::now());
    log::warn("", "audit chain check: {}", why);
    return out;
  };
  auto key = audit::PublicKey::loadPem(t.signing_key_file);
  if (!key) {
    return fail("the verification key cannot be loaded: " + key.status().message());
  }
  audit::KeyRing keys;
  keys.add(std::move(*key));
  audit::VerifyOptions opts;
  opts.live = true;
  opts.only = {t.instance};
  if (store_ != nullptr) {
    auto anchors = audit::loadAnchors(*store_);
    if (!anchors) {
      return fail("the anchors cannot be read from the store: " + anchors.status().message());
    }
    opts.anchors = std::move(*anchors);
    opts.anchors_given = true;
  }
  audit::ReplicasReport r = audit::verifyReplicas({t.dir}, keys, opts);
  for (auto& [k, v] : audit::toJson(r)) {
    out[k] = v;
  }
  out["state"] = r.ok() ? "ok" : "failed";
  out["anchors_checked"] = opts.anchors_given;
  out["finished_at"] = formatUtc(std::chrono::system_clock::now());
  out["duration_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (const auto* bad = r.firstNotIntact(); bad != nullptr) {
    log::warn("", "audit chain check FAILED: {}",
              bad->problem ? bad->problem->describe() : "not checked");
  }
  return out;
}

}  // namespace jg::server
