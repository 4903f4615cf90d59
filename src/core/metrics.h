// Process-wide metrics for GET /metrics (Prometheus text format): labelled counters and
// histograms that any module can bump from the data path.
//
// A CounterFamily keeps up to kSlots label sets in an open-addressed table; after a label set's
// first use, add() is a hash, a probe and a relaxed atomic increment: no lock, no allocation.
// The first use of a label set takes a mutex once. Label values must come from bounded sets
// (rule names, resource names, mask labels, enums), never users or SQL: past kSlots label sets,
// further ones are counted under the value "_other". A Histogram has fixed bucket bounds and
// atomic counts. Families are created once (static storage, see the accessors below) and live
// for the process. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jg::metrics {

class CounterFamily {
 public:
  static constexpr size_t kSlots = 512;

  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  CounterFamily(const CounterFamily&) = delete;
  CounterFamily& operator=(const CounterFamily&) = delete;

  // `values` has one value per label name, in order.
  void add(std::initializer_list<std::string_view> values, uint64_t n = 1);
  // The current count for `values` (0 when never counted); for tests.
  uint64_t value(std::initializer_list<std::string_view> values) const;
  // HELP, TYPE and one line per label set, sorted by label values.
  void render(std::string& out) const;

 private:
  struct Slot {
    std::atomic<bool> ready{false};
    uint64_t hash = 0;
    std::vector<std::string> values;
    std::atomic<uint64_t> count{0};
  };
  using Values = std::span<const std::string_view>;
  static uint64_t hashOf(Values values);
  static bool sameValues(const Slot& s, Values values);
  const Slot* find(uint64_t hash, Values values) const;
  Slot& insert(uint64_t hash, Values values);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::array<Slot, kSlots> slots_;
  size_t used_ = 0;  // guarded by mu_
  std::mutex mu_;
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets in seconds, ascending (+Inf is implied).
  Histogram(std::string name, std::string help, std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(std::chrono::nanoseconds elapsed);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  void render(std::string& out) const;

 private:
  static constexpr size_t kMaxBuckets = 16;
  std::string name_;
  std::string help_;
  std::vector<double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets> buckets_{};  // not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// The families (docs/operations.md, "Metrics"). Created on first use.
CounterFamily& statements();             // jitgate_statements_total{resource,decision,rule}
CounterFamily& authFailures();           // jitgate_auth_failures_total{front,reason}
CounterFamily& maskedValues();           // jitgate_masked_values_total{label}
CounterFamily& upstreamConnects();       // jitgate_upstream_connects_total{resource,result}
CounterFamily& reviewEvents();           // jitgate_review_events_total{event}
CounterFamily& sessionsEndedByAdmin();   // jitgate_sessions_ended_by_admin_total{resource}
CounterFamily& storeEventsReceived();    // jitgate_store_events_received_total{kind}
CounterFamily& storeListenReconnects();  // jitgate_store_listen_reconnects_total
CounterFamily& cancelRelays();           // jitgate_cancel_relays_total{result}
Histogram& auditFsyncSeconds();          // jitgate_audit_fsync_seconds
Histogram& upstreamConnectSeconds();     // jitgate_upstream_connect_seconds

// Every family above, in the order listed.
std::string renderAll();

}  // namespace jg::metrics
