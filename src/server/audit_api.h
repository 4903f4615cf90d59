// The audit HTTP API on the admin listener, for auditors:
//
//   GET /api/v1/audit/statements?user=&group=&resource=&table=&kind=&decision=&rule=&review=
//       &fingerprint=&document=&contains=&session=&protocol=&method=&path=&status=&tool=
//       &rpc_method=&since=&until=&limit=
//       the statements, HTTP requests and MCP messages matching every given filter, newest first
//       (the filters of `jitgate audit search`; `path` and `tool` are globs), as a JSON array
//   GET /api/v1/audit/sessions/{id}[?limit=]
//       the session's records in log order, as stored, without sealed fields (masked view only):
//       {"session": id, "records": [...], "truncated": bool}
//
// Callers authenticate with an OIDC bearer token (the admin API answers 401 without one) and
// must belong to one of `audit.auditor_groups` (403 otherwise; an empty list admits nobody).
// Bad parameters get 400; all errors are JSON ({"error", "message"}). Handlers run on the admin
// API's worker threads; they read the state store (search index) and the segment files.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "audit/settings.h"
#include "server/admin_api.h"
#include "store/store.h"

namespace jg::server {

// The current audit settings (the gateway passes one that follows configuration reloads).
using AuditSettingsSource = std::function<audit::Settings()>;

inline constexpr std::string_view kStatementsPath = "/api/v1/audit/statements";
inline constexpr std::string_view kSessionsPrefix = "/api/v1/audit/sessions/";

// The handlers, exposed for tests. REQUIRES: req.caller is set (authenticated routes).
AdminResponse handleAuditStatements(const AdminRequest& req, store::Store* store,
                                    const audit::Settings& settings);
AdminResponse handleAuditSession(const AdminRequest& req, store::Store* store,
                                 const audit::Settings& settings);

// Registers the routes on `api`. `store` (may be null: then statement search answers 503) must be
// migrated with audit::indexMigrations() and outlive the AdminApi.
inline void registerAuditRoutes(AdminApi& api, store::Store* store, AuditSettingsSource settings) {
  api.addRoute(boost::beast::http::verb::get, std::string(kStatementsPath),
               [store, settings](const AdminRequest& req) {
                 return handleAuditStatements(req, store, settings());
               });
  api.addPrefixRoute(boost::beast::http::verb::get, std::string(kSessionsPrefix),
                     [store, settings](const AdminRequest& req) {
                       return handleAuditSession(req, store, settings());
                     });
}

}  // namespace jg::server
