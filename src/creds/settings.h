// Per-resource credential settings: how jitgate obtains the upstream login for a session.
//
// Two modes. `ephemeral` (the default when an `admin:` block is present): an admin connection with
// CREATEROLE creates one login role per session, a member of the upstream role mapped from the
// policy role, and drops it when the session ends. `static`: every session logs in as the fixed
// `upstream.user` with the password from `upstream.password_file`/`password_env` — the weaker
// choice, for upstreams where CREATEROLE is not available. Secrets come from files or
// environment variables, never inline. Parsed once at startup; immutable afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "config/node.h"
#include "creds/secret.h"

namespace jg::creds {

enum class Mode { kEphemeral, kStatic };
const char* modeName(Mode m);

// A libpq connection target. `sslmode` is a libpq sslmode word.
struct ConnTarget {
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string database;
  std::string user;
  Secret password;
  std::string sslmode = "prefer";
  std::string sslrootcert;
  std::string where() const;  // "user@host:port/database", for messages
};

struct ResourceCreds {
  std::string resource;  // the resource name clients connect to
  Mode mode = Mode::kStatic;
  // ephemeral: the admin connection (CREATEROLE). static: the fixed upstream login.
  ConnTarget admin;
  // The upstream endpoint sessions log in to (host, port, database, sslmode; no user).
  ConnTarget upstream;
  std::map<std::string, std::string> roles;  // policy role -> upstream role
  std::chrono::seconds max_ttl{std::chrono::hours(8)};
  std::string prefix = "jg_";
  int pool_size = 2;  // admin connections kept open
  // PBKDF2 iterations of the session role's SCRAM verifier. The password is 32 random bytes,
  // so key stretching adds no strength; a low count makes role creation and login faster.
  int scram_iterations = 16;
};

// Reads the credential keys of one `resources[i]` entry: `upstream` (endpoint and, for static,
// user/password_file/password_env), `admin` {user, password_file | password_env, host, port,
// database, sslmode, sslrootcert}, `roles` {policy role: upstream role}, `credentials`
// (`ephemeral` | `static`, or a map {mode, prefix, pool_size, scram_iterations}) and `max_ttl`.
// Relative file paths are relative to the configuration file.
ResourceCreds parseResourceCreds(const config::Node& resource, config::Errors& errors);

// All entries of a `resources:` list, by name.
std::map<std::string, ResourceCreds> parseAllResourceCreds(const config::Node& resources,
                                                           config::Errors& errors);

}  // namespace jg::creds
