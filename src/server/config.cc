#include "server/config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "audit/event.h"
#include "config/node.h"
#include "policy/policy.h"
#include "server/admin_config.h"
#include "server/config_lint.h"
#include "sql/session_context.h"
#include "store/store.h"

namespace jg::server {
namespace {

using config::Errors;
using config::Node;

Endpoint parseEndpoint(const Node& n, Errors& errors, Endpoint def) {
  if (!n.defined()) {
    return def;
  }
  std::string s = n.str(errors);
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    errors.add(n, fmt::format("expected host:port, got \"{}\"", s));
    return def;
  }
  Endpoint e;
  e.host = s.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  int port = 0;
  try {
    port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    errors.add(n, fmt::format("invalid port in \"{}\"", s));
    return def;
  }
  e.port = static_cast<uint16_t>(port);
  return e;
}

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
    return "jitgate";
  }
  return buf;
}

// password_file or password_env; never inline.
std::string parseSecret(const Node& n, Errors& errors, bool& has) {
  auto secret = config::readPassword(n, errors, /*required=*/false);
  has = secret.has_value();
  return secret.value_or(std::string());
}

SslMode parseSslMode(const Node& n, Errors& errors) {
  std::string m =
      n.oneOf(errors, {"disable", "prefer", "require", "verify-ca", "verify-full"}, "prefer");
  if (m == "disable")
    return SslMode::kDisable;
  if (m == "require")
    return SslMode::kRequire;
  if (m == "verify-ca")
    return SslMode::kVerifyCa;
  if (m == "verify-full")
    return SslMode::kVerifyFull;
  return SslMode::kPrefer;
}

// `documents: { table, id_column }`: the ids indexed for document lineage.
void parseDocuments(const Node& docs, Errors& errors, ResourceConfig& res) {
  if (!docs.defined()) {
    return;
  }
  docs.checkKeys(errors, {"table", "id_column"});
  std::string table = docs["table"].requiredStr(errors);
  auto dot = table.find('.');
  if (!table.empty() && (dot == std::string::npos || dot == 0 || dot + 1 == table.size())) {
    errors.add(docs["table"], "expected a schema-qualified table such as public.chunks");
  } else if (!table.empty()) {
    res.documents_schema = table.substr(0, dot);
    res.documents_table = table.substr(dot + 1);
  }
  res.documents_id_column = docs["id_column"].requiredStr(errors);
}

// The keys of a `kind: postgres` resource (the default kind).
void parsePostgresResource(const Node& r, Errors& errors, ResourceConfig& res) {
  r.checkKeys(errors, {"name", "kind", "upstream", "admin", "roles", "documents", "credentials",
                       "max_ttl"});
  Node u = r["upstream"];
  if (!u.defined()) {
    errors.add(u, "required");
  }
  u.checkKeys(errors, {"host", "port", "database", "sslmode", "sslrootcert", "user",
                       "password_file", "password_env", "password", "search_path"});
  res.upstream.host = u["host"].str(errors, "127.0.0.1");
  res.upstream.port = static_cast<uint16_t>(u["port"].integer(errors, 5432, 1, 65535));
  res.upstream.database = u["database"].str(errors, res.name);
  res.upstream.sslmode = parseSslMode(u["sslmode"], errors);
  res.upstream.search_path = u["search_path"].str(errors, res.upstream.search_path);
  if (!sql::parseSearchPath(res.upstream.search_path)) {
    errors.add(u["search_path"], "expected a comma-separated list of schema names");
  }
  res.upstream.sslrootcert = u["sslrootcert"].path(errors);
  if ((res.upstream.sslmode == SslMode::kVerifyCa ||
       res.upstream.sslmode == SslMode::kVerifyFull) &&
      res.upstream.sslrootcert.empty()) {
    errors.add(u["sslrootcert"], "required for sslmode verify-ca and verify-full");
  }
  // With an admin connection, sessions log in with roles minted for them (creds).
  res.upstream.user = r.has("admin") ? u["user"].str(errors) : u["user"].requiredStr(errors);
  res.upstream.password = parseSecret(u, errors, res.upstream.has_password);
  parseDocuments(r["documents"], errors, res);
}

