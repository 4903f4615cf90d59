// The audit HTTP API on the admin listener, for auditors:
//
//   GET /api/v1/audit/statements?user=&group=&resource=&table=&kind=&decision=&rule=&review=
//       &fingerprint=&document=&contains=&session=&protocol=&method=&path=&status=&tool=
//       &rpc_method=&since=&until=&limit=
//       the statements, HTTP requests and MCP messages matching every given filter, newest first
//       (the filters of `jitgate audit search`; `path` and `tool` are globs), as a JSON array
//   GET /api/v1/audit/sessions/{id}[?limit=]
//       the session's records in log order, as stored, without sealed fields (masked view only):
//       {"session": id, "records": [...], "truncated": bool, "raw": false}
//   POST /api/v1/audit/sessions/{id}/reveal   body {"reason": "..."}
//       the same with the raw (pre-masking) values opened (params_raw, rows_raw, body_raw), for
//       auditors also in `audit.reveal_groups`; the reveal is recorded (a `replay` record with
//       raw, the actor and the reason) before anything is shown, and refused (503) when it
//       cannot be recorded; a reveal refused (403, or 400 without a reason) is recorded as an
//       `access` record, action reveal.refused
//
// Callers authenticate with an OIDC bearer token (the admin API answers 401 without one) and
// must belong to one of `audit.auditor_groups` (403 otherwise; an empty list admits nobody).
// Bad parameters get 400; all errors are JSON ({"error", "message"}). Handlers run on the admin
// API's worker threads; they read the state store (search index) and the segment files.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "audit/event.h"
#include "audit/settings.h"
#include "server/admin_api.h"
#include "store/store.h"

namespace jg::server {

// The current audit settings (the gateway passes one that follows configuration reloads).
using AuditSettingsSource = std::function<audit::Settings()>;

inline constexpr std::string_view kStatementsPath = "/api/v1/audit/statements";
inline constexpr std::string_view kSessionsPrefix = "/api/v1/audit/sessions/";
inline constexpr std::string_view kRevealSuffix = "/reveal";

// Records, durably, a reveal (a ReplayEvent: an error refuses the reveal) or a refused one (an
// AccessEvent, action reveal.refused), in the gateway's own log.
using RevealRecorder = std::function<Status(audit::EventBody)>;

// The handlers, exposed for tests. REQUIRES: req.caller is set (authenticated routes).
AdminResponse handleAuditStatements(const AdminRequest& req, store::Store* store,
                                    const audit::Settings& settings);
AdminResponse handleAuditSession(const AdminRequest& req, store::Store* store,
                                 const audit::Settings& settings);
AdminResponse handleAuditReveal(const AdminRequest& req, store::Store* store,
                                const audit::Settings& settings, const RevealRecorder& record);

// Registers the routes on `api`. `store` (may be null: then statement search answers 503) must be
// migrated with audit::indexMigrations() and outlive the AdminApi.
inline void registerAuditRoutes(AdminApi& api, store::Store* store, AuditSettingsSource settings,
                                RevealRecorder record) {
  api.addRoute(boost::beast::http::verb::get, std::string(kStatementsPath),
               [store, settings](const AdminRequest& req) {
                 return handleAuditStatements(req, store, settings());
               });
  api.addPrefixRoute(boost::beast::http::verb::get, std::string(kSessionsPrefix),
                     [store, settings](const AdminRequest& req) {
                       return handleAuditSession(req, store, settings());
                     });
  api.addPrefixRoute(boost::beast::http::verb::post, std::string(kSessionsPrefix),
                     [store, settings, record](const AdminRequest& req) {
                       return handleAuditReveal(req, store, settings(), record);
                     });
}

}  // namespace jg::server
