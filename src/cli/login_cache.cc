#include "cli/login_cache.h"

#include <cmath>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "identity/jwt.h"

namespace jg::cli {
namespace {

namespace json = boost::json;

std::string member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<int64_t> seconds(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v != nullptr && v->is_int64()) {
    return v->get_int64();
  }
  if (v != nullptr && v->is_uint64() && v->get_uint64() < (uint64_t{1} << 40)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  if (v != nullptr && v->is_double() && std::abs(v->get_double()) < 1e15) {  // NaN fails too
    return static_cast<int64_t>(v->get_double());
  }
  return std::nullopt;
}

std::vector<std::string> groupsOf(const json::object& claims) {
  std::vector<std::string> out;
  const auto* v = claims.if_contains("groups");
  if (v != nullptr && v->is_string()) {
    out.emplace_back(v->get_string());
  } else if (v != nullptr && v->is_array()) {
    for (const auto& g : v->get_array()) {
      if (g.is_string()) {
        out.emplace_back(g.get_string());
      }
    }
  }
  return out;
}

}  // namespace

Result<CachedLogin> readLogin(const std::string& path, std::chrono::system_clock::time_point now) {
  std::ifstream in(path);
  if (!in) {
    return Status::error(Code::kNotFound, "no cached token in " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  const json::object* cache = ec ? nullptr : doc.if_object();
  const std::string token = cache != nullptr ? member(*cache, "access_token") : std::string();
  if (token.empty()) {
    return invalidArgument(path + " is not a jitgate token cache; run `jitgate login`");
  }
  auto jws = identity::decodeJwsUnchecked(token);
  const json::object no_claims;
  const json::object& claims = jws ? jws->payload : no_claims;
  CachedLogin login{
      .path = path,
      .issuer = member(claims, "iss").empty() ? member(*cache, "issuer") : member(claims, "iss"),
      .gateway = member(*cache, "gateway"),
      .subject = member(claims, "sub"),
      .email = member(claims, "email"),
      .name = member(claims, "name"),
      .groups = groupsOf(claims),
      .opaque = !jws,
  };
  const auto exp = seconds(claims, "exp") ? seconds(claims, "exp") : seconds(*cache, "expires_at");
  login.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(exp.value_or(0)));
  login.expired = login.expires_at <= now;
  return login;
}

json::object loginJson(const CachedLogin& login) {
  return {
      {"subject", login.subject}, {"email", login.email},
      {"name", login.name},       {"groups", json::array(login.groups.begin(), login.groups.end())},
      {"issuer", login.issuer},   {"expires_at", formatUtc(login.expires_at)},
      {"expired", login.expired}, {"opaque", login.opaque},
      {"gateway", login.gateway}, {"cache", login.path}};
}

Result<bool> removeLogin(const std::string& path) {
  std::error_code ec;
  const bool removed = std::filesystem::remove(path, ec);
  if (ec) {
    return Status::error(Code::kInternal, "cannot remove " + path + ": " + ec.message());
  }
  return removed;
}

}  // namespace jg::cli
