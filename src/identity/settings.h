// Identity settings: which issuers are trusted, for which audiences, and how their keys are
// fetched and cached. Parsed from the `identity:` section of the gateway configuration:
//
//   identity:
//     issuers:
//       - issuer: https://idp.example            # exact `iss`; https unless allow_insecure_http
//         audiences: [jitgate]                   # the token's `aud` must contain one of these
//         jwks_uri: https://idp.example/keys     # optional; default: OIDC discovery
//         jwks_file: /etc/jitgate/idp-jwks.json  # optional; instead of fetching
//         groups_claim: realm_access.roles       # dotted path into the claims; default groups
//         required_scopes: [db.read]
//         max_token_age: 12h
//     clock_skew: 60s
//     jwks_refresh: 5m
//     jwks_max_staleness: 24h
//     jwks_cache_dir: /var/lib/jitgate/jwks
//
// Plain values, immutable after loading; safe to share between threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "config/node.h"
#include "identity/jwk.h"

namespace jg::identity {

struct IssuerSettings {
  std::string issuer;
  std::vector<std::string> audiences;
  std::string jwks_uri;   // empty: discovered from issuer + /.well-known/openid-configuration
  std::string jwks_file;  // a local JWKS instead of fetching; re-read on refresh
  std::string groups_claim = "groups";
  std::string email_claim = "email";
  std::string name_claim = "name";
  std::vector<std::string> required_scopes;
  std::chrono::seconds max_token_age{0};  // 0: no limit beyond `exp`
  std::vector<Alg> algorithms;            // empty: every supported algorithm
  bool allow_insecure_http = false;       // http:// issuer and key URLs (tests only)
};

struct Settings {
  std::vector<IssuerSettings> issuers;
  std::chrono::seconds clock_skew{60};
  std::chrono::seconds jwks_refresh{300};
  // How long cached keys keep verifying tokens while the provider cannot be reached.
  std::chrono::seconds jwks_max_staleness{std::chrono::hours(24)};
  // Minimum time between two fetches for one issuer (unknown `kid`s cannot hammer the provider).
  std::chrono::seconds min_refresh_interval{10};
  std::chrono::milliseconds http_timeout{5000};
  size_t token_cache_size = 10000;
  size_t max_token_bytes = 16 * 1024;
  std::string jwks_cache_dir;  // empty: keys are cached in memory only
};

Settings parseSettings(const config::Node& section, config::Errors& errors);

// Why these settings cannot work (empty when they can). The same rules parseSettings applies,
// for settings built in code.
std::string settingsProblem(const Settings& settings);

}  // namespace jg::identity
