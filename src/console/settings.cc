#include "console/settings.h"

#include <fmt/format.h>

namespace jg::console {
namespace {

constexpr std::string_view kCallbackPath = "/console/callback";

// The authority part of an absolute http(s) URL ("host:port"), empty when there is none.
std::string_view authority(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return {};
  }
  auto rest = url.substr(scheme_end + 3);
  return rest.substr(0, rest.find('/'));
}

bool loopbackAuthority(std::string_view auth) {
  std::string_view host = auth.substr(0, auth.rfind(':'));
  if (auth.starts_with('[')) {
    host = auth.substr(0, auth.find(']') + 1);
  }
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

}  // namespace

std::string Settings::origin() const {
  auto auth = authority(redirect_url);
  if (auth.empty()) {
    return {};
  }
  return redirect_url.substr(0, redirect_url.find("://") + 3) + std::string(auth);
}

std::string redirectUrlProblem(const std::string& url) {
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    return "expected an absolute https:// URL";
  }
  auto auth = authority(url);
  if (auth.empty() || auth.find_first_of("@?#") != std::string_view::npos) {
    return "expected https://host[:port]/console/callback";
  }
  if (!https && !loopbackAuthority(auth)) {
    return "http:// is allowed on loopback hosts only (development); use https://";
  }
  auto path_at = url.find("://") + 3 + auth.size();
  if (std::string_view(url).substr(path_at) != kCallbackPath) {
    return fmt::format("the path must be {}", kCallbackPath);
  }
  return {};
}

Settings parseSettings(const config::Node& n, config::Errors& errors) {
  Settings s;
  n.checkKeys(errors, {"client_id", "client_secret_file", "redirect_url", "issuer", "resource",
                       "scopes", "session_ttl", "login_ttl", "max_sessions"});
  s.client_id = n["client_id"].requiredStr(errors);
  if (n.has("client_secret_file")) {
    auto file = n["client_secret_file"].path(errors);
    auto secret = config::readSecretFile(file);
    if (!secret) {
      errors.add(n["client_secret_file"], secret.status().message());
    } else {
      s.client_secret = std::move(*secret);
    }
  }
  s.redirect_url = n["redirect_url"].requiredStr(errors);
  if (auto p = redirectUrlProblem(s.redirect_url); !s.redirect_url.empty() && !p.empty()) {
    errors.add(n["redirect_url"], p);
  }
  s.issuer = n["issuer"].str(errors);
  s.resource = n["resource"].str(errors);
  if (n.has("scopes")) {
    s.scopes = n["scopes"].strings(errors);
  }
  auto seconds = [](std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::seconds>(ms);
  };
  s.session_ttl = seconds(n["session_ttl"].duration(errors, s.session_ttl));
  s.login_ttl = seconds(n["login_ttl"].duration(errors, s.login_ttl));
  if (s.session_ttl.count() < 60 || s.login_ttl.count() < 10) {
    errors.add(n, "session_ttl must be at least 1m and login_ttl at least 10s");
  }
  s.max_sessions = static_cast<size_t>(n["max_sessions"].integer(errors, 10'000, 1, 1'000'000));
  return s;
}

}  // namespace jg::console
