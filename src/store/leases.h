// Coordination of gateway replicas through the state store: heartbeats (which replicas are
// alive) and leases (which replica runs a piece of background work now).
//
// A replica calls beat() every few seconds; liveInstances() names the replicas whose last beat
// is recent. tryLease(task) makes this replica the holder of `task` until `ttl` from now when
// nobody holds it or the holder's lease has run out (it died mid-task, or stopped renewing):
// exactly one replica at a time holds a task, and a dead holder's task passes to another within
// one ttl. The holder renews by calling tryLease again before the ttl ends.
//
// Plain rows in the common SQL subset (tables store_leases and store_replicas, component
// "store_leases"), so SQLite and PostgreSQL behave alike. Every call blocks (a store
// transaction): call from a worker thread.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace jg::store {

// The migrations of the store component "store_leases".
const std::vector<Migration>& leaseMigrations();

using UnixMicros = int64_t;

// Records that `instance` is alive at `now`.
[[nodiscard]] Status beat(Store& store, std::string_view instance, UnixMicros now);

// The instances whose last beat is no older than `max_age` at `now`.
[[nodiscard]] Result<std::set<std::string>> liveInstances(Store& store, UnixMicros now,
                                                          std::chrono::microseconds max_age);

// The instances that have beaten at some time (alive or not).
[[nodiscard]] Result<std::set<std::string>> knownInstances(Store& store);

// True when `holder` holds `task` until now + ttl after the call (taken or renewed); false when
// another holder's lease is still running.
[[nodiscard]] Result<bool> tryLease(Store& store, std::string_view task, std::string_view holder,
                                    UnixMicros now, std::chrono::microseconds ttl);

// Gives `task` up at once when `holder` holds it (a clean stop), so another replica takes it on
// its next try instead of after the ttl.
[[nodiscard]] Status releaseLease(Store& store, std::string_view task, std::string_view holder);

}  // namespace jg::store
