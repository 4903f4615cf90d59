// The PostgreSQL state store URL: postgresql://user@host:port/dbname?key=value&...
//
// Parsing is pure and thread-safe. The URL never carries a password (one in it is refused): the
// password comes from `password_file=` or the JITGATE_STORE_PASSWORD / PGPASSWORD environment,
// so a URL can be printed as is; redactUrl() still masks a password (and drops the query) for
// messages about URLs that failed to parse. TLS is required unless the host is loopback and the
// URL says otherwise (see docs/store.md).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jg::store {

struct PgUrl {
  std::string host = "localhost";
  int port = 5432;
  std::string user;
  std::string dbname;
  std::string sslmode;  // as given, or the default for the host (see parsePgUrl)
  std::string sslrootcert;
  std::string sslcert;
  std::string sslkey;
  std::string password_file;
  int pool_size = 4;
  std::chrono::milliseconds pool_timeout{5000};  // wait for a free connection at most this long
  int connect_timeout_s = 5;
  std::string application_name = "jitgate";
};

inline constexpr int kMaxPoolSize = 64;

// Parses and validates a postgresql:// or postgres:// URL. Query keys: sslmode, sslrootcert,
// sslcert, sslkey, password_file, pool_size (1..64), pool_timeout_ms, connect_timeout (seconds),
// application_name. Default sslmode: verify-full when sslrootcert is named, require otherwise;
// a non-loopback host refuses disable, allow and prefer.
Result<PgUrl> parsePgUrl(std::string_view url);

// True for localhost, 127.0.0.0/8, ::1 and Unix socket directories (a host starting with '/').
bool isLoopbackHost(std::string_view host);

// `url` with any password replaced by "***" and the query string dropped, for messages.
std::string redactUrl(std::string_view url);

// "user@host:port/dbname", for messages.
std::string describe(const PgUrl& u);

}  // namespace jg::store
