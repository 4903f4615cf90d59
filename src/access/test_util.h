// Test helpers for the access module: identities, review requests and a Broker on a SQLite
// store in a temporary directory with a manual clock. Tests only.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "access/broker.h"
#include "core/random.h"
#include "store/sqlite_store.h"

namespace jg::access::testing {

inline identity::Identity person(const std::string& sub, std::vector<std::string> groups = {},
                                 std::string email = {}) {
  identity::Identity id;
  id.issuer = "https://idp.test";
  id.subject = sub;
  id.email = email.empty() ? sub + "@example.com" : email;
  id.groups = std::move(groups);
  return id;
}

inline ReviewRequest sessionRequest(const identity::Identity& who, int count = 1) {
  ReviewRequest r;
  r.requester = who;
  r.scope = Scope::kSession;
  r.resource = "kb";
  r.role = "reader";
  r.rule_id = "pii-review";
  r.reason = "incident 42";
  r.spec.approver_groups = {"data-owners"};
  r.spec.approver_count = count;
  r.spec.grant = std::chrono::hours(1);
  r.spec.scope = policy::ReviewSpec::Scope::kSession;
  return r;
}

inline ReviewRequest statementRequest(const identity::Identity& who, std::string fingerprint,
                                      std::string params_hash = "p0") {
  ReviewRequest r = sessionRequest(who);
  r.scope = Scope::kStatement;
  r.spec.scope = policy::ReviewSpec::Scope::kStatement;
  r.spec.mode = policy::ReviewSpec::Mode::kFailFast;
  r.statement_text = "SELECT email FROM crm.customers WHERE id = $1";
  r.fingerprint = std::move(fingerprint);
  r.params_hash = std::move(params_hash);
  return r;
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("jg-access-" + randomId(10))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Collects events; thread-safe.
class EventLog {
 public:
  EventSink sink() {
    return [this](const AccessEvent& e) {
      std::lock_guard lk(mu_);
      events_.push_back(e);
    };
  }
  std::vector<std::string> names() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      out.emplace_back(eventName(e.type));
    }
    return out;
  }
  std::vector<AccessEvent> events() {
    std::lock_guard lk(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<AccessEvent> events_;
};

}  // namespace jg::access::testing
