// Console settings: the `console:` section of the gateway configuration, for the web console
// served by the admin listener under /console/ and its OIDC sign-in (authorization code + PKCE):
//
//   console:
//     client_id: jitgate-console
//     client_secret_file: console_secret   # optional; without it the client is public (PKCE)
//     redirect_url: https://jitgate.example:8443/console/callback
//     issuer: https://idp.example            # optional; default: the first identity issuer
//     resource: https://jitgate.example/     # optional; RFC 8707 resource for the access token
//     scopes: [openid, email, profile]       # default; openid is always sent
//     session_ttl: 8h                        # a signed-in session's lifetime
//
// Plain values, immutable after loading; safe to share between threads.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/node.h"

namespace jg::console {

struct Settings {
  std::string client_id;
  std::string client_secret;  // from client_secret_file; never logged; empty: a public client
  std::string redirect_url;   // where the issuer sends the browser back: .../console/callback
  std::string issuer;         // empty: the first configured identity issuer
  std::string resource;       // empty: no `resource` parameter
  std::vector<std::string> scopes{"openid", "email", "profile"};
  std::chrono::seconds session_ttl{8 * 3600};
  std::chrono::seconds login_ttl{600};  // between /console/login and the callback
  size_t max_sessions = 10'000;

  // scheme://host[:port] of redirect_url: the only Origin accepted on state changes.
  std::string origin() const;
};

Settings parseSettings(const config::Node& section, config::Errors& errors);

// Why `redirect_url` cannot be used (empty when it can): https, or http on a loopback host for
// development, and the path /console/callback.
std::string redirectUrlProblem(const std::string& url);

}  // namespace jg::console
