// creds::Issuer: one upstream login per session, living no longer than the session's grant.
//
// For an `ephemeral` resource, issue() creates a PostgreSQL login role `<prefix><random>` with a
// random 32-byte password (sent to the server only as a SCRAM-SHA-256 verifier), CONNECTION
// LIMIT 1, VALID UNTIL the earliest of the caller's deadline and the resource's max_ttl, member
// of exactly the upstream role mapped from the policy role, and marked with a comment naming this
// gateway instance. release() ends the role's backends and drops it. reap() drops roles of this
// instance that no live lease accounts for (left by a crash), roles of other instances known to be
// gone (setDeadInstances: replicas that stopped beating in the shared store) and expired roles of
// any jitgate instance, ending their backends; it touches only roles with the prefix AND the
// marker. For a `static` resource, issue() returns the fixed login and release() does nothing.
//
// Thread-safe; one Issuer per gateway. Every call may block on the network (libpq): call it from
// a worker thread, not an I/O thread. Errors carry a SQLSTATE (08001 cannot set up the upstream
// login, 28000 no role for this session) and a message a client can act on; passwords never
// appear in errors or logs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "core/status.h"
#include "creds/secret.h"
#include "creds/settings.h"

namespace jg::creds {

class AdminPool;

struct Lease {
  std::string resource;
  std::string user;  // the login to present upstream
  Secret password;   // never log
  std::chrono::system_clock::time_point valid_until;
  std::string role_name;  // the session role; empty for static credentials
  std::string member_of;  // the mapped upstream role (ephemeral)
  bool ephemeral() const { return !role_name.empty(); }
};

class Issuer {
 public:
  // Validates settings; does not connect (an unreachable upstream must not stop the gateway).
  // `instance_id` names this gateway process in role markers: stable across restarts of the same
  // replica (so a restart reaps what a crash left) and distinct between replicas sharing an
  // upstream. 1-64 characters.
  static Result<std::unique_ptr<Issuer>> create(std::map<std::string, ResourceCreds> resources,
                                                std::string instance_id, const Clock& clock);
  ~Issuer();  // stops the reaper; does not drop live roles (release them first)

  // REQUIRES: `not_after` = min(grant expiry, token expiry). `session_id` is only logged.
  Result<Lease> issue(std::string_view resource, std::string_view policy_role,
                      std::string_view session_id, std::chrono::system_clock::time_point not_after);

  // Ends the role's backends and drops it; best effort (failures are logged and the reaper
  // retries, since the role no longer counts as live). No-op for static leases.
  void release(const Lease& lease);

  // Names other gateway instances that are gone (they stopped beating in a shared store); their
  // session roles are orphans this gateway reaps. Asked once per reap() pass, on the reaper's
  // thread; set it before startReaper(). Unset: no other instance is known to be gone.
  void setDeadInstances(std::function<std::set<std::string>()> dead);

  // Drops orphaned and expired session roles on every ephemeral resource; returns how many.
  size_t reap();
  // Runs reap() now in a background thread and then every `every`. stop() joins it.
  void startReaper(std::chrono::seconds every);
  void stop();

  // Verifies the admin connection's privileges and the role map, and proves the whole path with a
  // trial session role; `report` gets one line per check with the fix for each failure. Returns
  // an error when anything is missing. Blocking; for `jitgate creds check`.
  Status check(std::string_view resource, std::string& report);

  const ResourceCreds* settings(std::string_view resource) const;
  size_t liveCount() const;

 private:
  Issuer(std::map<std::string, ResourceCreds> resources, std::string instance_id,
         const Clock& clock);
  struct Resource;
  Result<Lease> issueEphemeral(Resource& r, std::string_view policy_role,
                               std::string_view session_id,
                               std::chrono::system_clock::time_point not_after);
  bool dropRole(Resource& r, const std::string& role, std::string_view why);
  size_t reapResource(Resource& r, const std::set<std::string>& dead);

  std::map<std::string, std::unique_ptr<Resource>, std::less<>> resources_;
  const std::string instance_;
  const Clock& clock_;

  mutable std::mutex live_mu_;
  std::set<std::string> live_;  // roles being created or in use by this process

  std::function<std::set<std::string>()> dead_instances_;  // set before the reaper starts
  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace jg::creds
