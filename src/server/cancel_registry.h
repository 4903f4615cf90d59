// CancelRegistry: the BackendKeyData jitgate hands to each client, mapped to the upstream
// backend that a CancelRequest must reach. Keys are random; lookups compare the secret in
// constant time. Thread-safe (sessions on all I/O threads register and look up).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/upstream.h"

namespace jg::server {

class CancelRegistry {
 public:
  // Registers a target and returns the key to give the client.
  pg::BackendKeyData add(CancelTarget target);
  void remove(int32_t process_id);
  std::optional<CancelTarget> lookup(int32_t process_id, int32_t secret_key) const;
  // The target of `process_id` when `matches` accepts its secret (a cancel relayed by another
  // replica names a digest of the secret, not the secret).
  std::optional<CancelTarget> lookupIf(int32_t process_id,
                                       const std::function<bool(int32_t)>& matches) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<int32_t, std::pair<int32_t, CancelTarget>> entries_;
};

}  // namespace jg::server
