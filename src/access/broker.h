// Broker: the just-in-time access service of one gateway — reviews, approvals, grants — over the
// state store, with the live parts the server needs: waiting for a decision, and being told the
// moment a grant ends.
//
// One Broker per gateway process, shared by every session and by the admin API (shared_ptr).
// All state lives in the store (Repository), so several replicas sharing a database share
// reviews and grants; decisions taken here wake local waiters and watchers at once. Decisions
// and revocations taken by another replica arrive as store events (Store::follow(): LISTEN/NOTIFY
// on PostgreSQL) within milliseconds; the Broker re-reads the review or grant and wakes its
// waiters or ends its watchers exactly as a local decision would (an event for something already
// finished here changes nothing, so a local decision coming back is harmless). While the feed is
// not live, and every kRemotePollFallback even when it is, the sweeper also polls the store for
// the reviews and grants it waits on.
//
// A timer thread (the sweeper) expires pending reviews and grants, times out waiters, and ends
// watched grants at their window's end (it wakes up at the earliest deadline it knows of). With
// several replicas on one store, only the replica whose turn it is (BrokerOptions::expiry_turn:
// the holder of the "expire-access" lease) expires reviews and grants in its passes; the others
// learn of each expiry as a store event, like any other decision. A grant watched here that is
// already past its window when the watch starts is expired at once, whoever's turn it is. Tests
// pass `start_sweeper = false` and a ManualClock, and call sweep() themselves.
//
// Events (review created, each approval, approved, rejected, expired; grant created, expired,
// revoked; statement approval used) go to the audit sink and to the notifier after the store
// transaction committed. Both sinks must return quickly (queue and return): the Broker calls
// them on the thread that caused the event. No Broker lock is held while a sink, a waiter or a
// watcher callback runs, so callbacks may call back into the Broker.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "access/repository.h"
#include "access/settings.h"
#include "access/types.h"
#include "core/clock.h"
#include "identity/identity.h"
#include "store/store.h"

namespace jg::access {

using EventSink = std::function<void(const AccessEvent&)>;
// Called once with the final state (approved, rejected, expired, revoked), or with kPending and
// a reason when the wait timed out or the store failed.
using DecisionCallback = std::function<void(ReviewState state, std::string reason)>;
using GrantEndCallback = std::function<void(std::string why)>;

struct BrokerOptions {
  Settings settings;
  const Clock* clock = &Clock::system();  // must outlive the Broker
  EventSink audit;                        // may be empty
  EventSink notify;                       // may be empty (webhooks: Notifier::sink())
  bool start_sweeper = true;
  bool follow_store_events = true;  // hear other replicas' decisions (no-op on SQLite)
  // Asked before each sweeper pass: true when this replica is to expire pending reviews and
  // grants now (it holds the replicas' expiry lease). Empty: always (one process, SQLite, tests).
  // Called on the sweeper's thread, or on the caller's for sweep(); must stay callable until
  // stop() has returned, and may block on the store (it never runs on an I/O thread).
  std::function<bool()> expiry_turn;
};

// With a live event feed the sweeper still polls the store this often, as a safety net.
inline constexpr std::chrono::seconds kRemotePollFallback{30};

// A pending wait. Destroying it does not cancel: call cancel() (client cancel, disconnect).
class Waiter {
 public:
  struct State;
  explicit Waiter(std::shared_ptr<State> s) : s_(std::move(s)) {}
  // Returns true when the callback will never run; false when it already ran or is running.
  bool cancel();

 private:
  std::shared_ptr<State> s_;
};

// Keeps a grant watch alive; the watch ends when the Subscription is destroyed or reset().
class Subscription {
 public:
  struct State;
  Subscription() = default;
  explicit Subscription(std::shared_ptr<State> s) : s_(std::move(s)) {}
  Subscription(Subscription&&) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept;
  ~Subscription() { reset(); }
  void reset();
  bool active() const { return s_ != nullptr; }

