// checkConfigOnline: the names a configuration uses, looked up on the upstreams.
#include "server/config_online.h"

#include <fmt/format.h>

#include <array>
#include <set>

#include "creds/admin_pool.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace jg::server {
namespace {

bool hasGlob(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// One object to look up: a role, a schema, a table or a column ("*" schema = any schema).
struct Lookup {
  std::string what{};  // "role", "schema", "table", "column"
  std::string schema{};
  std::string table{};
  std::string column{};
  std::string named_by{};  // "policies[read] (gw.yaml:12)"

  std::string name() const {
    std::string s = schema == "*" ? "" : schema;
    for (const auto* part : {&table, &column}) {
      if (!part->empty()) {
        s += (s.empty() ? "" : ".") + *part;
      }
    }
    return s;
  }
};

constexpr const char* kExistsSql[] = {
    "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
    "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
    "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
    "c.relnamespace WHERE ($1 = '*' OR n.nspname = $1) AND c.relname = $2",
    "SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ($1 = '*' OR n.nspname = $1) "
    "AND ($2 = '*' OR c.relname = $2) AND a.attname = $3 AND a.attnum > 0 AND NOT "
    "a.attisdropped",
};

// 1: exists, 0: does not, -1: the query failed (`error` says why).
int exists(PGconn* conn, const Lookup& l, std::string& error) {
  int q = l.what == "role" ? 0 : l.what == "schema" ? 1 : l.what == "table" ? 2 : 3;
  std::array<const char*, 3> params{};
  int n = 0;
  if (q == 0) {
    params[n++] = l.table.c_str();
  } else {
    params[n++] = l.schema.c_str();
    if (q >= 2) {
      params[n++] = l.table.c_str();
    }
    if (q == 3) {
      params[n++] = l.column.c_str();
    }
  }
  creds::PgResultPtr r(
      PQexecParams(conn, kExistsSql[q], n, nullptr, params.data(), nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    error = PQresultErrorMessage(r.get());
    return -1;
  }
  return PQntuples(r.get()) > 0 ? 1 : 0;
}

void addTable(const policy::TablePattern& t, const std::string& by, std::vector<Lookup>& out) {
  if (t.schema != "*" && !hasGlob(t.schema)) {
    out.push_back({.what = "schema", .schema = t.schema, .named_by = by});
  }
  if (!hasGlob(t.schema) && !hasGlob(t.name)) {
    out.push_back({.what = "table", .schema = t.schema, .table = t.name, .named_by = by});
  }
}

// What the rules that can apply to `resource` name.
void policyLookups(const GatewayConfig& cfg, const std::string& resource,
                   std::vector<Lookup>& out) {
  for (uint32_t i = 0; cfg.policy && i < cfg.policy->ruleCount(); ++i) {
    const policy::Rule& r = cfg.policy->rule(i);
    bool applies = r.resources.empty() ||
                   std::any_of(r.resources.begin(), r.resources.end(), [&](const std::string& g) {
                     return policy::globMatch(g, resource);
                   });
    if (r.guardrail != policy::Guardrail::kNone || r.id.starts_with("builtin:") || !applies) {
      continue;
    }
    std::string by = fmt::format("policies[{}] ({})", r.id, r.where);
    for (const auto& t : r.tables) {
      addTable(t, by, out);
    }
    for (const auto& c : r.columns) {
      if (hasGlob(c.column) || (c.table && (hasGlob(c.table->schema) || hasGlob(c.table->name)))) {
        continue;
      }
      out.push_back({.what = "column",
                     .schema = c.table ? c.table->schema : "*",
                     .table = c.table ? c.table->name : "*",
                     .column = c.column,
                     .named_by = by});
    }
  }
}

void maskingLookups(const GatewayConfig& cfg, std::vector<Lookup>& out) {
  if (!cfg.masking) {
    return;
  }
  auto add = [&out](const mask::ProfileSettings& p, const std::string& by) {
    for (const auto& c : p.columns) {
      out.push_back({.what = "column",
                     .schema = c.schema.empty() ? "*" : c.schema,
                     .table = c.table.empty() ? "*" : c.table,
                     .column = c.column,
                     .named_by = by});
    }
  };
  add(cfg.masking->defaults, "masking.columns");
  for (const auto& [name, p] : cfg.masking->profiles) {
    add(p, "masking.profiles." + name + ".columns");
  }
}

int checkResource(const GatewayConfig& cfg, const creds::ResourceCreds& rc, std::string& report) {
  report += fmt::format("resource {} ({}):\n", rc.resource, rc.admin.where());
  auto conn = creds::connectPg(rc.admin, "jitgate check-config");
  if (!conn) {
    report += fmt::format("  FAIL  connect: {}\n", conn.status().message());
    return 1;
  }
  std::vector<Lookup> lookups;
  if (rc.mode == creds::Mode::kEphemeral) {
    for (const auto& [key, upstream] : rc.roles) {
      lookups.push_back({.what = "role", .table = upstream, .named_by = "roles." + key});
    }
  }
  policyLookups(cfg, rc.resource, lookups);
  maskingLookups(cfg, lookups);
  std::set<std::string> seen;
  int failures = 0;
  for (const auto& l : lookups) {
    if (!seen.insert(l.what + " " + l.name() + " " + l.named_by).second) {
      continue;
    }
    std::string error;
    int found = exists(conn->get(), l, error);
    if (found == 1) {
      report += fmt::format("  ok    {} {} ({})\n", l.what, l.name(), l.named_by);
    } else {
      ++failures;
      report += found == 0 ? fmt::format("  FAIL  {} {} named by {} does not exist\n", l.what,
                                         l.name(), l.named_by)
                           : fmt::format("  FAIL  {} {}: {}", l.what, l.name(), error);
    }
  }
  return failures;
}

}  // namespace

int checkConfigOnline(const GatewayConfig& cfg, std::string& report) {
  int failures = 0;
  for (const auto& r : cfg.resources) {
    auto rc = cfg.creds.find(r.name);
    if (r.isHttp() || rc == cfg.creds.end()) {
      continue;
    }
    failures += checkResource(cfg, rc->second, report);
  }
  return failures;
}

}  // namespace jg::server
