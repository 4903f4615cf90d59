// Identity: who is calling, as established from a verified OIDC token.
//
// This is the value that policy, approvals, credentials and the audit log see. It never holds
// the token itself. Plain value type; copyable; thread-compatible.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace jg::identity {

struct Identity {
  std::string issuer;
  std::string subject;    // `sub`
  std::string email;      // may be empty
  std::string name;       // display name, may be empty
  std::string client_id;  // `client_id` / `azp`; set for service accounts
  std::vector<std::string> groups;
  std::vector<std::string> scopes;
  bool service_account = false;  // token obtained by client credentials (no end user)
  std::chrono::system_clock::time_point expires_at{};
  std::string token_hash;  // hex SHA-256 of the token: lets sessions share a cache entry

  bool inGroup(const std::string& g) const {
    for (const auto& x : groups) {
      if (x == g) {
        return true;
      }
    }
    return false;
  }
  // The best human-readable handle: email, else subject.
  const std::string& display() const { return email.empty() ? subject : email; }
};

}  // namespace jg::identity