 private:
  std::shared_ptr<State> s_;
};

class Broker : public std::enable_shared_from_this<Broker> {
 public:
  // Migrates the store's "access" tables. `store` must outlive the Broker.
  static Result<std::shared_ptr<Broker>> create(store::Store& store, BrokerOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Stops the sweeper; pending waiters are left as they are. Idempotent.
  void stop();

  // -- data path ------------------------------------------------------------------------------
  // Session scope: an active grant for (identity, resource, role); an empty role matches any.
  // A store failure reads as "no grant" (fail closed) and is logged.
  std::optional<Grant> activeGrant(const identity::Identity& who, std::string_view resource,
                                   std::string_view role);
  // Every active grant of `who` on `resource` (their rule ids are the policy's `granted`).
  std::vector<Grant> activeGrants(const identity::Identity& who, std::string_view resource);
  // Statement scope: atomically consumes a one-time approval for exactly this statement (same
  // fingerprint and parameter hash). Returns the approved review's id, or nullopt.
  std::optional<std::string> consumeStatementApproval(const identity::Identity& who,
                                                      std::string_view resource,
                                                      std::string_view fingerprint,
                                                      std::string_view params_hash);
  // Creates a pending review, or returns the pending one for the same request.
  Result<Review> createReview(const ReviewRequest& request);
  // Calls `done` once when review `id` is decided or expires, or after `timeout` with kPending.
  // `done` runs on an arbitrary thread — synchronously inside this call when the review is
  // already decided or unknown.
  std::shared_ptr<Waiter> waitForDecision(const std::string& id, std::chrono::milliseconds timeout,
                                          DecisionCallback done);
  // Calls `on_end` once when the grant is revoked or its window ends — synchronously inside this
  // call when it has already ended or does not exist. Keep the Subscription while the session
  // lives.
  [[nodiscard]] Subscription watchGrant(const std::string& grant_id, GrantEndCallback on_end);

  // -- approvers --------------------------------------------------------------------------------
  // Refusals: kNotFound; kPermissionDenied (own review, not in an approver group); conflict
  // (isConflict(): not pending, expired, already decided by this approver, lost a race).
  Result<Review> approve(const std::string& id, const identity::Identity& approver,
                         std::string comment);
  Result<Review> reject(const std::string& id, const identity::Identity& approver,
                        std::string comment);
  // Ends an active grant now and every session watching it. Allowed to the grantee and to the
  // grant's approver groups.
  Result<Grant> revokeGrant(const std::string& grant_id, const identity::Identity& by,
                            std::string reason);

  Result<std::optional<Review>> review(const std::string& id);
  Result<std::optional<Grant>> grant(const std::string& id);
  Result<std::vector<Review>> listReviews(const ReviewFilter& filter);
  Result<std::vector<Grant>> listGrants(const GrantFilter& filter);

  // What to tell a client waiting on (or refused for) `review_id`.
  std::string approvalHint(const std::string& review_id) const;
  const Settings& settings() const { return options_.settings; }

  // One sweeper pass: expiries (when expiry_turn allows), waiter timeouts, decisions and
  // revocations made elsewhere.
  void sweep();

 private:
  Broker(std::unique_ptr<Repository> repo, BrokerOptions options);
  Result<Review> decide(const std::string& id, const identity::Identity& who, bool approve,
                        std::string comment);
  void emit(AccessEvent event);
  void finishWaiters(const std::string& review_id, ReviewState state, const std::string& reason);
  void endGrant(const std::string& grant_id, const std::string& why);
  void pollRemoteChanges();
  void onStoreEvent(const store::StoreEvent& e);
  bool isWaitedOn(const std::string& review_id);
  bool isWatched(const std::string& grant_id);
  void sweepPass(bool poll_remote);
  void expireDue(TimePoint t);
  void timeoutWaiters(TimePoint now);
  std::chrono::milliseconds nextWait(TimePoint t) const;
  void sweeperLoop();
  void wakeSweeper();
  TimePoint now() const { return options_.clock->now(); }

  friend class Waiter;
  friend class Subscription;

  std::unique_ptr<Repository> repo_;
  BrokerOptions options_;

  std::mutex mu_;  // guards the maps below, and the sweeper state
  std::map<std::string, std::vector<std::shared_ptr<Waiter::State>>> waiters_;
  std::map<std::string, std::vector<std::shared_ptr<Subscription::State>>> watchers_;
  std::map<std::string, TimePoint> watched_expiry_;  // grant id → window end
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  std::thread sweeper_;
  // Set in create(), destroyed in stop() after the sweeper is joined; its handler uses `this`.
  std::unique_ptr<store::EventFeed> feed_;
  std::chrono::steady_clock::time_point last_remote_poll_{};  // sweeper thread only
  // Whether the last pass was this replica's turn to expire; when it was not, the sweeper does
  // not wake for watched grants already past their window (the holder's expiry ends them).
  std::atomic<bool> expiry_turn_{true};
};

// "approved by alice@x, bob@y", "rejected by carol@x: not during the freeze", ...
std::string describeDecision(const Review& r);

}  // namespace jg::access
