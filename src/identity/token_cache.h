// TokenCache: identities of already-verified tokens, keyed by the SHA-256 of the token, so a
// client reconnecting with the same token costs a hash and a lookup, not a signature check.
//
// Entries carry the instant until which the token's claims pass (expiry or maximum age, with the
// skew); lookups past it miss. Bounded: when full, the oldest insertions are dropped first. Only
// hashes are stored, never tokens. Thread-safe (one mutex; lookups are short).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "identity/identity.h"

namespace jg::identity {

class TokenCache {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // A capacity of 0 disables caching.
  explicit TokenCache(size_t capacity) : capacity_(capacity) {}

  // `key` is the raw SHA-256 of the token.
  std::optional<Identity> find(const std::string& key, TimePoint now) const;
  void insert(const std::string& key, const Identity& identity, TimePoint valid_until);
  size_t size() const;

 private:
  struct Entry {
    Identity identity;
    TimePoint valid_until;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // insertion order, for eviction
};

}  // namespace jg::identity
