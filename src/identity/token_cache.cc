#include "identity/token_cache.h"

namespace jg::identity {

std::optional<Identity> TokenCache::find(const std::string& key, TimePoint now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now > it->second.valid_until) {
    return std::nullopt;
  }
  return it->second.identity;
}

void TokenCache::insert(const std::string& key, const Identity& identity, TimePoint valid_until) {
  if (capacity_ == 0) {
    return;
  }
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(key, Entry{identity, valid_until});
  if (!inserted) {
    it->second = Entry{identity, valid_until};
    return;
  }
  order_.push_back(key);
  while (entries_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

size_t TokenCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace jg::identity
