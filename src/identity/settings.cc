#include "identity/settings.h"

#include <algorithm>

namespace jg::identity {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

bool isHttps(const std::string& url) {
  return url.starts_with("https://");
}
bool isHttp(const std::string& url) {
  return url.starts_with("http://");
}

// Why this URL may not be used for `is` (empty when it may).
std::string urlProblem(const std::string& url, const IssuerSettings& is) {
  if (isHttps(url) || (isHttp(url) && is.allow_insecure_http)) {
    return {};
  }
  if (isHttp(url)) {
    return "'" + url + "' is plain http; use https (or allow_insecure_http: true in tests)";
  }
  return "'" + url + "' is not an http(s) URL";
}

std::string issuerProblem(const IssuerSettings& is) {
  if (is.issuer.empty()) {
    return "issuer is required";
  }
  if (auto p = urlProblem(is.issuer, is); !p.empty()) {
    return "issuer " + p;
  }
  if (is.audiences.empty()) {
    return "issuer " + is.issuer + ": at least one audience is required";
  }
  if (!is.jwks_uri.empty() && !is.jwks_file.empty()) {
    return "issuer " + is.issuer + ": give jwks_uri or jwks_file, not both";
  }
  if (!is.jwks_uri.empty()) {
    if (auto p = urlProblem(is.jwks_uri, is); !p.empty()) {
      return "jwks_uri " + p;
    }
  }
  if (is.groups_claim.empty()) {
    return "issuer " + is.issuer + ": groups_claim must not be empty";
  }
  return {};
}

IssuerSettings parseIssuer(const config::Node& n, config::Errors& errors) {
  n.checkKeys(errors, {"issuer", "audiences", "audience", "jwks_uri", "jwks_file", "groups_claim",
                       "email_claim", "name_claim", "required_scopes", "max_token_age",
                       "algorithms", "allow_insecure_http"});
  IssuerSettings is;
  is.issuer = n["issuer"].requiredStr(errors);
  is.audiences = n["audiences"].strings(errors);
  for (auto& a : n["audience"].strings(errors)) {
    is.audiences.push_back(std::move(a));
  }
  if (is.audiences.empty()) {
    errors.add(n["audiences"], "at least one audience is required");
  }
  is.jwks_uri = n["jwks_uri"].str(errors);
  is.jwks_file = n["jwks_file"].path(errors);
  is.groups_claim = n["groups_claim"].str(errors, is.groups_claim);
  is.email_claim = n["email_claim"].str(errors, is.email_claim);
  is.name_claim = n["name_claim"].str(errors, is.name_claim);
  is.required_scopes = n["required_scopes"].strings(errors);
  is.max_token_age = duration_cast<seconds>(n["max_token_age"].duration(errors, {}));
  for (const auto& name : n["algorithms"].strings(errors)) {
    if (auto alg = parseAlg(name)) {
      is.algorithms.push_back(*alg);
    } else {
      errors.add(n["algorithms"], "unsupported algorithm '" + name +
                                      "' (RS256/384/512, PS256/384/512, ES256/384, EdDSA)");
    }
  }
  is.allow_insecure_http = n["allow_insecure_http"].boolean(errors, false);
  if (!is.issuer.empty() && !is.audiences.empty()) {
    if (auto p = issuerProblem(is); !p.empty()) {
      errors.add(n, p);
    }
  }
  return is;
}

}  // namespace

Settings parseSettings(const config::Node& section, config::Errors& errors) {
  Settings s;
  if (!section.defined()) {
    errors.add(section, "an identity section with at least one issuer is required");
    return s;
  }
  section.checkKeys(errors, {"issuers", "clock_skew", "jwks_refresh", "jwks_max_staleness",
                             "min_refresh_interval", "http_timeout", "token_cache_size",
                             "max_token_bytes", "jwks_cache_dir"});
  const config::Node issuers = section["issuers"];
  if (!issuers.isSequence() || issuers.size() == 0) {
    errors.add(issuers, "a list of at least one issuer is required");
  } else {
    for (size_t i = 0; i < issuers.size(); ++i) {
      IssuerSettings is = parseIssuer(issuers.at(i), errors);
      for (const auto& earlier : s.issuers) {
        if (!is.issuer.empty() && earlier.issuer == is.issuer) {
          errors.add(issuers.at(i), "issuer " + is.issuer + " is listed twice");
        }
      }
      s.issuers.push_back(std::move(is));
    }
  }
  auto secs = [&](const char* key, seconds def) {
    return duration_cast<seconds>(section[key].duration(errors, def));
  };
  s.clock_skew = secs("clock_skew", s.clock_skew);
  s.jwks_refresh = secs("jwks_refresh", s.jwks_refresh);
  s.jwks_max_staleness = secs("jwks_max_staleness", s.jwks_max_staleness);
  s.min_refresh_interval = secs("min_refresh_interval", s.min_refresh_interval);
  s.http_timeout = section["http_timeout"].duration(errors, s.http_timeout);
  s.token_cache_size = static_cast<size_t>(section["token_cache_size"].integer(
      errors, static_cast<int64_t>(s.token_cache_size), 0, 10'000'000));
  s.max_token_bytes = static_cast<size_t>(section["max_token_bytes"].integer(
      errors, static_cast<int64_t>(s.max_token_bytes), 1024, 1024 * 1024));
  s.jwks_cache_dir = section["jwks_cache_dir"].path(errors);
  if (s.jwks_refresh.count() <= 0) {
    errors.add(section["jwks_refresh"], "must be positive");
  }
  return s;
}

std::string settingsProblem(const Settings& settings) {
  if (settings.issuers.empty()) {
    return "no issuer is configured";
  }
  for (const auto& is : settings.issuers) {
    if (auto p = issuerProblem(is); !p.empty()) {
      return p;
    }
  }
  if (settings.jwks_refresh.count() <= 0) {
    return "jwks_refresh must be positive";
  }
  return {};
}

}  // namespace jg::identity
