#include "creds/issuer.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/log.h"
#include "core/random.h"
#include "creds/admin_pool.h"
#include "creds/role_sql.h"
#include "creds/scram_verifier.h"

namespace jg::creds {

using std::chrono::system_clock;

struct Issuer::Resource {
  ResourceCreds cfg;
  std::unique_ptr<AdminPool> pool;
};

namespace {

// Roles of another instance get this long past VALID UNTIL to be released by their own gateway.
constexpr std::chrono::seconds kForeignGrace{30};

Status setupError(const ResourceCreds& rc, std::string message) {
  return Status::error(Code::kUnavailable,
                       fmt::format("jitgate cannot create the session role on resource {}: {}",
                                   rc.resource, message),
                       "08001");
}

// Turns a failed CREATE ROLE into what the operator has to do about it.
Status explainCreateFailure(const ResourceCreds& rc, const std::string& mapped,
                            const ExecResult& r) {
  const std::string& admin = rc.admin.user;
  if (r.sqlstate == "42501") {
    if (r.message.find("admin option") != std::string::npos ||
        r.message.find("ADMIN") != std::string::npos) {
      return setupError(rc, fmt::format("the admin user {0} may not grant membership in {1} ({2}); "
                                        "run GRANT {1} TO {0} WITH ADMIN OPTION",
                                        admin, mapped, r.message));
    }
    if (r.message.find("superuser") != std::string::npos) {
      return setupError(rc, fmt::format("the upstream role {} is a superuser role and cannot be "
                                        "granted by {} ({}); map to a role with only the "
                                        "privileges the sessions need",
                                        mapped, admin, r.message));
    }
    return setupError(rc, fmt::format("the admin user {0} lacks CREATEROLE ({1}); run ALTER ROLE "
                                      "{0} CREATEROLE",
                                      admin, r.message));
  }
  if (r.sqlstate == "42704") {
    return setupError(rc, fmt::format("the upstream role {} does not exist ({}); create it or "
                                      "fix roles: in the configuration",
                                      mapped, r.message));
  }
  return setupError(rc, fmt::format("{} (SQLSTATE {})", r.message, r.sqlstate));
}

Status explainConnectFailure(const ResourceCreds& rc, const Status& s) {
  std::string hint = s.sqlstate() == "08001"
                         ? "check admin host/port and that the server is up"
                         : "check the admin user and its password_file/password_env, and that "
                           "pg_hba.conf lets it connect";
  return setupError(rc, fmt::format("the admin connection as {} failed: {}; {}", rc.admin.user,
                                    s.message(), hint));
}

}  // namespace

Issuer::Issuer(std::map<std::string, ResourceCreds> resources, std::string instance_id,
               const Clock& clock)
    : instance_(std::move(instance_id)), clock_(clock) {
  for (auto& [name, rc] : resources) {
    auto r = std::make_unique<Resource>();
    r->cfg = std::move(rc);
    if (r->cfg.mode == Mode::kEphemeral) {
      r->pool = std::make_unique<AdminPool>(r->cfg.admin, r->cfg.pool_size);
    }
    resources_.emplace(name, std::move(r));
  }
}

Result<std::unique_ptr<Issuer>> Issuer::create(std::map<std::string, ResourceCreds> resources,
                                               std::string instance_id, const Clock& clock) {
  if (instance_id.empty() || instance_id.size() > 64 ||
      instance_id.find_first_of("'\\\n") != std::string::npos) {
    return invalidArgument("the credentials instance id must be 1-64 characters");
  }
  for (const auto& [name, rc] : resources) {
    if (rc.mode == Mode::kEphemeral && (rc.admin.user.empty() || rc.roles.empty())) {
      return invalidArgument(
          fmt::format("resource {}: ephemeral credentials need an admin user "
                      "and a role map",
                      name));
    }
  }
  return std::unique_ptr<Issuer>(new Issuer(std::move(resources), std::move(instance_id), clock));
}

Issuer::~Issuer() {
  stop();
}

const ResourceCreds* Issuer::settings(std::string_view resource) const {
  auto it = resources_.find(resource);
  return it == resources_.end() ? nullptr : &it->second->cfg;
}

size_t Issuer::liveCount() const {
  std::lock_guard lock(live_mu_);
  return live_.size();
}

Result<Lease> Issuer::issue(std::string_view resource, std::string_view policy_role,
                            std::string_view session_id, system_clock::time_point not_after) {
  auto it = resources_.find(resource);
  if (it == resources_.end()) {
    return Status::error(
        Code::kNotFound,
        fmt::format("resource {} has no upstream credentials configured", resource), "08001");
  }
  Resource& r = *it->second;
  if (r.cfg.mode == Mode::kStatic) {
    Lease lease;
    lease.resource = r.cfg.resource;
    lease.user = r.cfg.admin.user;
    lease.password = r.cfg.admin.password;
    lease.valid_until = not_after;
    return lease;
  }
  return issueEphemeral(r, policy_role, session_id, not_after);
}

Result<Lease> Issuer::issueEphemeral(Resource& r, std::string_view policy_role,
                                     std::string_view session_id,
                                     system_clock::time_point not_after) {
  const ResourceCreds& rc = r.cfg;
  auto mapped = rc.roles.find(std::string(policy_role));
  if (mapped == rc.roles.end()) {
    return Status::error(Code::kPermissionDenied,
                         fmt::format("no upstream role is mapped for policy role \"{}\" on "
                                     "resource {}; add it under roles: in the configuration",
                                     policy_role, rc.resource),
                         "28000");
  }
  const auto now = clock_.now();
  const auto valid_until =
      std::chrono::time_point_cast<std::chrono::seconds>(std::min(not_after, now + rc.max_ttl));
  if (valid_until <= now) {
    return Status::error(Code::kPermissionDenied,
                         fmt::format("the grant for resource {} has already expired", rc.resource),
                         "28000");
  }
  Lease lease;
  lease.resource = rc.resource;
  lease.role_name = rc.prefix + randomId(12);
  lease.user = lease.role_name;
  lease.member_of = mapped->second;
  lease.valid_until = valid_until;
  lease.password = sessionPassword();
  std::string salt(16, '\0');
  randomBytes(salt.data(), salt.size());
  auto verifier = scramVerifier(lease.password.reveal(), salt, rc.scram_iterations);
  if (!verifier) {
    return verifier.status();
  }
  NewRole role{lease.role_name, lease.member_of, std::move(*verifier), formatUtc(valid_until),
               roleMarker(instance_, system_clock::to_time_t(valid_until))};
  {
    // Live before it exists, so a concurrent reap never takes it for an orphan.
    std::lock_guard lock(live_mu_);
    live_.insert(lease.role_name);
  }
  ExecResult result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = r.pool->acquire();
    if (!conn) {
      std::lock_guard lock(live_mu_);
      live_.erase(lease.role_name);
      return explainConnectFailure(rc, conn.status());
    }
    result = execSql(conn->get(), createRoleSql(LibpqQuoter(conn->get()), role));
    if (result.ok || !result.connection_lost) {
      break;
    }
    conn->discard();  // a stale pooled connection (e.g. the upstream restarted): retry once
  }
  if (!result.ok) {
    std::lock_guard lock(live_mu_);
    live_.erase(lease.role_name);
    Status s = explainCreateFailure(rc, lease.member_of, result);
    log::warn(session_id, "{}", s.message());
    return s;
  }
  log::info(session_id, "issued session role {} on resource {} (member of {}, valid until {})",
            lease.role_name, rc.resource, lease.member_of, formatUtc(valid_until));
  return lease;
}

