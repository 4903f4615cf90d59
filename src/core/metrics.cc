#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace jg::metrics {
namespace {

// Past this many label sets a family counts new ones under "_other" (the table stays sparse).
constexpr size_t kMaxLabelSets = CounterFamily::kSlots * 3 / 4;
constexpr std::string_view kOther = "_other";

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

uint64_t CounterFamily::hashOf(Values values) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (std::string_view v : values) {
    for (unsigned char c : v) {
      h = (h ^ c) * 1099511628211ULL;
    }
    h = (h ^ 0x1f) * 1099511628211ULL;
  }
  return h;
}

bool CounterFamily::sameValues(const Slot& s, Values values) {
  return std::equal(s.values.begin(), s.values.end(), values.begin(), values.end());
}

const CounterFamily::Slot* CounterFamily::find(uint64_t hash, Values values) const {
  for (size_t i = 0; i < kSlots; ++i) {
    const Slot& s = slots_[(hash + i) % kSlots];
    if (!s.ready.load(std::memory_order_acquire)) {
      return nullptr;  // slots fill in probe order: the label set is not in the table
    }
    if (s.hash == hash && sameValues(s, values)) {
      return &s;
    }
  }
  return nullptr;
}

CounterFamily::Slot& CounterFamily::insert(uint64_t hash, Values values) {
  std::lock_guard lock(mu_);
  std::vector<std::string_view> others;
  if (used_ >= kMaxLabelSets && find(hash, values) == nullptr) {
    others.assign(values.size(), kOther);
    values = others;
    hash = hashOf(values);
  }
  if (const Slot* s = find(hash, values)) {
    return const_cast<Slot&>(*s);  // another thread inserted it meanwhile, or "_other"
  }
  for (size_t i = 0; i < kSlots; ++i) {
    Slot& s = slots_[(hash + i) % kSlots];
    if (!s.ready.load(std::memory_order_relaxed)) {
      s.hash = hash;
      s.values.assign(values.begin(), values.end());
      s.ready.store(true, std::memory_order_release);
      ++used_;
      return s;
    }
  }
  return slots_[0];  // unreachable: the table never fills past kMaxLabelSets + 1
}

void CounterFamily::add(std::initializer_list<std::string_view> list, uint64_t n) {
  const Values values(list.begin(), list.size());
  const uint64_t hash = hashOf(values);
  if (const Slot* s = find(hash, values)) {
    const_cast<Slot*>(s)->count.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  insert(hash, values).count.fetch_add(n, std::memory_order_relaxed);
}

uint64_t CounterFamily::value(std::initializer_list<std::string_view> list) const {
  const Values values(list.begin(), list.size());
  const Slot* s = find(hashOf(values), values);
  return s ? s->count.load(std::memory_order_relaxed) : 0;
}

void CounterFamily::render(std::string& out) const {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n", name_, help_);
  std::vector<const Slot*> ready;
  for (const Slot& s : slots_) {
    if (s.ready.load(std::memory_order_acquire)) {
      ready.push_back(&s);
    }
  }
  std::sort(ready.begin(), ready.end(),
            [](const Slot* a, const Slot* b) { return a->values < b->values; });
  for (const Slot* s : ready) {
    out += name_;
    if (label_names_.empty()) {
      out += fmt::format(" {}\n", s->count.load(std::memory_order_relaxed));
      continue;
    }
    out.push_back('{');
    for (size_t i = 0; i < label_names_.size() && i < s->values.size(); ++i) {
      out += fmt::format("{}{}=\"", i == 0 ? "" : ",", label_names_[i]);
      appendEscaped(out, s->values[i]);
      out.push_back('"');
    }
    out += fmt::format("}} {}\n", s->count.load(std::memory_order_relaxed));
  }
}

Histogram::Histogram(std::string name, std::string help, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {
  if (bounds_.size() >= kMaxBuckets) {
    bounds_.resize(kMaxBuckets - 1);
  }
}

void Histogram::observe(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, elapsed.count())),
                    std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out) const {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name_, help_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name_, bounds_[i], cumulative);
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name_,
                     cumulative, static_cast<double>(sum_ns_.load()) / 1e9);
}

CounterFamily& statements() {
  static CounterFamily f("jitgate_statements_total",
                         "PostgreSQL statements decided, by resource, decision (allow, deny, "
                         "review) and the rule that decided.",
                         {"resource", "decision", "rule"});
  return f;
}

CounterFamily& authFailures() {
  static CounterFamily f("jitgate_auth_failures_total",
                         "Refused authentications, by front end (postgres, http, admin) and "
                         "reason. A policy refusal is not an authentication failure.",
                         {"front", "reason"});
  return f;
}

CounterFamily& maskedValues() {
  static CounterFamily f("jitgate_masked_values_total",
                         "Cells masked in PostgreSQL results, by detector or column label.",
                         {"label"});
  return f;
}

CounterFamily& upstreamConnects() {
  static CounterFamily f("jitgate_upstream_connects_total",
                         "Upstream PostgreSQL connections by resource and result (ok, error).",
                         {"resource", "result"});
  return f;
}

CounterFamily& reviewEvents() {
  static CounterFamily f("jitgate_review_events_total",
                         "Access events by kind: review_created, review_approved, "
                         "review_rejected, review_expired, grant_revoked, ...",
                         {"event"});
  return f;
}

CounterFamily& cancelRelays() {
  static CounterFamily f("jitgate_cancel_relays_total",
                         "CancelRequests for another replica's session: relayed through the store, "
                         "dropped (rate limit or store error), or served here for another replica.",
                         {"result"});
  return f;
}

CounterFamily& storeEventsReceived() {
  static CounterFamily f("jitgate_store_events_received_total",
                         "State store events received from the PostgreSQL store's notification "
                         "channel, by kind (review, grant, resync).",
                         {"kind"});
  return f;
}

CounterFamily& storeListenReconnects() {
  static CounterFamily f("jitgate_store_listen_reconnects_total",
                         "Times the PostgreSQL store's event listener lost (or could not open) its "
                         "connection and connected again.",
                         {});
  return f;
}

CounterFamily& sessionsEndedByAdmin() {
  static CounterFamily f("jitgate_sessions_ended_by_admin_total",
                         "Live sessions ended through the admin API, by resource.", {"resource"});
  return f;
}

Histogram& auditFsyncSeconds() {
  static Histogram h(
      "jitgate_audit_fsync_seconds", "Time an audit log write waited for fdatasync.",
      {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5});
  return h;
}

Histogram& upstreamConnectSeconds() {
  static Histogram h("jitgate_upstream_connect_seconds",
                     "Time to connect and authenticate to an upstream PostgreSQL server.",
                     {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  return h;
}

std::string renderAll() {
  std::string out;
  statements().render(out);
  authFailures().render(out);
  maskedValues().render(out);
  upstreamConnects().render(out);
  reviewEvents().render(out);
  sessionsEndedByAdmin().render(out);
  storeEventsReceived().render(out);
  storeListenReconnects().render(out);
  cancelRelays().render(out);
  auditFsyncSeconds().render(out);
  upstreamConnectSeconds().render(out);
  return out;
}

}  // namespace jg::metrics
