// KeySource: the signing keys of one issuer, fetched and cached.
//
// Keys come from OIDC discovery (issuer + /.well-known/openid-configuration → jwks_uri), from an
// explicit jwks_uri, or from a JWKS file. The current key set is an immutable snapshot swapped
// atomically, so verifications never wait on a fetch unless they need one: the first use, a key
// set older than the refresh interval, or a `kid` the set does not contain. Fetches are
// serialized and rate-limited per issuer (min_refresh_interval), so a flood of tokens with bogus
// kids costs at most one request per interval. When a fetch fails the previous keys keep working
// until they are older than jwks_max_staleness; a token whose kid is not among them is then refused
// as keys unavailable, naming the failed fetch. With jwks_cache_dir set, every fetched key set is
// also written to disk (0600) and read back at startup, so a restart survives a provider outage.
// Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "identity/jwk.h"
#include "identity/settings.h"
#include "net/http.h"

namespace jg::identity {

class KeySource {
 public:
  KeySource(IssuerSettings issuer, const Settings& settings, const Clock& clock,
            std::shared_ptr<net::HttpGetter> http);

  // The keys that may have signed a token with this header: those with `kid` (all keys when
  // `kid` is empty). Fetches first when needed and allowed. Errors: keys unavailable or stale
  // (keysUnavailable), or no such key (invalidToken, naming the kid and where keys come from).
  Result<std::vector<Jwk>> keysFor(const std::string& kid, Alg alg);

  // Fetches now, ignoring the rate limit (background refresh, startup check).
  Status refresh();

  // Takes the keys `previous` holds when this source has none and both read the same issuer
  // from the same place: a configuration reload keeps working keys through a provider outage.
  void adoptKeys(const KeySource& previous);

  const IssuerSettings& issuer() const { return issuer_; }
  // Where keys come from: the JWKS URL or file, or the discovery URL before the first fetch.
  std::string location() const;
  // When the current keys were fetched; nullopt before the first success.
  std::optional<std::chrono::system_clock::time_point> fetchedAt() const;

 private:
  struct Snapshot {
    std::vector<Jwk> keys;
    std::chrono::system_clock::time_point fetched_at;
    std::string location;
    std::string jwks_json;  // as fetched, for the disk cache
  };
  using TimePoint = std::chrono::system_clock::time_point;

  std::shared_ptr<const Snapshot> current() const;
  // Fetches unless another fetch happened within min_refresh_interval (when `rate_limited`).
  Status refreshLocked(bool rate_limited);
  Result<Snapshot> fetch();
  Result<std::string> discoverJwksUri();
  Result<std::string> httpGet(const std::string& url);
  std::string cachePath() const;
  void loadDiskCache();
  void saveDiskCache(const Snapshot& snap) const;

  const IssuerSettings issuer_;
  const Settings settings_;
  const Clock& clock_;
  std::shared_ptr<net::HttpGetter> http_;

  std::mutex fetch_mu_;  // one fetch at a time; guards last_attempt_ and last_error_
  std::optional<TimePoint> last_attempt_;
  std::string last_error_;
  mutable std::mutex snap_mu_;  // guards snapshot_ (held only to copy the pointer)
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace jg::identity