bool Issuer::dropRole(Resource& r, const std::string& role, std::string_view why) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = r.pool->acquire();
    if (!conn) {
      log::warn("", "cannot drop session role {} on resource {} ({}): {}", role, r.cfg.resource,
                why, conn.status().message());
      return false;
    }
    LibpqQuoter q(conn->get());
    ExecResult res = execSql(conn->get(), dropRoleSql(q, role));
    if (res.ok) {
      log::info("", "dropped session role {} on resource {} ({})", role, r.cfg.resource, why);
      return true;
    }
    if (res.sqlstate == "42704") {
      log::debug("", "session role {} on resource {} was already gone", role, r.cfg.resource);
      return false;
    }
    if (res.connection_lost) {
      conn->discard();
      continue;
    }
    if (res.sqlstate == "42501") {
      // Not allowed to signal backends (pg_signal_backend missing): at least drop the role.
      ExecResult only = execSql(conn->get(), dropRoleOnlySql(q, role));
      log::warn("",
                "session role {} on resource {}: cannot end its backends ({}); grant "
                "pg_signal_backend to {}; role {}",
                role, r.cfg.resource, res.message, r.cfg.admin.user,
                only.ok ? "dropped" : "not dropped: " + only.message);
      return only.ok;
    }
    log::warn("", "cannot drop session role {} on resource {} ({}): {} (SQLSTATE {})", role,
              r.cfg.resource, why, res.message, res.sqlstate);
    return false;
  }
  return false;
}

