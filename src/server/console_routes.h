// Console: the web console on the admin listener (see docs/console.md).
//
//   GET  /console/...        the embedded static files (index.html, app.js, app.css)
//   GET  /console/login      starts an OIDC sign-in: 302 to the issuer (state, nonce, PKCE S256)
//   GET  /console/callback   finishes it: code → verified tokens → session cookie, 302 /console/
//   GET  /console/api/me     the signed-in person, their groups and the session's CSRF token
//   POST /console/logout     ends the session (CSRF rules apply) and clears the cookie
//
// The pages call the documented admin API (/api/v1/...) with the session cookie instead of a
// bearer token: authenticate() turns the cookie into the person's Identity for AdminApi, so the
// same handlers, authorisation and audit records apply as for the CLI. State changes need the
// session's X-CSRF-Token header and, when sent, the console's own Origin. Every console answer
// carries the strict security headers (console/web.h).
//
// Sign-in and sign-out are recorded through the ConsoleAudit sink as access events
// (`console.signed_in`, `console.signed_out`) with the person's email and subject; everything
// else a person does here goes through the admin API, which records it as for the CLI.
//
// Thread-safe: the stores lock; the OIDC client may block, and AdminApi runs handlers off the
// I/O thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "console/oidc.h"
#include "console/sessions.h"
#include "core/status.h"
#include "identity/settings.h"
#include "server/admin_api.h"

namespace jg::identity {
class Verifier;
}

namespace jg::server {

// Where the console's own actions go (the gateway appends them to the audit log); may be empty.
// `action` is "console.signed_in" or "console.signed_out"; `client` the browser's address.
using ConsoleAudit = std::function<void(std::string_view action, const identity::Identity& who,
                                        std::string_view client)>;

class Console : public std::enable_shared_from_this<Console> {
 public:
  // `identity` holds the issuer to sign in with; `verify_access` is the admin API's bearer
  // token verification.
  static Result<std::shared_ptr<Console>> create(const console::Settings& settings,
                                                 const identity::Settings& identity,
                                                 Authenticator verify_access,
                                                 ConsoleAudit audit = {});
  ~Console();

  // The routes hold the Console (shared) for as long as the AdminApi lives.
  void registerRoutes(AdminApi& api);
  // The RequestAuthenticator for AdminApi: nullopt without a session cookie.
  std::optional<Result<identity::Identity>> authenticate(const AdminRequest& req) const;

 private:
  Console(console::Settings settings, std::unique_ptr<identity::Verifier> id_verifier,
          Authenticator verify_access, ConsoleAudit audit);
  AdminResponse login();
  AdminResponse callback(const AdminRequest& req);
  AdminResponse me(const AdminRequest& req) const;
  AdminResponse logout(const AdminRequest& req);

  const console::Settings settings_;
  std::unique_ptr<identity::Verifier> id_verifier_;
  std::unique_ptr<console::OidcClient> oidc_;
  console::SessionStore sessions_;
  console::LoginStore logins_;
  ConsoleAudit audit_;
};

}  // namespace jg::server
