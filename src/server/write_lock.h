// WriteLock: an asynchronous mutex for the coroutines of one executor, without polling.
//
// The client pump writes notices while it holds a statement for approval; the server pump writes
// results. Their writes to the client must not interleave. A waiter sleeps on its own timer and
// is woken by unlock(), which hands the lock over directly (first come, first served).
#pragma once

#include <deque>
#include <memory>

#include "server/stream.h"

namespace jg::server {

class WriteLock {
 public:
  // True when the lock was free and is now held.
  bool tryLock() {
    if (held_) {
      return false;
    }
    held_ = true;
    return true;
  }
  asio::awaitable<void> lock() {
    if (tryLock()) {
      co_return;
    }
    auto ex = co_await asio::this_coro::executor;
    auto waiter = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    waiters_.push_back(waiter);
    co_await waiter->async_wait(kNoThrow);  // woken by unlock(), which passed the lock on
  }
  void unlock() {
    if (waiters_.empty()) {
      held_ = false;
      return;
    }
    waiters_.front()->cancel();
    waiters_.pop_front();
  }
  bool held() const { return held_; }

 private:
  bool held_ = false;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

}  // namespace jg::server
