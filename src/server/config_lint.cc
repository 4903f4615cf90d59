// lintConfig and restartOnlyChanges: cross-checks between the sections of a configuration.
#include "server/config_lint.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

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
void checkRuleResources(const policy::Rule& r, const GatewayConfig& cfg, config::Errors& errors) {
  const auto names = resourceNames(cfg);
  for (const auto& glob : r.resources) {
    bool any = std::any_of(names.begin(), names.end(), [&](std::string_view n) {
      return policy::globMatch(glob, std::string(n));
    });
    if (any) {
      continue;
    }
    std::string guess = config::closestWord(glob, names);
    errors.warnRaw(fmt::format(
        "{}: policies[{}].match.resource: no resource is named '{}'{} (resources: {}); the rule "
        "never applies",
        r.where, r.id, glob, guess.empty() ? "" : "; did you mean '" + guess + "'?",
        joinedNames(names)));
  }
}

// A `role:` must be mapped by every resource with minted credentials the rule can apply to;
// otherwise a session it admits fails to log in upstream (28000).
void checkRuleRole(const policy::Rule& r, const GatewayConfig& cfg, config::Errors& errors) {
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
    errors.warnRaw(fmt::format(
        "{}: policies[{}].role: resource '{}' maps no role '{}'{} (roles: {}); sessions it "
        "admits would fail to log in upstream",
        r.where, r.id, res.name, r.role, guess.empty() ? "" : "; did you mean '" + guess + "'?",
        joinedNames(mapped)));
  }
}

// The SQLite store's directory must exist and be writable by the gateway.
void checkStore(const config::Node& root, const GatewayConfig& cfg, config::Errors& errors) {
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

}  // namespace

void lintConfig(const config::Node& root, const GatewayConfig& cfg, config::Errors& errors) {
  checkStore(root, cfg, errors);
  if (!cfg.policy) {
    return;
  }
  for (uint32_t i = 0; i < cfg.policy->ruleCount(); ++i) {
    const policy::Rule& r = cfg.policy->rule(i);
    if (r.guardrail != policy::Guardrail::kNone || r.id.starts_with("builtin:")) {
      continue;
    }
    checkRuleResources(r, cfg, errors);
    checkRuleRole(r, cfg, errors);
  }
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