void Issuer::release(const Lease& lease) {
  if (!lease.ephemeral()) {
    return;
  }
  auto it = resources_.find(lease.resource);
  if (it == resources_.end() || !it->second->pool) {
    return;
  }
  {
    std::lock_guard lock(live_mu_);
    live_.erase(lease.role_name);  // from now on the reaper retries if the drop fails
  }
  (void)dropRole(*it->second, lease.role_name, "session ended");
}

size_t Issuer::reapResource(Resource& r, const std::set<std::string>& dead) {
  std::vector<std::pair<std::string, std::string>> victims;  // role, why
  {
    auto conn = r.pool->acquire();
    if (!conn) {
      log::warn("", "reaper: resource {}: {}", r.cfg.resource, conn.status().message());
      return 0;
    }
    ExecResult res = execParams(conn->get(), kListRolesSql, {r.cfg.prefix});
    if (!res.ok) {
      if (res.connection_lost) {
        conn->discard();
      }
      log::warn("", "reaper: resource {}: cannot list session roles: {}", r.cfg.resource,
                res.message);
      return 0;
    }
    const int64_t now = clock_.nowUnixSeconds();
    std::lock_guard lock(live_mu_);
    for (int i = 0; i < PQntuples(res.last.get()); ++i) {
      std::string role = PQgetvalue(res.last.get(), i, 0);
      auto marker = parseRoleMarker(PQgetvalue(res.last.get(), i, 1));
      if (!marker) {
        continue;
      }
      const bool mine = marker->instance == instance_;
      if (mine && !live_.contains(role)) {
        victims.emplace_back(role, "orphaned by an earlier run of this gateway");
      } else if (!mine && dead.contains(marker->instance)) {
        victims.emplace_back(role, "orphaned by gateway " + marker->instance + ", which stopped");
      } else if (marker->expires_unix + (mine ? 0 : kForeignGrace.count()) < now) {
        victims.emplace_back(role, "expired");
      }
    }
  }
  size_t dropped = 0;
  for (const auto& [role, why] : victims) {
    {
      std::lock_guard lock(live_mu_);
      live_.erase(role);
    }
    dropped += dropRole(r, role, why) ? 1 : 0;
  }
  return dropped;
}

void Issuer::setDeadInstances(std::function<std::set<std::string>()> dead) {
  dead_instances_ = std::move(dead);
}

size_t Issuer::reap() {
  std::set<std::string> dead;
  if (dead_instances_) {
    dead = dead_instances_();
    dead.erase(instance_);
  }
  size_t n = 0;
  for (auto& [name, r] : resources_) {
    if (r->pool) {
      n += reapResource(*r, dead);
    }
  }
  return n;
}

void Issuer::startReaper(std::chrono::seconds every) {
  std::lock_guard lock(reaper_mu_);
  if (reaper_.joinable()) {
    return;
  }
  stopping_ = false;
  reaper_ = std::thread([this, every] {
    std::unique_lock lk(reaper_mu_);
    while (!stopping_) {
      lk.unlock();
      size_t n = reap();
      if (n > 0) {
        log::info("", "reaper dropped {} session role(s)", n);
      }
      lk.lock();
      reaper_cv_.wait_for(lk, every, [&] { return stopping_; });
    }
  });
}

void Issuer::stop() {
  {
    std::lock_guard lock(reaper_mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) {
    reaper_.join();
  }
}

}  // namespace jg::creds
