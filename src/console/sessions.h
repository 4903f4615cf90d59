// Server-side state of the console's browsers: signed-in sessions (behind the session cookie)
// and sign-ins in progress (behind the OIDC `state` parameter).
//
// A session is a random id (the cookie value; 256 bits), the person's Identity from the
// verified access token, a per-session CSRF token and an expiry. A pending sign-in holds the
// PKCE verifier and the nonce until the issuer redirects back; it is taken exactly once. Both
// stores are bounded: when full, expired entries are dropped and, if none was, the new entry is
// refused (nothing live is ever evicted). Time comes from the Clock, so tests drive expiry.
//
// Thread-safe (one mutex per store); the Clock must outlive the store.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "identity/identity.h"

namespace jg::console {

struct Session {
  std::string id;  // the cookie value
  std::string csrf_token;
  identity::Identity who;
  std::chrono::system_clock::time_point expires_at{};
};

class SessionStore {
 public:
  SessionStore(const Clock& clock, std::chrono::seconds ttl, size_t max_sessions)
      : clock_(clock), ttl_(ttl), max_(max_sessions) {}

  // A new session for `who`, ending at the earlier of now + ttl and the token's expiry.
  // ResourceExhausted when max_sessions live sessions exist.
  [[nodiscard]] Result<Session> create(identity::Identity who);
  // The live session with this id; nullopt when unknown or expired.
  std::optional<Session> find(const std::string& id) const;
  // Ends the session (sign-out); false when there was none.
  bool remove(const std::string& id);
  size_t size() const;

 private:
  void dropExpired();  // REQUIRES: mu_ held

  const Clock& clock_;
  const std::chrono::seconds ttl_;
  const size_t max_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

struct PendingLogin {
  std::string state;
  std::string nonce;
  std::string code_verifier;
  std::chrono::system_clock::time_point expires_at{};
};

class LoginStore {
 public:
  LoginStore(const Clock& clock, std::chrono::seconds ttl, size_t max_pending)
      : clock_(clock), ttl_(ttl), max_(max_pending) {}

  // A new sign-in: fresh state, nonce and PKCE verifier. ResourceExhausted when full.
  [[nodiscard]] Result<PendingLogin> begin();
  // The sign-in with this state, removed (a state works once); nullopt when unknown or expired.
  std::optional<PendingLogin> take(const std::string& state);

 private:
  const Clock& clock_;
  const std::chrono::seconds ttl_;
  const size_t max_;
  std::mutex mu_;
  std::map<std::string, PendingLogin> pending_;
};

}  // namespace jg::console
