#include "console/sessions.h"

#include <algorithm>

#include "console/web.h"

namespace jg::console {

Result<Session> SessionStore::create(identity::Identity who) {
  const auto now = clock_.now();
  Session s;
  s.id = randomToken(32);
  s.csrf_token = randomToken(32);
  s.expires_at = now + ttl_;
  if (who.expires_at != std::chrono::system_clock::time_point{}) {
    s.expires_at = std::min(s.expires_at, who.expires_at);
  }
  s.who = std::move(who);
  std::lock_guard lk(mu_);
  if (sessions_.size() >= max_) {
    dropExpired();
  }
  if (sessions_.size() >= max_) {
    return Status::error(Code::kResourceExhausted,
                         "too many console sessions are signed in; try again later");
  }
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> SessionStore::find(const std::string& id) const {
  if (id.empty()) {
    return std::nullopt;
  }
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.expires_at <= clock_.now()) {
    return std::nullopt;
  }
  return it->second;
}

bool SessionStore::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  return sessions_.erase(id) > 0;
}

size_t SessionStore::size() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

void SessionStore::dropExpired() {
  const auto now = clock_.now();
  std::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires_at <= now; });
}

Result<PendingLogin> LoginStore::begin() {
  const auto now = clock_.now();
  PendingLogin p{.state = randomToken(24),
                 .nonce = randomToken(24),
                 .code_verifier = randomToken(48),
                 .expires_at = now + ttl_};
  std::lock_guard lk(mu_);
  if (pending_.size() >= max_) {
    std::erase_if(pending_, [now](const auto& kv) { return kv.second.expires_at <= now; });
  }
  if (pending_.size() >= max_) {
    return Status::error(Code::kResourceExhausted,
                         "too many console sign-ins are in progress; try again later");
  }
  pending_[p.state] = p;
  return p;
}

std::optional<PendingLogin> LoginStore::take(const std::string& state) {
  std::lock_guard lk(mu_);
  auto it = pending_.find(state);
  if (it == pending_.end()) {
    return std::nullopt;
  }
  PendingLogin p = std::move(it->second);
  pending_.erase(it);
  if (p.expires_at <= clock_.now()) {
    return std::nullopt;
  }
  return p;
}

}  // namespace jg::console
