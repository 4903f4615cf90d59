// GatewayConfig: the validated, immutable configuration of one gateway process.
//
// Loaded from YAML by loadConfig(), which reports every problem at once with file, line and key
// (see config/node.h). Sessions hold a shared_ptr to the snapshot that was current when they
// started; SIGHUP swaps in a new snapshot atomically. Module sections (identity, policies,
// masking, audit, store) are parsed by their modules and composed here.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "access/settings.h"
#include "audit/settings.h"
#include "core/status.h"
#include "creds/settings.h"
#include "identity/settings.h"
#include "mask/settings.h"
#include "server/http_config.h"
#include "server/mcp_config.h"

namespace jg::policy {
class Policy;
}

namespace jg::server {

enum class SslMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

struct UpstreamConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string database;
  SslMode sslmode = SslMode::kPrefer;
  std::string sslrootcert;  // CA file for verify-ca / verify-full
  std::string user;         // static credential (creds `static` mode)
  std::string password;     // read from password_file or password_env; never logged
  bool has_password = false;
  // The session's search_path, pinned in every upstream startup packet (a client's startup
  // search_path replaces it) so that the gateway resolves names exactly as the server does.
  std::string search_path = "public";
};

struct ResourceConfig {
  std::string name;  // what clients put in `database`
  std::string kind = "postgres";
  UpstreamConfig upstream;
  // Document lineage: ids in this column of results from this table are indexed in the audit
  // log ("who retrieved document 42"). Empty when not configured.
  std::string documents_schema, documents_table, documents_id_column;
  // kind == "http": the HTTP resource (mount, upstream URL, credential, masking).
  std::shared_ptr<const HttpResourceConfig> http;
  bool isHttp() const { return http != nullptr; }
};

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  bool require_client_tls = true;
  // Allow asking for a password over plaintext when the listener is on loopback.
  bool allow_plaintext_loopback = false;
  bool enabled() const { return !cert_file.empty(); }
};

struct StaticAuthConfig {
  bool enabled = false;             // `enable_insecure_static: true` is required
  std::string password;             // from password_file
  std::vector<std::string> groups;  // groups of every statically authenticated caller
};

struct AuthConfig {
  // How long a session may outlive its token's `exp` (0 = not at all).
  std::chrono::milliseconds token_grace{0};
};

struct LimitsConfig {
  size_t max_startup_bytes = 10'000;
  size_t max_message_bytes = 256u << 20;
  size_t max_sessions = 10'000;
  // Per session: named prepared statements and portals (protocol level), and SQL-level prepared
  // statements and cursors. The next one past a limit is refused (54000); none is forgotten.
  size_t max_prepared_statements = 10'000;
  size_t max_portals = 10'000;
};

struct TimeoutsConfig {
  std::chrono::milliseconds startup{10'000};
  std::chrono::milliseconds upstream_connect{5'000};
  std::chrono::milliseconds idle{0};  // 0 = none
  std::chrono::milliseconds shutdown_grace{30'000};
};

// `replicas:`: coordination of gateway replicas on one state store (replica_coordinator.h).
struct ReplicasConfig {
  std::chrono::milliseconds heartbeat{5'000};
  std::chrono::milliseconds dead_after{30'000};
  std::chrono::milliseconds reap_every{60'000};  // the credential reaper, replicas or not
};

struct AdminConfig;  // server/admin_config.h: the admin listener's TLS and the web console

struct GatewayConfig {
  std::string file;                          // where it was loaded from
  std::string checksum;  // "sha256:<hex>" of the file's bytes as loaded ("" when built in code)
  std::shared_ptr<const AdminConfig> admin;  // null for a configuration built in code
  Endpoint listen_postgres{"127.0.0.1", 6432};
  Endpoint listen_admin{"127.0.0.1", 0};  // port 0 = admin listener off
  Endpoint listen_http{"127.0.0.1", 0};   // port 0 = HTTP listener off
  HttpLimitsConfig http_limits;
  int threads = 0;  // 0 = number of cores
  TlsConfig tls;
  StaticAuthConfig static_auth;
  AuthConfig auth;
  std::optional<identity::Settings> identity;    // OIDC: set when the `identity` section exists
  std::shared_ptr<const policy::Policy> policy;  // compiled `policies`
  std::optional<mask::Settings> masking;         // set when the `masking` section exists
  std::map<std::string, creds::ResourceCreds> creds;  // upstream credentials, by resource
  std::string store_url;    // the state store (reviews, grants, audit index); empty = none
  access::Settings access;  // reviews and grants
  std::optional<audit::Settings> audit;  // session recording; set when `audit` exists
  // Short-lived JWTs the gateway signs for HTTP upstreams; their JWKS is published on the admin
  // listener at /.well-known/jwks.json. Empty key file = off.
  std::string upstream_token_key_file;
  std::string upstream_token_issuer = "jitgate";
  // Names this gateway in the markers of the session roles it creates; stable across restarts.
  std::string instance;
  LimitsConfig limits;
  TimeoutsConfig timeouts;
  ReplicasConfig replicas;
  std::vector<ResourceConfig> resources;
  std::optional<McpConfig> mcp;  // jitgate's own MCP server; set when `mcp` exists

  const ResourceConfig* resource(std::string_view name) const {
    for (const auto& r : resources) {
      if (r.name == name) {
        return &r;
      }
    }
    return nullptr;
  }
};

using ConfigPtr = std::shared_ptr<const GatewayConfig>;

// Loads and validates; the error message lists every problem, one per line.
Result<ConfigPtr> loadConfig(const std::string& path);
Result<ConfigPtr> parseConfig(std::string_view yaml, const std::string& file_name);

const char* sslModeName(SslMode m);

}  // namespace jg::server
