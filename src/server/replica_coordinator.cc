#include "server/replica_coordinator.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>

#include "core/log.h"
#include "store/leases.h"

namespace jg::server {

namespace {

store::UnixMicros nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<ReplicaCoordinator>> ReplicaCoordinator::start(store::Store& store,
                                                                      std::string instance,
                                                                      ReplicasConfig config) {
  if (Status st = store.migrate("store_leases", store::leaseMigrations()); !st) {
    return st;
  }
  if (Status st = store::beat(store, instance, nowMicros()); !st) {
    return st;
  }
  std::unique_ptr<ReplicaCoordinator> c(new ReplicaCoordinator(store, std::move(instance), config));
  c->thread_ = std::thread([raw = c.get()] { raw->run(); });
  return c;
}

ReplicaCoordinator::ReplicaCoordinator(store::Store& store, std::string instance,
                                       ReplicasConfig config)
    : store_(store), instance_(std::move(instance)), config_(config) {}

ReplicaCoordinator::~ReplicaCoordinator() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  (void)store::releaseLease(store_, kReapTask, instance_);
  (void)store::releaseLease(store_, kExpireTask, instance_);
}

void ReplicaCoordinator::run() {
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, config_.heartbeat, [this] { return stopping_; })) {
    lk.unlock();
    Status st = store::beat(store_, instance_, nowMicros());
    lk.lock();
    if (!st && !beat_failed_) {
      log::warn("", "replica heartbeat to the store failed: {}", st.message());
    } else if (st && beat_failed_) {
      log::info("", "replica heartbeat to the store works again");
    }
    beat_failed_ = !st;
  }
}

std::set<std::string> ReplicaCoordinator::deadInstances() {
  using std::chrono::microseconds;
  const store::UnixMicros now = nowMicros();
  const auto ttl =
      std::chrono::duration_cast<microseconds>(2 * config_.reap_every + config_.dead_after);
  auto held = store::tryLease(store_, kReapTask, instance_, now, ttl);
  if (!held || !*held) {
    return {};
  }
  auto known = store::knownInstances(store_);
  auto live = store::liveInstances(store_, now,
                                   std::chrono::duration_cast<microseconds>(config_.dead_after));
  if (!known || !live) {
    return {};
  }
  std::set<std::string> dead;
  std::set_difference(known->begin(), known->end(), live->begin(), live->end(),
                      std::inserter(dead, dead.end()));
  dead.erase(instance_);
  if (!dead.empty()) {
    log::info("", "replicas without a heartbeat for {} ms: {}", config_.dead_after.count(),
              fmt::join(dead, ", "));
  }
  return dead;
}

bool ReplicaCoordinator::expiryTurn(std::chrono::milliseconds sweep_interval) {
  const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(2 * sweep_interval +
                                                                         config_.dead_after);
  auto held = store::tryLease(store_, kExpireTask, instance_, nowMicros(), ttl);
  const bool turn = held && *held;
  std::lock_guard lk(mu_);
  if (turn != expiry_held_) {
    if (turn) {
      log::info("", "this replica expires pending reviews and grants now (lease {})", kExpireTask);
    } else if (!held) {
      log::warn("", "cannot renew the lease {}: {}", kExpireTask, held.status().message());
    } else {
      log::info("", "another replica holds the lease {} now", kExpireTask);
    }
    expiry_held_ = turn;
  }
  return turn;
}

}  // namespace jg::server
