#include "identity/verifier.h"

#include <algorithm>

#include "core/log.h"
#include "core/random.h"
#include "identity/claims.h"
#include "identity/digest.h"
#include "identity/errors.h"
#include "identity/jwt.h"

namespace jg::identity {

Result<std::unique_ptr<Verifier>> Verifier::create(Settings settings, const Clock& clock,
                                                   std::shared_ptr<net::HttpGetter> http) {
  if (std::string problem = settingsProblem(settings); !problem.empty()) {
    return invalidArgument("identity settings: " + problem);
  }
  return std::unique_ptr<Verifier>(new Verifier(std::move(settings), clock, std::move(http)));
}

Verifier::Verifier(Settings settings, const Clock& clock, std::shared_ptr<net::HttpGetter> http)
    : settings_(std::move(settings)), clock_(clock), cache_(settings_.token_cache_size) {
  for (const auto& issuer : settings_.issuers) {
    sources_.push_back(std::make_unique<KeySource>(issuer, settings_, clock_, http));
  }
}

Verifier::~Verifier() {
  stop();
}

std::optional<Identity> Verifier::cached(std::string_view token) const {
  if (token.size() > settings_.max_token_bytes) {
    return std::nullopt;
  }
  return cache_.find(sha256(token), clock_.now());
}

Result<Identity> Verifier::verify(std::string_view token) {
  if (token.size() > settings_.max_token_bytes) {
    return invalidToken("token too large: " + std::to_string(token.size()) + " bytes (limit " +
                        std::to_string(settings_.max_token_bytes) + ")");
  }
  const std::string hash = sha256(token);
  if (auto cached = cache_.find(hash, clock_.now())) {
    return std::move(*cached);
  }
  auto jws = decodeJws(token, settings_.max_token_bytes);
  if (!jws) {
    return jws.status();
  }
  const auto* iss = jws->payload.if_contains("iss");
  if (!iss || !iss->is_string()) {
    return invalidToken("token has no issuer (iss)");
  }
  auto source = std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) {
    return s->issuer().issuer == iss->get_string();
  });
  if (source == sources_.end()) {
    return notAccepted("unknown issuer " + quoteUntrusted(iss->get_string()));
  }
  const IssuerSettings& issuer = (*source)->issuer();
  if (!issuer.algorithms.empty() && std::find(issuer.algorithms.begin(), issuer.algorithms.end(),
                                              jws->alg) == issuer.algorithms.end()) {
    return notAccepted("algorithm " + std::string(algName(jws->alg)) +
                       " is not accepted for issuer " + issuer.issuer);
  }
  auto keys = (*source)->keysFor(jws->kid, jws->alg);
  if (!keys) {
    return keys.status();
  }
  Status signature = invalidToken("no signing key");
  for (const auto& key : *keys) {
    signature = verifyJws(*jws, key);
    if (signature) {
      break;
    }
  }
  if (!signature) {
    return signature;
  }
  auto claims = checkClaims(jws->payload, issuer, settings_.clock_skew, clock_.now());
  if (!claims) {
    return claims.status();
  }
  claims->identity.token_hash = toHex(hash);
  cache_.insert(hash, claims->identity, claims->valid_until);
  return std::move(claims->identity);
}

Status Verifier::refreshKeys() {
  Status first;
  for (auto& source : sources_) {
    Status st = source->refresh();
    if (!st && first.isOk()) {
      first = st;
    }
  }
  return first;
}

void Verifier::adoptKeys(const Verifier& previous) {
  for (auto& source : sources_) {
    for (const auto& old : previous.sources_) {
      source->adoptKeys(*old);
    }
  }
}

void Verifier::startBackgroundRefresh() {
  std::lock_guard lock(bg_mu_);
  if (bg_.joinable()) {
    return;
  }
  stopping_ = false;
  bg_ = std::thread([this] { refreshLoop(); });
}

void Verifier::stop() {
  {
    std::lock_guard lock(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) {
    bg_.join();
  }
}

void Verifier::refreshLoop() {
  std::unique_lock lock(bg_mu_);
  while (!stopping_) {
    if (bg_cv_.wait_for(lock, settings_.jwks_refresh, [this] { return stopping_; })) {
      break;
    }
    lock.unlock();
    (void)refreshKeys();  // failures are logged; cached keys keep working until stale
    lock.lock();
  }
}

Status Verifier::keysLoaded() const {
  std::string missing;
  for (const auto& source : sources_) {
    if (!source->fetchedAt()) {
      missing += (missing.empty() ? "" : ", ") + source->issuer().issuer;
    }
  }
  if (missing.empty()) {
    return Status::ok();
  }
  return Status::error(Code::kUnavailable, "no signing keys loaded for issuer " + missing);
}

}  // namespace jg::identity
