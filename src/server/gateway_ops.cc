// Operations on the admin listener: readiness (GET /readyz), live sessions (GET
// /api/v1/sessions, DELETE /api/v1/sessions/{id}, like pgbouncer's SHOW CLIENTS and KILL) and
// health (GET /api/v1/health, POST /api/v1/audit/verify).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include "access/broker.h"
#include "audit/codec.h"
#include "audit/recorder.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/log_fields.h"
#include "core/metrics.h"
#include "identity/verifier.h"
#include "policy/policy.h"
#include "policy/rule.h"
#include "server/admin_api.h"
#include "server/chain_check.h"
#include "server/gateway.h"
#include "server/session.h"
#include "store/store.h"

namespace jg::server {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
constexpr std::string_view kSessionsPath = "/api/v1/sessions";

// 401/403 unless the caller approves access: a member of the approver groups of a review rule
// of the current policy, the people who may already end sessions by revoking their grants.
std::optional<AdminResponse> requireAdmin(const AdminRequest& req, const GatewayConfig& cfg) {
  if (!req.caller) {
    return jsonError(401, "unauthorized", "an OIDC access token is required");
  }
  std::vector<std::string> admins;
  const auto& policy = cfg.policy;
  for (uint32_t i = 0; policy && i < policy->ruleCount(); ++i) {
    const auto& r = policy->rule(i);
    if (r.effect != policy::Effect::kReview) {
      continue;
    }
    for (const auto& g : r.review.approver_groups) {
      if (std::find(req.caller->groups.begin(), req.caller->groups.end(), g) !=
          req.caller->groups.end()) {
        return std::nullopt;
      }
      if (std::find(admins.begin(), admins.end(), g) == admins.end()) {
        admins.push_back(g);
      }
    }
  }
  if (admins.empty()) {
    return jsonError(403, "forbidden",
                     "the sessions API is closed: no review rule of the policy names approvers");
  }
  return jsonError(403, "forbidden",
                   fmt::format("{} may not see or end live sessions: that is for the approvers "
                               "({})",
                               req.caller->display(), fmt::join(admins, ", ")));
}

json::object sessionJson(const Session::Summary& s) {
  return json::object{
      {"id", s.id},
      {"protocol", "postgres"},
      {"resource", s.resource},
      {"user", s.user},
      {"db_user", s.db_user},
      {"client_addr", s.client_addr},
      {"auth_method", s.auth_method},
      {"state", s.state},
      {"started", formatUtc(s.started)},
      {"statements", s.statements},
      {"age_seconds", std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now() - s.started)
                          .count()},
  };
}

bool auditor(const identity::Identity& who, const GatewayConfig& cfg) {
  if (!cfg.audit) {
    return false;
  }
  const auto& allowed = cfg.audit->auditor_groups;
  return std::any_of(who.groups.begin(), who.groups.end(), [&](const std::string& g) {
    return std::find(allowed.begin(), allowed.end(), g) != allowed.end();
  });
}

// "postgresql" or "sqlite": the store's kind, never its URL (which may hold a password).
std::string storeKind(const std::string& url) {
  return url.starts_with("postgres") ? "postgresql" : "sqlite";
}

json::object recorderJson(const audit::Recorder& r) {
  const audit::RecorderStats st = r.stats();
  const Status health = r.health();
  json::object o{{"ok", health.isOk()},
                 {"instance", r.instance()},
                 {"durability", audit::durabilityName(r.durability())},
                 {"records", st.records},
                 {"last_seq", st.last_seq},
                 {"queued", st.queued},
                 {"durable_upto", r.durableUpto()},
                 {"segment", st.segment},
                 {"write_failures", st.write_failures},
                 {"recoveries", st.recoveries}};
  if (!health) {
    o["error"] = health.message();
  }
  return o;
}

}  // namespace

AdminResponse Gateway::health(const AdminRequest& req) const {
  const auto rt = runtime();
  const GatewayConfig& cfg = *rt->config;
  if (!req.caller || !auditor(*req.caller, cfg)) {
    if (auto refused = requireAdmin(req, cfg)) {
      return *refused;
    }
  }
  json::object body{{"instance", cfg.instance},
                    {"config",
                     {{"file", cfg.file},
                      {"checksum", cfg.checksum},
                      {"loaded_at", formatUtc(audit::fromMicros(config_loaded_us_.load()))}}},
                    {"live_sessions", liveSessions().size()},
                    {"http_connections", static_cast<uint64_t>(httpConnections())}};
  if (store_) {
    Result<int> version = store_->schemaVersion("access");
    json::object st{{"kind", storeKind(cfg.store_url)}, {"ok", version.isOk()}};
    if (!version) {
      st["error"] = version.status().message();
    }
    body["store"] = std::move(st);
  }
  if (recorder_) {
    body["recorder"] = recorderJson(*recorder_);
  }
  if (chain_check_) {
    body["audit_chain"] = chain_check_->status();
  }
  return AdminResponse{200, "application/json", json::serialize(body), {}};
}