void parseResources(const Node& list, Errors& errors, GatewayConfig& cfg) {
  if (!list.defined()) {
    errors.add(list, "at least one resource is required");
    return;
  }
  if (!list.isSequence()) {
    errors.add(list, "expected a list of resources");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    Node r = list.at(i);
    ResourceConfig res;
    res.name = r["name"].requiredStr(errors);
    res.kind = r["kind"].oneOf(errors, {"postgres", "http", "mcp"}, "postgres");
    if (!res.name.empty() && !names.insert(res.name).second) {
      errors.add(r["name"], fmt::format("duplicate resource name \"{}\"", res.name));
    }
    if (res.kind == "http" || res.kind == "mcp") {
      res.http = std::make_shared<const HttpResourceConfig>(
          parseHttpResource(r, res.name, errors, res.kind == "mcp"));
    } else {
      parsePostgresResource(r, errors, res);
    }
    cfg.resources.push_back(std::move(res));
  }
}

void parseTls(const Node& t, Errors& errors, GatewayConfig& cfg) {
  t.checkKeys(errors, {"cert", "key", "require_client_tls", "allow_plaintext_loopback"});
  cfg.tls.cert_file = t["cert"].path(errors);
  cfg.tls.key_file = t["key"].path(errors);
  cfg.tls.require_client_tls = t["require_client_tls"].boolean(errors, true);
  cfg.tls.allow_plaintext_loopback = t["allow_plaintext_loopback"].boolean(errors, false);
  if (cfg.tls.cert_file.empty() != cfg.tls.key_file.empty()) {
    errors.add(t, "cert and key must be given together");
  }
  for (const auto* f : {&cfg.tls.cert_file, &cfg.tls.key_file}) {
    if (!f->empty() && !std::filesystem::exists(*f)) {
      errors.add(t[f == &cfg.tls.cert_file ? "cert" : "key"],
                 fmt::format("file {} does not exist", *f));
    }
  }
  if (!cfg.tls.enabled() && cfg.tls.require_client_tls) {
    errors.add(t,
               "require_client_tls is true (the default) but no certificate is configured; "
               "set tls.cert and tls.key, or require_client_tls: false for local development");
  }
}

void parseAuth(const Node& a, Errors& errors, GatewayConfig& cfg) {
  a.checkKeys(errors, {"static", "token_grace"});
  cfg.auth.token_grace = a["token_grace"].duration(errors, cfg.auth.token_grace);
  Node s = a["static"];
  s.checkKeys(errors,
              {"enable_insecure_static", "password_file", "password_env", "password", "groups"});
  if (s.defined()) {
    cfg.static_auth.groups = s["groups"].strings(errors);
    cfg.static_auth.enabled = s["enable_insecure_static"].boolean(errors, false);
    bool has = false;
    cfg.static_auth.password = parseSecret(s, errors, has);
    if (!cfg.static_auth.enabled) {
      errors.add(s,
                 "the static authenticator is for local development only; set "
                 "enable_insecure_static: true to use it");
    } else if (!has) {
      errors.add(s, "password_file or password_env is required");
    }
  }
}

