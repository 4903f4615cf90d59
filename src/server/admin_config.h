// AdminConfig: the admin listener's transport (TLS or plain HTTP on loopback) and the web console
// (`console:`), parsed by loadConfig()/parseConfig() from the same document as the GatewayConfig
// they belong to:
//
//   listen:
//     admin: { address: 0.0.0.0:8443, cert: admin.crt, key: admin.key }
//     # admin: { address: 127.0.0.1:8080, plain_http: true }   development, loopback only
//     # admin: 127.0.0.1:8080                                   the same, short form
//   console: { client_id: ..., redirect_url: https://.../console/callback, ... }
//
// The parser stores the AdminConfig in its GatewayConfig snapshot (`GatewayConfig::admin`, kept
// out of config.h so that the console's settings do not reach every file that reads the
// configuration). Immutable once parsed.
#pragma once

#include <optional>
#include <string>

#include "config/node.h"
#include "console/settings.h"
#include "server/config.h"

namespace jg::server {

struct AdminTlsConfig {
  std::string cert_file;
  std::string key_file;
  bool plain_http = false;  // `plain_http: true` or the short `admin: host:port` form
  bool enabled() const { return !cert_file.empty(); }
};

struct AdminConfig {
  AdminTlsConfig tls;
  std::optional<console::Settings> console;  // set when the `console` section exists
};

// `listen.admin` into the listener's address and transport; refuses plain HTTP off loopback.
void parseAdminListen(const config::Node& n, config::Errors& errors, Endpoint& address,
                      AdminTlsConfig& tls);
// `console`, checked against the rest of the configuration (admin listener, identity issuers).
std::optional<console::Settings> parseConsoleSection(const config::Node& root,
                                                     config::Errors& errors,
                                                     const GatewayConfig& cfg);

// The AdminConfig parsed with `cfg`; an empty one for a GatewayConfig built in code.
AdminConfig adminConfigOf(const GatewayConfig& cfg);

}  // namespace jg::server
