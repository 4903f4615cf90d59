// lintConfig and restartOnlyChanges: cross-checks between the sections of a configuration.
#include "server/config_lint.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "config/suggest.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace jg::server {
namespace {

std::string joinedNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) {
    out += out.empty() ? "" : ", ";
    out += n;
  }
  return out.empty() ? "none" : out;
}

std::vector<std::string_view> resourceNames(const GatewayConfig& cfg) {
  std::vector<std::string_view> names;
  for (const auto& r : cfg.resources) {
    names.push_back(r.name);
  }
  return names;
}

// A rule whose `match.resource` names no configured resource never applies.
void checkRuleResources(const policy::Rule& r, const GatewayConfig& cfg,
                        std::vector<std::string>& out) {
  const auto names = resourceNames(cfg);
  for (const auto& glob : r.resources) {
    bool any = std::any_of(names.begin(), names.end(), [&](std::string_view n) {
      return policy::globMatch(glob, std::string(n));
    });
    if (any) {
      continue;
    }
    std::string guess = config::closestWord(glob, names);
    out.push_back(fmt::format(
        "{}: policies[{}].match.resource: no resource is named '{}'{} (resources: {}); the rule "
        "never applies",
        r.where, r.id, glob, guess.empty() ? "" : "; did you mean '" + guess + "'?",
        joinedNames(names)));
  }
}

// A `role:` must be mapped by every resource with minted credentials the rule can apply to;
// otherwise a session it admits fails to log in upstream (28000).
void checkRuleRole(const policy::Rule& r, const GatewayConfig& cfg, std::vector<std::string>& out) {
  if (r.role.empty()) {
    return;
  }
  for (const auto& res : cfg.resources) {
    bool applies = r.resources.empty() ||
                   std::any_of(r.resources.begin(), r.resources.end(), [&](const std::string& g) {
                     return policy::globMatch(g, res.name);
                   });
    auto creds = cfg.creds.find(res.name);
    if (!applies || res.isHttp() || creds == cfg.creds.end() ||
        creds->second.mode != creds::Mode::kEphemeral || creds->second.roles.contains(r.role)) {
      continue;
    }
    std::vector<std::string_view> mapped;
    for (const auto& [key, upstream] : creds->second.roles) {
      mapped.push_back(key);
    }
    std::string guess = config::closestWord(r.role, mapped);
    out.push_back(fmt::format(
        "{}: policies[{}].role: resource '{}' maps no role '{}'{} (roles: {}); sessions it "
        "admits would fail to log in upstream",
        r.where, r.id, res.name, r.role, guess.empty() ? "" : "; did you mean '" + guess + "'?",
        joinedNames(mapped)));
  }
}

// The SQLite store's directory must exist and be writable by the gateway.
}  // namespace

void checkStoreDirectory(const config::Node& root, const GatewayConfig& cfg,
                         config::Errors& errors) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (!root.has("store") || !cfg.store_url.starts_with(kSqlite)) {
    return;
  }
  std::filesystem::path file(cfg.store_url.substr(kSqlite.size()));
  std::filesystem::path dir = file.parent_path().empty() ? "." : file.parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    errors.add(root["store"], fmt::format("the directory {} does not exist", dir.string()));
  } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    errors.add(root["store"],
               fmt::format("the directory {} is not writable by this user", dir.string()));
  }
}

