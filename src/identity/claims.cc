#include "identity/claims.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/clock.h"
#include "identity/errors.h"

namespace jg::identity {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

// The NumericDates we accept: 1970-01-01 to 2200-01-01. The clock counts nanoseconds in an
// int64 (up to the year 2262), and expiry, skew and maximum age are added to these dates.
constexpr int64_t kMaxNumericDate = 7'258'118'400;

// A NumericDate (seconds since the epoch, integer or fraction). nullopt when absent; an error
// when present but not a number, or out of range.
Result<std::optional<int64_t>> numericDate(const boost::json::object& claims, const char* name) {
  const auto* v = claims.if_contains(name);
  if (!v) {
    return std::optional<int64_t>();
  }
  std::optional<int64_t> secs;
  if (v->is_int64()) {
    secs = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX / 2)) {
    secs = static_cast<int64_t>(v->get_uint64());
  } else if (v->is_double() && std::isfinite(v->get_double()) && std::abs(v->get_double()) < 1e15) {
    secs = static_cast<int64_t>(std::floor(v->get_double()));
  }
  if (!secs) {
    return invalidToken(std::string("malformed token: \"") + name + "\" is not a NumericDate");
  }
  if (*secs < 0 || *secs > kMaxNumericDate) {
    return invalidToken(std::string("malformed token: \"") + name +
                        "\" is not a date between 1970 and 2200");
  }
  return secs;
}

TimePoint fromUnix(int64_t secs) {
  return TimePoint(std::chrono::seconds(secs));
}

std::string stringClaim(const boost::json::object& claims, std::string_view path) {
  const auto* v = findClaim(claims, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::vector<std::string> stringList(const boost::json::value* v) {
  std::vector<std::string> out;
  if (!v) {
    return out;
  }
  if (v->is_string()) {
    out.emplace_back(v->get_string());
  } else if (v->is_array()) {
    for (const auto& item : v->get_array()) {
      if (item.is_string()) {
        out.emplace_back(item.get_string());
      }
    }
  }
  return out;
}

std::vector<std::string> scopes(const boost::json::object& claims) {
  std::vector<std::string> out;
  if (const auto* scope = claims.if_contains("scope"); scope && scope->is_string()) {
    std::string_view text = scope->get_string();
    while (!text.empty()) {
      const size_t sp = text.find(' ');
      if (sp != 0) {
        out.emplace_back(text.substr(0, sp));
      }
      text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    }
    return out;
  }
  return stringList(claims.if_contains("scp"));
}

Status checkAudience(const boost::json::object& claims, const IssuerSettings& issuer) {
  const std::vector<std::string> aud = stringList(claims.if_contains("aud"));
  for (const auto& want : issuer.audiences) {
    if (std::find(aud.begin(), aud.end(), want) != aud.end()) {
      return Status::ok();
    }
  }
  std::string expected, got;
  for (const auto& a : issuer.audiences) {
    expected += (expected.empty() ? "" : " or ") + a;
  }
  for (const auto& a : aud) {
    got += (got.empty() ? "" : ", ") + quoteUntrusted(a);
  }
  return notAccepted("audience mismatch: expected " + expected + ", token is for " +
                     (got.empty() ? std::string("no audience") : got));
}

// exp, nbf, iat and maximum age; returns the instant until which the token stays valid.
Result<TimePoint> checkTimes(const boost::json::object& claims, const IssuerSettings& issuer,
                             std::chrono::seconds skew, TimePoint now) {
  auto exp = numericDate(claims, "exp");
  auto nbf = numericDate(claims, "nbf");
  auto iat = numericDate(claims, "iat");
  for (const auto* r : {&exp, &nbf, &iat}) {
    if (!*r) {
      return r->status();
    }
  }
  if (!exp->has_value()) {
    return invalidToken("token has no expiry (exp); tokens without one are refused");
  }
  TimePoint valid_until = fromUnix(**exp) + skew;
  if (now > valid_until) {
    return invalidToken("token expired at " + formatUtc(fromUnix(**exp)));
  }
  if (nbf->has_value() && now + skew < fromUnix(**nbf)) {
    return invalidToken("token is not valid before " + formatUtc(fromUnix(**nbf)));
  }
  if (iat->has_value() && now + skew < fromUnix(**iat)) {
    return invalidToken("token was issued in the future (" + formatUtc(fromUnix(**iat)) +
                        "); check the clocks");
  }
  if (issuer.max_token_age.count() > 0) {
    if (!iat->has_value()) {
      return notAccepted("token has no issue time (iat) and a maximum token age is configured");
    }
    const TimePoint too_old = fromUnix(**iat) + issuer.max_token_age + skew;
    if (now > too_old) {
      return notAccepted("token is too old: issued at " + formatUtc(fromUnix(**iat)) +
                         ", maximum age " + std::to_string(issuer.max_token_age.count()) + "s");
    }
    valid_until = std::min(valid_until, too_old);
  }
  return valid_until;
}

bool isServiceAccount(const boost::json::object& claims, const Identity& id) {
  if (!id.client_id.empty() && id.subject == id.client_id) {
    return true;  // client credentials: the client is its own subject
  }
  if (stringClaim(claims, "gty") == "client-credentials") {
    return true;
  }
  return stringClaim(claims, "preferred_username").starts_with("service-account-");
}

}  // namespace

const boost::json::value* findClaim(const boost::json::object& claims, std::string_view path) {
  if (const auto* v = claims.if_contains(path)) {
    return v;
  }
  const boost::json::object* obj = &claims;
  while (true) {
    const size_t dot = path.find('.');
    const auto* v = obj->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) {
      return v;
    }
    if (!v->is_object()) {
      return nullptr;
    }
    obj = &v->get_object();
    path = path.substr(dot + 1);
  }
}

Result<CheckedClaims> checkClaims(const boost::json::object& claims, const IssuerSettings& issuer,
                                  std::chrono::seconds skew, TimePoint now) {
  if (stringClaim(claims, "iss") != issuer.issuer) {
    return notAccepted("issuer mismatch: expected " + issuer.issuer);
  }
  auto valid_until = checkTimes(claims, issuer, skew, now);
  if (!valid_until) {
    return valid_until.status();
  }
  if (Status st = checkAudience(claims, issuer); !st) {
    return st;
  }
  CheckedClaims out;
  out.valid_until = *valid_until;
  Identity& id = out.identity;
  id.issuer = issuer.issuer;
  id.subject = stringClaim(claims, "sub");
  if (id.subject.empty()) {
    return invalidToken("token has no subject (sub)");
  }
  id.scopes = scopes(claims);
  for (const auto& want : issuer.required_scopes) {
    if (std::find(id.scopes.begin(), id.scopes.end(), want) == id.scopes.end()) {
      return notAccepted("token lacks the required scope " + want);
    }
  }
  id.email = stringClaim(claims, issuer.email_claim);
  id.name = stringClaim(claims, issuer.name_claim);
  if (id.name.empty()) {
    id.name = stringClaim(claims, "preferred_username");
  }
  id.client_id = stringClaim(claims, "client_id");
  if (id.client_id.empty()) {
    id.client_id = stringClaim(claims, "azp");
  }
  id.groups = stringList(findClaim(claims, issuer.groups_claim));
  id.service_account = isServiceAccount(claims, id);
  id.expires_at = fromUnix(numericDate(claims, "exp")->value_or(0));
  return out;
}

}  // namespace jg::identity
