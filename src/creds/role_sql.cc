#include "creds/role_sql.h"

#include <fmt/format.h>

#include <charconv>

namespace jg::creds {
namespace {
constexpr std::string_view kMarkerPrefix = "jitgate:v1:";
}  // namespace

std::string roleMarker(std::string_view instance, int64_t expires_unix) {
  return fmt::format("{}{}:{}", kMarkerPrefix, instance, expires_unix);
}

std::optional<Marker> parseRoleMarker(std::string_view comment) {
  if (!comment.starts_with(kMarkerPrefix)) {
    return std::nullopt;
  }
  comment.remove_prefix(kMarkerPrefix.size());
  size_t colon = comment.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::nullopt;
  }
  Marker m;
  m.instance = std::string(comment.substr(0, colon));
  std::string_view num = comment.substr(colon + 1);
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), m.expires_unix);
  if (ec != std::errc() || end != num.data() + num.size() || num.empty()) {
    return std::nullopt;
  }
  return m;
}

std::string createRoleSql(const Quoter& q, const NewRole& role) {
  const std::string name = q.identifier(role.name);
  const std::string mapped = q.identifier(role.member_of);
  return fmt::format(
      "CREATE ROLE {0} WITH LOGIN INHERIT CONNECTION LIMIT 1 VALID UNTIL {1} PASSWORD {2} "
      "IN ROLE {3}; COMMENT ON ROLE {0} IS {4}; ALTER ROLE {0} SET role = {5}",
      name, q.literal(role.valid_until), q.literal(role.verifier), mapped, q.literal(role.marker),
      q.literal(role.member_of));
}

std::string dropRoleSql(const Quoter& q, std::string_view role) {
  const std::string name = q.identifier(role);
  return fmt::format(
      "ALTER ROLE {0} NOLOGIN; "
      "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity "
      "WHERE usename = {1} AND pid <> pg_catalog.pg_backend_pid(); "
      "DROP ROLE IF EXISTS {0}",
      name, q.literal(role));
}

std::string dropRoleOnlySql(const Quoter& q, std::string_view role) {
  return fmt::format("DROP ROLE IF EXISTS {}", q.identifier(role));
}

}  // namespace jg::creds
