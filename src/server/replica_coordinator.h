// ReplicaCoordinator: this gateway's part in coordinating the replicas on one state store
// (store/leases.h). Its thread records a heartbeat for the gateway's `instance` every
// `heartbeat`. deadInstances(), asked by the credential reaper before each pass, names the
// instances whose last beat is older than `dead_after`, but only while this replica holds the
// "reap-orphans" lease: exactly one replica at a time reaps the session roles that a dead replica
// left, and when the holder dies its lease (ttl: twice the reap interval plus `dead_after`)
// passes to a surviving replica. A replica cut off from the store cannot beat; after
// `dead_after` the others reap its roles, which ends its sessions — it fails /readyz meanwhile,
// so a load balancer has already stopped sending it clients.
//
// expiryTurn(), asked by the access broker's sweeper before each pass, answers whether this
// replica holds the "expire-access" lease (taking or renewing it): exactly one replica at a time
// expires pending reviews and grants, and a dead holder's lease (ttl: twice the sweep interval
// plus `dead_after`) passes to a surviving replica.
//
// Thread-safe. The destructor stops the thread and releases both leases. Store calls block: they
// run on the coordinator's thread, the reaper's or the sweeper's, never on an I/O thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"
#include "server/config.h"
#include "store/store.h"

namespace jg::server {

class ReplicaCoordinator {
 public:
  static constexpr std::string_view kReapTask = "reap-orphans";
  static constexpr std::string_view kExpireTask = "expire-access";

  // Migrates the lease tables, records a first beat and starts the heartbeat thread.
  static Result<std::unique_ptr<ReplicaCoordinator>> start(store::Store& store,
                                                           std::string instance,
                                                           ReplicasConfig config);
  ~ReplicaCoordinator();
  ReplicaCoordinator(const ReplicaCoordinator&) = delete;
  ReplicaCoordinator& operator=(const ReplicaCoordinator&) = delete;

  // The instances gone for longer than dead_after while this replica holds the reap lease;
  // empty otherwise (or when the store cannot be read: never reap on a guess).
  std::set<std::string> deadInstances();

  // True when this replica holds the expiry lease now (taken or renewed by this call, for twice
  // `sweep_interval` plus dead_after); false when another replica holds it or the store cannot
  // be reached (never expire on a guess: the holder, or this replica later, does it).
  bool expiryTurn(std::chrono::milliseconds sweep_interval);

 private:
  ReplicaCoordinator(store::Store& store, std::string instance, ReplicasConfig config);
  void run();

  store::Store& store_;
  const std::string instance_;
  const ReplicasConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool beat_failed_ = false;  // the last beat failed (logged once per outage)
  bool expiry_held_ = false;  // the last expiryTurn() answer (a change is logged)
  std::thread thread_;
};

}  // namespace jg::server