AdminResponse Gateway::verifyChain(const AdminRequest& req) {
  const auto rt = runtime();
  if (!req.caller || !auditor(*req.caller, *rt->config)) {
    return jsonError(403, "forbidden", "verifying the audit chain is for the auditor groups");
  }
  if (!chain_check_) {
    return jsonError(503, "unavailable", "recording is off: there is no chain to verify");
  }
  const bool started = chain_check_->request();
  log::infoWith("", {{"actor", req.caller->display()}}, "audit chain verification {} by {}",
                started ? "requested" : "already under way, asked again", req.caller->display());
  json::object body{{"requested", started}, {"audit_chain", chain_check_->status()}};
  return AdminResponse{202, "application/json", json::serialize(body), {}};
}

AdminResponse Gateway::readiness() const {
  json::array checks;
  bool ready = true;
  auto check = [&](std::string_view name, const Status& st) {
    ready = ready && st.isOk();
    json::object c{{"name", name}, {"ok", st.isOk()}};
    if (!st) {
      c["error"] = st.message();
    }
    checks.push_back(std::move(c));
  };
  if (store_) {
    // A read of the store's own bookkeeping table: the database answers, not only the driver.
    Result<int> version = store_->schemaVersion("access");
    check("store", version ? Status::ok() : version.status());
  }
  if (recorder_) {
    check("audit", recorder_->health());
  }
  if (auto rt = runtime(); rt->verifier) {
    // Keys are fetched at the first login or refresh: a probe of a fresh gateway fetches them,
    // so that it can turn ready before any client has come.
    Status keys = rt->verifier->keysLoaded();
    if (!keys) {
      (void)rt->verifier->refreshKeys();
      keys = rt->verifier->keysLoaded();
    }
    check("keys", keys);
  }
  json::object body{{"status", ready ? "ready" : "not ready"}, {"checks", std::move(checks)}};
  return AdminResponse{ready ? 200 : 503, "application/json", json::serialize(body), {}};
}

AdminResponse Gateway::listSessions(const AdminRequest& req) const {
  if (auto refused = requireAdmin(req, *runtime()->config)) {
    return *refused;
  }
  json::array list;
  for (const auto& s : liveSessions()) {
    list.push_back(sessionJson(s->summary()));
  }
  json::object body{{"sessions", std::move(list)},
                    {"http_connections", static_cast<uint64_t>(httpConnections())}};
  return AdminResponse{200, "application/json", json::serialize(body), {}};
}

AdminResponse Gateway::endSession(const AdminRequest& req) {
  if (auto refused = requireAdmin(req, *runtime()->config)) {
    return *refused;
  }
  const std::string id = req.path.substr(kSessionsPath.size() + 1);
  std::shared_ptr<Session> found;
  for (auto& s : liveSessions()) {
    if (s->id() == id) {
      found = std::move(s);
      break;
    }
  }
  if (!found) {
    return jsonError(404, "not_found", fmt::format("no live session {}", id));
  }
  const Session::Summary s = found->summary();
  const std::string by = req.caller->display();
  auto reason = req.query.find("reason");
  std::string message = fmt::format("terminating connection: ended by administrator {}", by);
  if (reason != req.query.end() && !reason->second.empty()) {
    message += ": " + reason->second.substr(0, 200);
  }
  // Logged before the session is told, so the session's own "session ended:" line follows it.
  log::infoWith(id, {{"user", s.user}, {"resource", s.resource}, {"actor", by}},
                "session ended by administrator {}", by);
  found->terminate("57P01", message);
  metrics::sessionsEndedByAdmin().add({s.resource.empty() ? "-" : s.resource});
  if (recorder_) {
    audit::AccessEvent e;
    e.action = "session.ended";
    e.resource = s.resource;
    e.requester = s.user;
    e.actor = by;
    e.comment = message;
    e.actor_subject = req.caller->subject;
    recorder_->appendAsync(audit::Event{id, {}, std::move(e)}, {});
  }
  json::object body = sessionJson(s);
  body["state"] = "ending";
  return AdminResponse{200, "application/json", json::serialize(body), {}};
}

void Gateway::registerOpsRoutes() {
  admin_->addRoute(
      http::verb::get, "/readyz", [this](const AdminRequest&) { return readiness(); },
      /*authenticated=*/false);
  admin_->addRoute(http::verb::get, std::string(kSessionsPath),
                   [this](const AdminRequest& req) { return listSessions(req); });
  admin_->addPrefixRoute(http::verb::delete_, std::string(kSessionsPath) + "/",
                         [this](const AdminRequest& req) { return endSession(req); });
  admin_->addRoute(http::verb::get, "/api/v1/health",
                   [this](const AdminRequest& req) { return health(req); });
  admin_->addRoute(http::verb::post, "/api/v1/audit/verify",
                   [this](const AdminRequest& req) { return verifyChain(req); });
}

}  // namespace jg::server
