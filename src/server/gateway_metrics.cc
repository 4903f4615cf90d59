// The gateway's counters on the admin listener's GET /metrics (Prometheus text format).
#include <fmt/format.h>

#include <map>

#include "access/broker.h"
#include "access/notifier.h"
#include "audit/anchor.h"
#include "audit/recorder.h"
#include "server/config_lint.h"
#include "core/metrics.h"
#include "server/gateway.h"
#include "server/http_front.h"
#include "server/session.h"

namespace jg::server {

namespace {

// One metric in the Prometheus text format.
void appendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

// Counters in the Prometheus text format: nothing in them identifies a caller or a query.
std::string Gateway::metricsText() const {
  sql::CacheStats c = classifier_.stats();
  std::string out;
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                       uint64_t value) { appendMetric(out, name, type, help, value); };
  metric("jitgate_sessions", "gauge", "Client sessions open now.", sessionCount());
  std::map<std::string, uint64_t> by_resource;
  for (const auto& r : runtime()->config->resources) {
    if (!r.isHttp()) {
      by_resource[r.name] = 0;
    }
  }
  for (const auto& s : liveSessions()) {
    if (auto it = by_resource.find(s->summary().resource); it != by_resource.end()) {
      ++it->second;  // sessions still in startup with an unknown resource are not counted
    }
  }
  out +=
      "# HELP jitgate_sessions_by_resource PostgreSQL sessions open now, by resource.\n"
      "# TYPE jitgate_sessions_by_resource gauge\n";
  for (const auto& [name, n] : by_resource) {
    out += fmt::format("jitgate_sessions_by_resource{{resource=\"{}\"}} {}\n", name, n);
  }
  metric("jitgate_classifier_hits_total", "counter",
         "Statement classifications answered from the cache.", c.hits);
  metric("jitgate_classifier_normalized_hits_total", "counter",
         "Cache hits on a literal variant of a cached statement.", c.normalized_hits);
  metric("jitgate_classifier_misses_total", "counter", "Statements parsed by libpg_query.",
         c.misses);
  metric("jitgate_classifier_evictions_total", "counter", "Cache entries evicted.", c.evictions);
  metric("jitgate_classifier_parse_errors_total", "counter", "Statements that did not parse.",
         c.parse_errors);
  metric("jitgate_classifier_entries", "gauge", "Entries in the classification cache.", c.entries);
  metric("jitgate_classifier_capacity", "gauge", "Capacity of the classification cache.",
         c.capacity);
  metric("jitgate_upstream_connect_failures_total", "counter",
         "Upstream connections that failed at session start: unreachable, not accepting "
         "connections (57P03, 53300) or refusing the gateway's credentials.",
         upstream_connect_failures_.load());
  metric("jitgate_config_reloads_total", "counter",
         "Configuration reloads (SIGHUP) that were applied.", reloads_.load());
  metric("jitgate_config_reload_failures_total", "counter",
         "Configuration reloads refused because the file or what it names is invalid; the "
         "previous configuration stays in force.",
         reload_failures_.load());
  metric("jitgate_config_reload_restart_settings_total", "counter",
         "Settings changed by an applied reload that take effect only on restart (each named in "
         "a warning log line), summed over reloads.",
         restartOnlyChangesCounted());
  auditMetrics(out);
  accessMetrics(out);
  out += metrics::renderAll();
  if (http_) {
    metric("jitgate_http_connections", "gauge", "HTTP client connections open now.",
           http_->connectionCount());
    out += http_->metrics().text();
  }
  return out;
}

void Gateway::auditMetrics(std::string& out) const {
  if (!recorder_) {
    return;
  }
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                       uint64_t value) { appendMetric(out, name, type, help, value); };
  audit::RecorderStats st = recorder_->stats();
  metric("jitgate_audit_writable", "gauge",
         "1 while the audit log can be written; 0 while new sessions and statements are refused.",
         recorder_->writable() ? 1 : 0);
  metric("jitgate_audit_write_failures_total", "counter",
         "Times a write to the audit log failed and the gateway stopped serving.",
         st.write_failures);
  metric("jitgate_audit_recoveries_total", "counter",
         "Times the audit log became writable again (a retried write succeeded).", st.recoveries);
  metric("jitgate_audit_records_total", "counter", "Records chained into the audit log.",
         st.records);
  metric("jitgate_audit_queued_records", "gauge", "Records waiting to be written.", st.queued);
  metric("jitgate_audit_last_seq", "gauge", "Sequence number of the newest durable record.",
         st.last_seq);
  metric("jitgate_audit_refused_sessions_total", "counter",
         "Connections refused because the audit log could not be written.",
         audit_refused_sessions_.load());
  metric("jitgate_audit_refused_statements_total", "counter",
         "Statements refused because the audit log could not be written.",
         audit_refused_statements_.load());
  if (anchors_) {
    audit::AnchorStats a = anchors_->stats();
    metric("jitgate_audit_anchored_seq", "gauge",
           "Sequence number of the newest checkpoint anchored outside the log.", a.last_seq);
    metric("jitgate_audit_anchor_failures_total", "counter",
           "Checkpoints that could not be anchored in the state store.", a.failures);
  }
}

// Reviews (pending now; events since start are in jitgate_review_events_total) and webhooks.
void Gateway::accessMetrics(std::string& out) const {
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                       uint64_t value) { appendMetric(out, name, type, help, value); };
  if (broker_) {
    access::ReviewFilter pending;
    pending.state = access::ReviewState::kPending;
    pending.limit = 100000;
    if (auto reviews = broker_->listReviews(pending)) {
      metric("jitgate_reviews_pending", "gauge", "Reviews waiting for a decision.",
             reviews->size());
    }
  }
  if (notifier_) {
    access::NotifierStats n = notifier_->stats();
    metric("jitgate_webhook_deliveries_total", "counter", "Webhook deliveries that succeeded.",
           n.delivered);
    metric("jitgate_webhook_retries_total", "counter", "Webhook delivery attempts retried.",
           n.retried);
    metric("jitgate_webhook_failures_total", "counter",
           "Webhook deliveries given up after their last attempt.", n.failed);
    metric("jitgate_webhook_dropped_total", "counter",
           "Webhook deliveries dropped because the queue was full.", n.dropped);
  }
}

}  // namespace jg::server
