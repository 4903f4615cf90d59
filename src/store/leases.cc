#include "store/leases.h"

namespace jg::store {

const std::vector<Migration>& leaseMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "leases and heartbeats of gateway replicas",
       {"CREATE TABLE store_leases (task TEXT PRIMARY KEY, holder TEXT NOT NULL, "
        "until_us BIGINT NOT NULL)",
        "CREATE TABLE store_replicas (instance TEXT PRIMARY KEY, beat_us BIGINT NOT NULL)"}},
  };
  return kMigrations;
}

Status beat(Store& store, std::string_view instance, UnixMicros now) {
  return store.transaction([&](Tx& tx) {
    return tx.exec(
        "INSERT INTO store_replicas (instance, beat_us) VALUES (?, ?) ON CONFLICT (instance) DO "
        "UPDATE SET beat_us = excluded.beat_us",
        {std::string(instance), Value{now}});
  });
}

namespace {

Result<std::set<std::string>> instancesWhere(Store& store, std::string_view sql,
                                             const std::vector<Value>& params) {
  std::set<std::string> out;
  Status st = store.query(sql, params, [&](const Row& row) {
    out.insert(asString(row.at(0)));
    return true;
  });
  if (!st) {
    return st;
  }
  return out;
}

}  // namespace

Result<std::set<std::string>> liveInstances(Store& store, UnixMicros now,
                                            std::chrono::microseconds max_age) {
  return instancesWhere(store, "SELECT instance FROM store_replicas WHERE beat_us >= ?",
                        {Value{now - max_age.count()}});
}

Result<std::set<std::string>> knownInstances(Store& store) {
  return instancesWhere(store, "SELECT instance FROM store_replicas", {});
}

Result<bool> tryLease(Store& store, std::string_view task, std::string_view holder, UnixMicros now,
                      std::chrono::microseconds ttl) {
  bool held = false;
  Status st = store.transaction([&](Tx& tx) {
    // Taken when free, renewed by its holder, or taken over once the holder's lease ran out.
    Status s = tx.exec(
        "INSERT INTO store_leases (task, holder, until_us) VALUES (?, ?, ?) ON CONFLICT (task) "
        "DO UPDATE SET holder = excluded.holder, until_us = excluded.until_us "
        "WHERE store_leases.holder = excluded.holder OR store_leases.until_us < ?",
        {std::string(task), std::string(holder), Value{now + ttl.count()}, Value{now}});
    held = s && tx.changes() == 1;
    return s;
  });
  if (!st) {
    return st;
  }
  return held;
}

Status releaseLease(Store& store, std::string_view task, std::string_view holder) {
  return store.transaction([&](Tx& tx) {
    return tx.exec("DELETE FROM store_leases WHERE task = ? AND holder = ?",
                   {std::string(task), std::string(holder)});
  });
}

}  // namespace jg::store