void parseLimitsAndTimeouts(const Node& root, Errors& errors, GatewayConfig& cfg) {
  Node l = root["limits"];
  l.checkKeys(errors, {"max_startup_bytes", "max_message_bytes", "max_sessions",
                       "max_prepared_statements", "max_portals", "http"});
  cfg.limits.max_startup_bytes =
      static_cast<size_t>(l["max_startup_bytes"].integer(errors, 10'000, 64, 1 << 20));
  cfg.limits.max_message_bytes = static_cast<size_t>(
      l["max_message_bytes"].integer(errors, 256 << 20, 1 << 16, int64_t{1} << 30));
  cfg.limits.max_sessions =
      static_cast<size_t>(l["max_sessions"].integer(errors, 10'000, 1, 1'000'000));
  cfg.limits.max_prepared_statements =
      static_cast<size_t>(l["max_prepared_statements"].integer(errors, 10'000, 1, 1'000'000));
  cfg.limits.max_portals =
      static_cast<size_t>(l["max_portals"].integer(errors, 10'000, 1, 1'000'000));
  Node t = root["timeouts"];
  t.checkKeys(errors, {"startup", "upstream_connect", "idle", "shutdown_grace", "http"});
  cfg.http_limits = parseHttpLimits(l["http"], t["http"], errors);
  cfg.timeouts.startup = t["startup"].duration(errors, cfg.timeouts.startup);
  cfg.timeouts.upstream_connect =
      t["upstream_connect"].duration(errors, cfg.timeouts.upstream_connect);
  cfg.timeouts.idle = t["idle"].duration(errors, cfg.timeouts.idle);
  cfg.timeouts.shutdown_grace = t["shutdown_grace"].duration(errors, cfg.timeouts.shutdown_grace);
  Node r = root["replicas"];
  r.checkKeys(errors, {"heartbeat", "dead_after", "reap_every"});
  cfg.replicas.heartbeat = r["heartbeat"].duration(errors, cfg.replicas.heartbeat);
  cfg.replicas.dead_after = r["dead_after"].duration(errors, cfg.replicas.dead_after);
  cfg.replicas.reap_every = r["reap_every"].duration(errors, cfg.replicas.reap_every);
  if (cfg.replicas.dead_after < 3 * cfg.replicas.heartbeat) {
    errors.add(r["dead_after"], "must be at least three heartbeats, or a slow beat reads as death");
  }
  if (cfg.replicas.heartbeat.count() <= 0 || cfg.replicas.reap_every.count() <= 0) {
    errors.add(r, "heartbeat and reap_every must be positive durations");
  }
}

// The front-end authenticator: OIDC (identity) or the static development password.
void parseIdentity(const Node& root, Errors& errors, GatewayConfig& cfg) {
  if (root.has("identity")) {
    cfg.identity = identity::parseSettings(root["identity"], errors);
    if (cfg.static_auth.enabled) {
      errors.add(root["auth"]["static"],
                 "choose one authenticator: OIDC (identity) or static, not both");
    }
  } else if (!cfg.static_auth.enabled) {
    errors.addRaw(fmt::format(
        "{}: no front-end authenticator is configured: add an identity section (OIDC)", cfg.file));
  }
}

// The sections each owned by another module: credentials, store, access, audit, tokens, masking.
void parseServices(const Node& root, Errors& errors, GatewayConfig& cfg) {
  cfg.creds = creds::parseAllResourceCreds(root["resources"], errors);
  if (root.has("store")) {
    cfg.store_url = store::parseSettings(root["store"], errors);
  }
  cfg.access = access::parseSettings(root["access"], errors);
  if (root.has("audit")) {
    cfg.audit = audit::parseSettings(root["audit"], errors);
  }
  if (Node t = root["upstream_tokens"]; t.defined()) {
    t.checkKeys(errors, {"key_file", "issuer"});
    cfg.upstream_token_key_file = t["key_file"].requiredPath(errors);
    cfg.upstream_token_issuer = t["issuer"].str(errors, cfg.upstream_token_issuer);
  }
  cfg.instance =
      root["instance"].str(errors, fmt::format("{}-{}", hostName(), cfg.listen_postgres.port));
  if (cfg.audit && cfg.audit->instance_defaulted) {
    cfg.audit->instance = audit::defaultInstanceFor(cfg.audit->dir, cfg.instance);
  }
  if (root.has("masking")) {
    cfg.masking = mask::parseSettings(root["masking"], errors);
  }
}

// Cross-checks of HTTP resources: a listener to reach them, one mount per prefix and host.
void checkHttpResources(const Node& root, Errors& errors, const GatewayConfig& cfg) {
  std::set<std::pair<std::string, std::string>> mounts;
  bool any = false;
  for (const auto& r : cfg.resources) {
    if (!r.isHttp()) {
      continue;
    }
    any = true;
    if (!mounts.emplace(r.http->host, r.http->mount).second) {
      errors.add(root["resources"],
                 fmt::format("resource \"{}\": mount {} is used twice", r.name, r.http->mount));
    }
    if (!r.http->masking.json_paths.empty() && !root.has("masking")) {
      errors.add(root["resources"],
                 fmt::format("resource \"{}\": masking.json_paths need a masking section", r.name));
    }
  }
  if (any && cfg.listen_http.port == 0) {
    errors.add(root["listen"], "HTTP resources are configured: set listen.http (host:port)");
  }
}

// `mcp`: jitgate's own MCP server, on the HTTP listener, over the resources it names.
void parseMcp(const Node& root, Errors& errors, GatewayConfig& cfg) {
  if (!root.has("mcp")) {
    return;
  }
  Node n = root["mcp"];
  cfg.mcp = parseMcpConfig(n, errors);
  if (cfg.listen_http.port == 0) {
    errors.add(n, "the MCP server runs on the HTTP listener: set listen.http (host:port)");
  }
  for (const auto& name : cfg.mcp->resources) {
    if (cfg.resource(name) == nullptr) {
      errors.add(n["resources"], fmt::format("resource \"{}\" is not configured", name));
    }
  }
}

Result<ConfigPtr> build(const Node& root, const std::string& file, std::string_view text) {
  Errors errors;
  auto cfg = std::make_shared<GatewayConfig>();
  AdminConfig admin;
  cfg->file = file;
  cfg->checksum = "sha256:" + audit::sha256Hex(text);
  if (!root.isMap()) {
    return invalidArgument(fmt::format("{}:1: expected a mapping at the top level", file));
  }
  root.checkKeys(errors, {"listen", "threads", "tls", "auth", "limits", "timeouts", "resources",
                          "identity", "policies", "masking", "audit", "store", "access", "instance",
                          "upstream_tokens", "mcp", "console", "replicas"});
  Node listen = root["listen"];
  listen.checkKeys(errors, {"postgres", "admin", "http"});
  cfg->listen_postgres = parseEndpoint(listen["postgres"], errors, cfg->listen_postgres);
  parseAdminListen(listen["admin"], errors, cfg->listen_admin, admin.tls);
  cfg->listen_http = parseEndpoint(listen["http"], errors, cfg->listen_http);
  cfg->threads = static_cast<int>(root["threads"].integer(errors, 0, 0, 256));
  parseTls(root["tls"], errors, *cfg);
  parseAuth(root["auth"], errors, *cfg);
  parseLimitsAndTimeouts(root, errors, *cfg);
  parseResources(root["resources"], errors, *cfg);
  parseIdentity(root, errors, *cfg);
  parseServices(root, errors, *cfg);
  checkHttpResources(root, errors, *cfg);
  parseMcp(root, errors, *cfg);
  admin.console = parseConsoleSection(root, errors, *cfg);
  if (!root.has("policies")) {
    errors.add(root, "a policies section is required (no rule means no access)");
  } else {
    auto policy = policy::Policy::compile(root["policies"], errors);
    if (policy) {
      cfg->policy = *policy;
    }
  }
  checkStoreDirectory(root, *cfg, errors);
  if (!errors.empty()) {
    std::string msg = errors.joined();
    msg.pop_back();
    return invalidArgument(std::move(msg));
  }
  cfg->admin = std::make_shared<const AdminConfig>(std::move(admin));
  return ConfigPtr(std::move(cfg));
}

}  // namespace

Result<ConfigPtr> parseConfig(std::string_view yaml, const std::string& file_name) {
  auto root = Node::parse(yaml, file_name);
  if (!root) {
    return root.status();
  }
  return build(*root, file_name, yaml);
}

Result<ConfigPtr> loadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalidArgument(fmt::format("{}: cannot open configuration file", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

const char* sslModeName(SslMode m) {
  switch (m) {
    case SslMode::kDisable:
      return "disable";
    case SslMode::kPrefer:
      return "prefer";
    case SslMode::kRequire:
      return "require";
    case SslMode::kVerifyCa:
      return "verify-ca";
    case SslMode::kVerifyFull:
      return "verify-full";
  }
  return "?";
}

}  // namespace jg::server