namespace {

// `allow: select` where `allow: [select]` is meant: read as a list of one, but reported.
void checkLists(const config::Node& rule, std::vector<std::string>& out) {
  auto check = [&out](const config::Node& n) {
    if (n.defined() && n.isScalar()) {
      out.push_back(fmt::format("{}: expected a list: write [{}], not a single value", n.where(),
                                n.raw().Scalar()));
    }
  };
  for (const char* key : {"allow", "deny", "review", "unlock"}) {
    check(rule[key]);
  }
  for (const char* key : {"kinds", "tables", "columns", "functions"}) {
    check(rule["match"][key]);
  }
}

// Settings a rule accepts but that cannot change a decision.
void checkNoEffect(const config::Node& n, const policy::Rule& r, std::vector<std::string>& out) {
  if (r.effect == policy::Effect::kDeny) {
    for (const char* key : {"role", "mask", "row_limit", "read_only"}) {
      if (n[key].defined()) {
        out.push_back(n[key].where() + ": has no effect on a deny rule");
      }
    }
  }
  bool selects = !r.has_kinds || r.kinds.has(sql::Kind::kSelect);
  if (r.catalog && r.tables.empty() && r.columns.empty() && selects) {
    out.push_back(n["catalog"].where() +
                  ": has no effect: the rule names no tables or columns, so it already allows "
                  "catalog reads");
  }
}

const policy::Rule* ruleById(const policy::Policy& p, const std::string& id) {
  for (uint32_t i = 0; i < p.ruleCount(); ++i) {
    if (p.rule(i).id == id) {
      return &p.rule(i);
    }
  }
  return nullptr;
}

std::atomic<uint64_t> restart_only_counted{0};

}  // namespace

std::vector<std::string> configWarnings(const config::Node& root, const GatewayConfig& cfg) {
  std::vector<std::string> out;
  if (!cfg.policy) {
    return out;
  }
  const config::Node rules = root["policies"];
  for (size_t i = 0; rules.isSequence() && i < rules.size(); ++i) {
    const config::Node n = rules.at(i);
    if (!n.isMap()) {
      continue;
    }
    checkLists(n, out);
    const policy::Rule* r = ruleById(*cfg.policy, n["id"].raw().as<std::string>(""));
    if (r == nullptr) {
      continue;
    }
    checkNoEffect(n, *r, out);
    checkRuleResources(*r, cfg, out);
    checkRuleRole(*r, cfg, out);
  }
  return out;
}

std::vector<std::string> configWarnings(const GatewayConfig& cfg) {
  auto root = config::Node::loadFile(cfg.file);
  return root ? configWarnings(*root, cfg) : std::vector<std::string>{};
}

void countRestartOnlyChanges(size_t n) {
  restart_only_counted.fetch_add(n);
}

uint64_t restartOnlyChangesCounted() {
  return restart_only_counted.load();
}

std::vector<std::string> restartOnlyChanges(const GatewayConfig& before,
                                            const GatewayConfig& after) {
  std::vector<std::string> out;
  auto differ = [&out](const char* key, const auto& a, const auto& b) {
    if (!(a == b)) {
      out.emplace_back(key);
    }
  };
  differ("listen.postgres", before.listen_postgres.str(), after.listen_postgres.str());
  differ("listen.admin", before.listen_admin.str(), after.listen_admin.str());
  differ("listen.http", before.listen_http.str(), after.listen_http.str());
  differ("threads", before.threads, after.threads);
  differ("store", before.store_url, after.store_url);
  differ("audit", before.audit.has_value(), after.audit.has_value());
  if (before.audit && after.audit) {
    differ("audit.dir", before.audit->dir, after.audit->dir);
  }
  differ("instance", before.instance, after.instance);
  differ("replicas.heartbeat", before.replicas.heartbeat, after.replicas.heartbeat);
  differ("replicas.dead_after", before.replicas.dead_after, after.replicas.dead_after);
  differ("replicas.reap_every", before.replicas.reap_every, after.replicas.reap_every);
  differ("upstream_tokens.key_file", before.upstream_token_key_file, after.upstream_token_key_file);
  differ("upstream_tokens.issuer", before.upstream_token_issuer, after.upstream_token_issuer);
  // Minted credentials: the issuer is built at startup with each resource's admin and roles.
  for (const auto& [name, rc] : after.creds) {
    auto old = before.creds.find(name);
    bool was_minted = old != before.creds.end() && old->second.mode == creds::Mode::kEphemeral;
    if (!was_minted && rc.mode != creds::Mode::kEphemeral) {
      continue;
    }
    if (!was_minted || old->second.roles != rc.roles || old->second.mode != rc.mode) {
      out.push_back("resources[" + name + "].roles");
    }
  }
  return out;
}

}  // namespace jg::server
