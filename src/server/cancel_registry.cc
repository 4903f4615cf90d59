#include "server/cancel_registry.h"

#include "core/random.h"

namespace jg::server {

pg::BackendKeyData CancelRegistry::add(CancelTarget target) {
  std::lock_guard lock(mu_);
  for (;;) {
    // Positive, non-zero process ids: clients print them and some treat <= 0 as absent.
    auto pid = static_cast<int32_t>(randomU32() & 0x7fffffff);
    if (pid == 0 || entries_.count(pid) != 0) {
      continue;
    }
    auto key = static_cast<int32_t>(randomU32());
    entries_.emplace(pid, std::make_pair(key, std::move(target)));
    return pg::BackendKeyData{pid, key};
  }
}

void CancelRegistry::remove(int32_t process_id) {
  std::lock_guard lock(mu_);
  entries_.erase(process_id);
}

std::optional<CancelTarget> CancelRegistry::lookup(int32_t process_id, int32_t secret_key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(process_id);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  // Constant-time comparison of the secret.
  uint32_t diff = static_cast<uint32_t>(it->second.first) ^ static_cast<uint32_t>(secret_key);
  if (diff != 0) {
    return std::nullopt;
  }
  return it->second.second;
}

std::optional<CancelTarget> CancelRegistry::lookupIf(
    int32_t process_id, const std::function<bool(int32_t)>& matches) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(process_id);
  if (it == entries_.end() || !matches(it->second.first)) {
    return std::nullopt;
  }
  return it->second.second;
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace jg::server
