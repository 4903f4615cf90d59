#include "identity/key_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "core/random.h"
#include "identity/digest.h"
#include "identity/errors.h"

namespace jg::identity {
namespace {

constexpr size_t kMaxJwksFileBytes = 1024 * 1024;

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::error(Code::kUnavailable, "cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxJwksFileBytes) {
    return Status::error(Code::kResourceExhausted, path + " is larger than 1 MiB");
  }
  return text.str();
}

bool urlAllowed(const std::string& url, const IssuerSettings& is) {
  return url.starts_with("https://") || (is.allow_insecure_http && url.starts_with("http://"));
}

int64_t toUnix(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

KeySource::KeySource(IssuerSettings issuer, const Settings& settings, const Clock& clock,
                     std::shared_ptr<net::HttpGetter> http)
    : issuer_(std::move(issuer)), settings_(settings), clock_(clock), http_(std::move(http)) {
  loadDiskCache();
}

std::shared_ptr<const KeySource::Snapshot> KeySource::current() const {
  std::lock_guard lock(snap_mu_);
  return snapshot_;
}

std::string KeySource::location() const {
  if (auto snap = current()) {
    return snap->location;
  }
  if (!issuer_.jwks_file.empty()) {
    return issuer_.jwks_file;
  }
  return issuer_.jwks_uri.empty() ? issuer_.issuer + "/.well-known/openid-configuration"
                                  : issuer_.jwks_uri;
}

std::optional<std::chrono::system_clock::time_point> KeySource::fetchedAt() const {
  auto snap = current();
  return snap ? std::optional(snap->fetched_at) : std::nullopt;
}

Result<std::vector<Jwk>> KeySource::keysFor(const std::string& kid, Alg alg) {
  const TimePoint now = clock_.now();
  auto matching = [&](const Snapshot& snap) {
    std::vector<Jwk> out;
    for (const auto& key : snap.keys) {
      if (kid.empty() ? key.unfitFor(alg).empty() : key.kid == kid) {
        out.push_back(key);
      }
    }
    return out;
  };
  auto snap = current();
  if (!snap || now - snap->fetched_at >= settings_.jwks_refresh) {
    std::lock_guard lock(fetch_mu_);
    (void)refreshLocked(/*rate_limited=*/true);
    snap = current();
    if (!snap) {
      return keysUnavailable("cannot obtain the signing keys of " + issuer_.issuer + ": " +
                             last_error_);
    }
  }
  std::vector<Jwk> keys = matching(*snap);
  if (keys.empty() && !kid.empty()) {
    std::lock_guard lock(fetch_mu_);  // an unknown kid: maybe the provider rotated its keys
    (void)refreshLocked(/*rate_limited=*/true);
    snap = current();
    keys = matching(*snap);
    if (keys.empty() && !last_error_.empty()) {
      return keysUnavailable("signing key kid=" + quoteUntrusted(kid) +
                             " is not among the cached keys of " + issuer_.issuer +
                             ", and they cannot be refreshed: " + last_error_);
    }
  }
  if (now - snap->fetched_at > settings_.jwks_max_staleness) {
    std::lock_guard lock(fetch_mu_);
    return keysUnavailable("the signing keys of " + issuer_.issuer + " are stale (fetched at " +
                           formatUtc(snap->fetched_at) +
                           ") and cannot be refreshed: " + last_error_);
  }
  if (keys.empty()) {
    if (!kid.empty()) {
      return invalidToken("signing key kid=" + quoteUntrusted(kid) + " not found at " +
                          snap->location);
    }
    return invalidToken("the token names no kid and no key at " + snap->location + " fits " +
                        std::string(algName(alg)));
  }
  return keys;
}

Status KeySource::refresh() {
  std::lock_guard lock(fetch_mu_);
  return refreshLocked(/*rate_limited=*/false);
}

void KeySource::adoptKeys(const KeySource& previous) {
  if (previous.issuer_.issuer != issuer_.issuer || previous.issuer_.jwks_uri != issuer_.jwks_uri ||
      previous.issuer_.jwks_file != issuer_.jwks_file) {
    return;
  }
  auto theirs = previous.current();
  std::lock_guard lock(snap_mu_);
  if (!snapshot_ && theirs) {
    snapshot_ = std::move(theirs);
  }
}

Status KeySource::refreshLocked(bool rate_limited) {
  const TimePoint now = clock_.now();
  if (rate_limited && last_attempt_ && now - *last_attempt_ < settings_.min_refresh_interval) {
    return Status::error(Code::kResourceExhausted, "key refresh is rate-limited");
  }
  last_attempt_ = now;
  auto fetched = fetch();
  if (!fetched) {
    last_error_ = fetched.status().message();
    log::warn("", "identity: cannot refresh the signing keys of {}: {}", issuer_.issuer,
              last_error_);
    return fetched.status();
  }
  last_error_.clear();
  log::info("", "identity: {} signing key(s) of {} loaded from {}", fetched->keys.size(),
            issuer_.issuer, fetched->location);
  auto snap = std::make_shared<const Snapshot>(std::move(*fetched));
  saveDiskCache(*snap);
  std::lock_guard lock(snap_mu_);
  snapshot_ = std::move(snap);
  return Status::ok();
}

Result<KeySource::Snapshot> KeySource::fetch() {
  Snapshot snap;
  snap.fetched_at = clock_.now();
  Result<std::string> body = std::string();
  if (!issuer_.jwks_file.empty()) {
    snap.location = issuer_.jwks_file;
    body = readFile(issuer_.jwks_file);
  } else {
    auto uri = issuer_.jwks_uri.empty() ? discoverJwksUri() : Result<std::string>(issuer_.jwks_uri);
    if (!uri) {
      return uri.status();
    }
    snap.location = *uri;
    body = httpGet(*uri);
  }
  if (!body) {
    return body.status();
  }
  auto set = parseJwks(*body);
  if (!set) {
    return Status::error(Code::kUnavailable, snap.location + ": " + set.status().message());
  }
  for (const auto& note : set->skipped) {
    log::warn("", "identity: {}: key skipped: {}", snap.location, note);
  }
  if (set->keys.empty()) {
    return Status::error(Code::kUnavailable, "no usable signing key at " + snap.location);
  }
  snap.keys = std::move(set->keys);
  snap.jwks_json = std::move(*body);
  return snap;
}

Result<std::string> KeySource::httpGet(const std::string& url) {
  if (!http_) {
    return Status::error(Code::kUnavailable, "no HTTP client to fetch " + url);
  }
  auto res = http_->get(url, settings_.http_timeout);
  if (!res) {
    return res.status();
  }
  if (res->status != 200) {
    return Status::error(Code::kUnavailable, url + " answered HTTP " + std::to_string(res->status));
  }
  return std::move(res->body);
}

Result<std::string> KeySource::discoverJwksUri() {
  std::string base = issuer_.issuer;
  while (base.ends_with('/')) {
    base.pop_back();
  }
  const std::string url = base + "/.well-known/openid-configuration";
  auto body = httpGet(url);
  if (!body) {
    return body.status();
  }
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(*body, ec);
  if (ec || !doc.is_object()) {
    return Status::error(Code::kUnavailable, url + " is not a JSON object");
  }
  const auto& obj = doc.get_object();
  const auto* iss = obj.if_contains("issuer");
  if (!iss || !iss->is_string() || iss->get_string() != issuer_.issuer) {
    return Status::error(
        Code::kUnavailable,
        url + " describes another issuer (" +
            (iss && iss->is_string() ? quoteUntrusted(iss->get_string()) : std::string("none")) +
            "), expected " + issuer_.issuer);
  }
  const auto* jwks = obj.if_contains("jwks_uri");
  if (!jwks || !jwks->is_string()) {
    return Status::error(Code::kUnavailable, url + " has no jwks_uri");
  }
  std::string uri(jwks->get_string());
  if (!urlAllowed(uri, issuer_)) {
    return Status::error(Code::kUnavailable,
                         url + " names jwks_uri " + quoteUntrusted(uri) + ", which is not https");
  }
  return uri;
}

std::string KeySource::cachePath() const {
  if (settings_.jwks_cache_dir.empty() || !issuer_.jwks_file.empty()) {
    return {};
  }
  return settings_.jwks_cache_dir + "/" + toHex(sha256(issuer_.issuer)).substr(0, 32) + ".json";
}

void KeySource::loadDiskCache() {
  const std::string path = cachePath();
  if (path.empty() || !std::filesystem::exists(path)) {
    return;
  }
  auto text = readFile(path);
  boost::system::error_code ec;
  boost::json::value doc = text ? boost::json::parse(*text, ec) : boost::json::value();
  const auto* obj = doc.if_object();
  const auto* iss = obj ? obj->if_contains("issuer") : nullptr;
  const auto* loc = obj ? obj->if_contains("location") : nullptr;
  const auto* at = obj ? obj->if_contains("fetched_at") : nullptr;
  const auto* jwks = obj ? obj->if_contains("jwks") : nullptr;
  if (!iss || !loc || !at || !jwks || !iss->is_string() || !loc->is_string() || !at->is_int64() ||
      !jwks->is_string() || iss->get_string() != issuer_.issuer ||
      (!issuer_.jwks_uri.empty() && loc->get_string() != issuer_.jwks_uri)) {
    log::warn("", "identity: ignoring key cache {} (unreadable or for other settings)", path);
    return;
  }
  auto set = parseJwks(jwks->get_string());
  if (!set || set->keys.empty()) {
    log::warn("", "identity: ignoring key cache {} (no usable key)", path);
    return;
  }
  auto snap = std::make_shared<Snapshot>();
  snap->keys = std::move(set->keys);
  snap->fetched_at = TimePoint(std::chrono::seconds(at->get_int64()));
  snap->location = std::string(loc->get_string());
  snap->jwks_json = std::string(jwks->get_string());
  std::lock_guard lock(snap_mu_);
  snapshot_ = std::move(snap);
}

void KeySource::saveDiskCache(const Snapshot& snap) const {
  const std::string path = cachePath();
  if (path.empty()) {
    return;
  }
  boost::json::object doc;
  doc["issuer"] = issuer_.issuer;
  doc["location"] = snap.location;
  doc["fetched_at"] = toUnix(snap.fetched_at);
  doc["jwks"] = snap.jwks_json;
  const std::string text = boost::json::serialize(doc);
  std::error_code ec;
  std::filesystem::create_directories(settings_.jwks_cache_dir, ec);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) {
    ok = ::close(fd) == 0 && ok;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    log::warn("", "identity: cannot write the key cache {}", path);
  }
}

}  // namespace jg::identity
