// CancelRelay: PostgreSQL CancelRequests across gateway replicas on one PostgreSQL store.
//
// A client cancels on a new connection, which a load balancer may send to another replica than
// the one holding its session. A replica that gets a CancelRequest for a key it did not hand out
// publishes a "cancel" store event (Store::publish); every replica hears it (Store::follow), and
// the one whose CancelRegistry holds that process id with that secret sends the cancel to the
// upstream backend it recorded — never to another backend. The event names the process id and
// a digest of the secret, never the secret itself.
//
// Forwarding is rate-limited (kForwardsPerSecond): a flood of CancelRequests with made-up keys
// must not become a flood of store writes. Thread-safe; forward() blocks (a store transaction):
// call it from the blocking pool. Owned by the Gateway; it must outlive the I/O contexts' work.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/cancel_registry.h"
#include "store/store.h"

namespace jg::server {

class CancelRelay {
 public:
  static constexpr std::string_view kKind = "cancel";
  static constexpr int kForwardsPerSecond = 50;

  // `store` and `registry` must outlive the relay; cancels run on `executor`.
  CancelRelay(store::Store& store, CancelRegistry& registry, boost::asio::any_io_executor executor);
  ~CancelRelay();

  // Follows the store's events. A store without events (SQLite) has no feed: ok, a no-op.
  [[nodiscard]] Status start();
  bool active() const { return feed_ != nullptr; }

  // Publishes a cancel for another replica. kResourceExhausted when over the rate limit.
  [[nodiscard]] Status forward(int32_t process_id, int32_t secret_key);

  // The event's ref: "<process id>:<hex digest of process id and secret>".
  static std::string ref(int32_t process_id, int32_t secret_key);

 private:
  void onEvent(const store::StoreEvent& e);
  bool admit();

  store::Store& store_;
  CancelRegistry& registry_;
  boost::asio::any_io_executor executor_;
  std::unique_ptr<store::EventFeed> feed_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_;
  int in_window_ = 0;
};

}  // namespace jg::server
