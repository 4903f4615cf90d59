// Verifier: OIDC access token → Identity, for every configured issuer.
//
// One Verifier per gateway, shared by all sessions. verify() checks, in order: size and structure,
// header rules (no `none`/HMAC/embedded keys/unknown crit), the issuer (exactly one of the
// configured ones), the signature with that issuer's keys, then the claims (see claims.h).
// Successful results are cached by token hash until the token's claims stop passing.
// Refusals are Status values with SQLSTATE 28P01 (invalid token) or 28000 (not accepted here,
// keys unavailable) and a message a person can act on; the token never appears in them.
//
// Thread-safe. verify() may block for one HTTP fetch (bounded by http_timeout) when an issuer's
// keys must be fetched; run it off the I/O thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "identity/identity.h"
#include "identity/key_source.h"
#include "identity/settings.h"
#include "identity/token_cache.h"
#include "net/http.h"

namespace jg::identity {

class Verifier {
 public:
  // `clock` must outlive the Verifier. `http` may be null when every issuer uses jwks_file.
  static Result<std::unique_ptr<Verifier>> create(Settings settings, const Clock& clock,
                                                  std::shared_ptr<net::HttpGetter> http);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  Result<Identity> verify(std::string_view token);
  // The identity of a token verified before and still valid, from the cache; never blocks (a
  // hash and a map lookup), so a front end may call it on its I/O thread and go to verify()
  // off the thread only on a miss.
  std::optional<Identity> cached(std::string_view token) const;

  // Fetches every issuer's keys now; returns the first failure (all issuers are attempted).
  // Useful at startup to report a misconfigured issuer early; not required before verify().
  Status refreshKeys();

  // Takes the keys `previous` holds for the same issuers (see KeySource::adoptKeys), so a
  // configuration reload during a provider outage keeps tokens by known keys working.
  void adoptKeys(const Verifier& previous);

  // Refreshes every issuer's keys each jwks_refresh on a background thread, until stop().
  void startBackgroundRefresh();
  void stop();

  const Settings& settings() const { return settings_; }
  // Ok when every issuer's signing keys are loaded (fetched, or read from the disk cache);
  // otherwise names the issuers without keys (for /readyz).
  Status keysLoaded() const;
  size_t cachedTokens() const { return cache_.size(); }

 private:
  Verifier(Settings settings, const Clock& clock, std::shared_ptr<net::HttpGetter> http);
  void refreshLoop();

  const Settings settings_;
  const Clock& clock_;
  std::vector<std::unique_ptr<KeySource>> sources_;
  TokenCache cache_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stopping_ = false;
  std::thread bg_;
};

}  // namespace jg::identity
