#include "server/admin_config.h"

#include <filesystem>

#include <fmt/format.h>

namespace jg::server {
namespace {

using config::Errors;
using config::Node;

bool isLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// The endpoint grammar of config.cc's listen keys, for `address`.
Endpoint parseAddress(const Node& n, Errors& errors, Endpoint def) {
  std::string s = n.str(errors);
  auto colon = s.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0) {
    try {
      port = std::stoi(s.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    errors.add(n, fmt::format("expected host:port, got \"{}\"", s));
    return def;
  }
  Endpoint e{s.substr(0, colon), static_cast<uint16_t>(port)};
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  return e;
}

void parseAdminMapping(const Node& n, Errors& errors, Endpoint& address, AdminTlsConfig& tls) {
  n.checkKeys(errors, {"address", "cert", "key", "plain_http"});
  if (!n["address"].defined()) {
    errors.add(n, "address (host:port) is required");
  } else {
    address = parseAddress(n["address"], errors, address);
  }
  tls.cert_file = n["cert"].path(errors);
  tls.key_file = n["key"].path(errors);
  tls.plain_http = n["plain_http"].boolean(errors, false);
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    errors.add(n, "cert and key must be given together");
  }
  for (const auto* f : {&tls.cert_file, &tls.key_file}) {
    if (!f->empty() && !std::filesystem::exists(*f)) {
      errors.add(n[f == &tls.cert_file ? "cert" : "key"],
                 fmt::format("file {} does not exist", *f));
    }
  }
  if (tls.enabled() == tls.plain_http) {
    errors.add(n, "give cert and key (TLS), or plain_http: true (loopback, development only)");
  }
}

}  // namespace

void parseAdminListen(const Node& n, Errors& errors, Endpoint& address, AdminTlsConfig& tls) {
  if (!n.defined()) {
    return;
  }
  if (n.isMap()) {
    parseAdminMapping(n, errors, address, tls);
  } else {
    address = parseAddress(n, errors, address);
    tls.plain_http = true;
  }
  if (!tls.enabled() && !isLoopbackHost(address.host)) {
    errors.add(n, fmt::format("plain HTTP is allowed on loopback addresses only, not on \"{}\": "
                              "use admin: {{ address: ..., cert: ..., key: ... }}",
                              address.host));
  }
}

std::optional<console::Settings> parseConsoleSection(const Node& root, Errors& errors,
                                                     const GatewayConfig& cfg) {
  if (!root.has("console")) {
    return std::nullopt;
  }
  Node n = root["console"];
  auto settings = console::parseSettings(n, errors);
  if (cfg.listen_admin.port == 0) {
    errors.add(n, "the console is served by the admin listener: set listen.admin");
  }
  if (!cfg.identity) {
    errors.add(n, "the console signs in with OIDC: add an identity section");
  } else if (!settings.issuer.empty()) {
    bool known = false;
    for (const auto& is : cfg.identity->issuers) {
      known = known || is.issuer == settings.issuer;
    }
    if (!known) {
      errors.add(n["issuer"], "not one of identity.issuers");
    }
  }
  return settings;
}

AdminConfig adminConfigOf(const GatewayConfig& cfg) {
  return cfg.admin ? *cfg.admin : AdminConfig{};
}

}  // namespace jg::server
