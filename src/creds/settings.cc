#include "creds/settings.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

namespace jg::creds {
namespace {

using config::Errors;
using config::Node;

// password_file or password_env; inline passwords are refused.
Secret parsePassword(const Node& n, Errors& errors, bool required) {
  auto secret = config::readPassword(n, errors, required);
  return secret ? Secret(std::move(*secret)) : Secret();
}

std::string parseSslMode(const Node& n, Errors& errors, std::string def) {
  return n.oneOf(errors, {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
                 std::move(def));
}

void parseEndpoint(const Node& n, Errors& errors, ConnTarget& t) {
  t.host = n["host"].str(errors, t.host);
  t.port = static_cast<uint16_t>(n["port"].integer(errors, t.port, 1, 65535));
  t.database = n["database"].str(errors, t.database);
  t.sslmode = parseSslMode(n["sslmode"], errors, t.sslmode);
  if (n.has("sslrootcert")) {
    t.sslrootcert = n["sslrootcert"].path(errors);
  }
}

bool validPrefix(const std::string& p) {
  if (p.empty() || p.size() > 24 ||
      !(std::islower(static_cast<unsigned char>(p[0])) || p[0] == '_')) {
    return false;
  }
  for (char c : p) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

void parseCredentialsKey(const Node& c, Errors& errors, ResourceCreds& rc) {
  if (!c.defined()) {
    return;
  }
  std::string mode = modeName(rc.mode);
  if (c.isScalar()) {
    mode = c.oneOf(errors, {"ephemeral", "static"}, mode);
  } else {
    c.checkKeys(errors, {"mode", "prefix", "pool_size", "scram_iterations"});
    mode = c["mode"].oneOf(errors, {"ephemeral", "static"}, mode);
    rc.prefix = c["prefix"].str(errors, rc.prefix);
    if (!validPrefix(rc.prefix)) {
      errors.add(c["prefix"],
                 "a role prefix is 1-24 characters of a-z, 0-9 and _, starting "
                 "with a letter or _");
    }
    rc.pool_size = static_cast<int>(c["pool_size"].integer(errors, rc.pool_size, 1, 32));
    rc.scram_iterations =
        static_cast<int>(c["scram_iterations"].integer(errors, rc.scram_iterations, 1, 100'000));
  }
  rc.mode = mode == "static" ? Mode::kStatic : Mode::kEphemeral;
}

void parseRoles(const Node& r, Errors& errors, ResourceCreds& rc) {
  if (!r.defined()) {
    return;
  }
  if (!r.isMap()) {
    errors.add(r, "expected a map from policy roles to upstream roles, e.g. { reader: kb_reader }");
    return;
  }
  for (const auto& key : r.keys()) {
    std::string upstream = r[key].requiredStr(errors);
    if (key.empty() || upstream.empty()) {
      errors.add(r[key], "role names must not be empty");
      continue;
    }
    if (upstream.size() > 63) {
      errors.add(r[key], "PostgreSQL role names are at most 63 bytes");
      continue;
    }
    rc.roles[key] = upstream;
  }
}

}  // namespace

const char* modeName(Mode m) {
  return m == Mode::kEphemeral ? "ephemeral" : "static";
}

std::string ConnTarget::where() const {
  return fmt::format("{}@{}:{}/{}", user, host, port, database);
}

ResourceCreds parseResourceCreds(const Node& resource, Errors& errors) {
  ResourceCreds rc;
  rc.resource = resource["name"].str(errors);
  Node u = resource["upstream"];
  rc.upstream.database = rc.resource;
  parseEndpoint(u, errors, rc.upstream);
  Node admin = resource["admin"];
  rc.mode = admin.defined() ? Mode::kEphemeral : Mode::kStatic;
  parseCredentialsKey(resource["credentials"], errors, rc);
  auto ttl = resource["max_ttl"].duration(errors, rc.max_ttl);
  if (ttl < std::chrono::seconds(10) || ttl > std::chrono::hours(24 * 30)) {
    errors.add(resource["max_ttl"], "max_ttl must be between 10s and 30d");
  }
  rc.max_ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  parseRoles(resource["roles"], errors, rc);

  if (rc.mode == Mode::kStatic) {
    // The fixed login is the upstream's own user and password.
    rc.admin.host = rc.upstream.host;
    rc.admin.port = rc.upstream.port;
    rc.admin.database = rc.upstream.database;
    rc.admin.sslmode = rc.upstream.sslmode;
    rc.admin.sslrootcert = rc.upstream.sslrootcert;
    rc.admin.user = u["user"].str(errors);
    rc.admin.password = parsePassword(u, errors, /*required=*/false);
    if (admin.defined()) {
      errors.add(admin, "an admin connection is only used with credentials: ephemeral");
    }
    return rc;
  }
  if (!admin.defined()) {
    errors.add(admin,
               "required for credentials: ephemeral (a user with CREATEROLE and its "
               "password_file or password_env)");
    return rc;
  }
  admin.checkKeys(errors, {"user", "password_file", "password_env", "password", "host", "port",
                           "database", "sslmode", "sslrootcert"});
  rc.admin.host = rc.upstream.host;
  rc.admin.port = rc.upstream.port;
  rc.admin.database = rc.upstream.database;
  rc.admin.sslmode = rc.upstream.sslmode;
  rc.admin.sslrootcert = rc.upstream.sslrootcert;
  parseEndpoint(admin, errors, rc.admin);
  rc.admin.user = admin["user"].requiredStr(errors);
  rc.admin.password = parsePassword(admin, errors, /*required=*/true);
  if (rc.roles.empty()) {
    errors.add(resource["roles"],
               "credentials: ephemeral needs a role map, e.g. "
               "roles: { reader: kb_reader }");
  }
  return rc;
}

std::map<std::string, ResourceCreds> parseAllResourceCreds(const Node& resources, Errors& errors) {
  std::map<std::string, ResourceCreds> out;
  if (!resources.isSequence()) {
    return out;
  }
  for (size_t i = 0; i < resources.size(); ++i) {
    if (resources.at(i)["kind"].str(errors) == "http") {
      continue;  // HTTP resources have their own credential (server/http_config.h)
    }
    ResourceCreds rc = parseResourceCreds(resources.at(i), errors);
    if (!rc.resource.empty()) {
      out.emplace(rc.resource, std::move(rc));
    }
  }
  return out;
}

}  // namespace jg::creds
