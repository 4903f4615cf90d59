// The SQL jitgate runs on an upstream to manage session roles, built from values that are always
// quoted by a Quoter (libpq's PQescapeIdentifier/PQescapeLiteral in production), never spliced.
//
// Also the role comment ("marker") that identifies roles this gateway created, so the reaper
// touches nothing else. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jg::creds {

// Quotes SQL identifiers and literals for one connection's encoding and settings.
class Quoter {
 public:
  virtual ~Quoter() = default;
  virtual std::string identifier(std::string_view name) const = 0;
  virtual std::string literal(std::string_view value) const = 0;
};

// The comment that marks a session role: "jitgate:v1:<instance>:<expires unix seconds>".
std::string roleMarker(std::string_view instance, int64_t expires_unix);

struct Marker {
  std::string instance;
  int64_t expires_unix = 0;
};
// Parses a role comment; nullopt when it is not a jitgate marker.
std::optional<Marker> parseRoleMarker(std::string_view comment);

struct NewRole {
  std::string name;         // e.g. jg_k3x9q2m7ab
  std::string member_of;    // the mapped upstream role
  std::string verifier;     // SCRAM-SHA-256$... (never the plaintext)
  std::string valid_until;  // RFC 3339 UTC timestamp
  std::string marker;       // roleMarker(...)
};

// One round trip, one implicit transaction: CREATE ROLE ... LOGIN INHERIT CONNECTION LIMIT 1
// VALID UNTIL ... PASSWORD '<verifier>' IN ROLE <mapped>; COMMENT ON ROLE; and ALTER ROLE ... SET
// role = <mapped>, so objects a session creates are owned by the mapped role and never block the
// DROP ROLE at session end.
std::string createRoleSql(const Quoter& q, const NewRole& role);

// NOLOGIN (no new logins), terminate its backends, DROP ROLE IF EXISTS — one transaction.
std::string dropRoleSql(const Quoter& q, std::string_view role);
// The fallback when the admin may not signal backends: NOLOGIN and drop only.
std::string dropRoleOnlySql(const Quoter& q, std::string_view role);

// Lists candidate session roles: $1 = prefix. Columns: rolname, comment.
inline constexpr std::string_view kListRolesSql =
    "SELECT r.rolname, d.description FROM pg_catalog.pg_roles r "
    "JOIN pg_catalog.pg_shdescription d ON d.objoid = r.oid "
    "AND d.classoid = 'pg_catalog.pg_authid'::regclass "
    "WHERE starts_with(r.rolname, $1) AND d.description LIKE 'jitgate:%'";

}  // namespace jg::creds
