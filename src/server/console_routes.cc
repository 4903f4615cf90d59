#include "server/console_routes.h"

#include <boost/json.hpp>

#include <fmt/format.h>

#include "console/assets.h"
#include "console/web.h"
#include "core/clock.h"
#include "core/log.h"
#include "identity/verifier.h"
#include "net/http.h"

namespace jg::server {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr size_t kMaxPendingLogins = 10'000;
constexpr std::string_view kAssetPrefix = "/console/";

AdminResponse withSecurityHeaders(AdminResponse res) {
  for (auto& h : console::securityHeaders()) {
    res.headers.push_back(std::move(h));
  }
  return res;
}

// A plain-text page for the browser (sign-in errors); never echoes tokens or codes.
AdminResponse textPage(int status, std::string text) {
  return withSecurityHeaders(
      AdminResponse{status, "text/plain; charset=utf-8", std::move(text) + "\n", {}});
}

AdminResponse redirect(std::string location) {
  AdminResponse res{302, "text/plain; charset=utf-8", "", {}};
  res.headers.emplace_back("Location", std::move(location));
  return withSecurityHeaders(std::move(res));
}

AdminResponse asset(const AdminRequest& req) {
  std::string_view rest = std::string_view(req.path).substr(kAssetPrefix.size());
  const console::Asset* a = console::findAsset(rest.empty() ? "index.html" : rest);
  if (a == nullptr) {
    return textPage(404, "no such page: " + req.path);
  }
  AdminResponse res{200, std::string(a->content_type), std::string(a->body), {}};
  res.headers.emplace_back("ETag", std::string(a->etag));
  res.headers.emplace_back("Cache-Control", "no-cache");
  return withSecurityHeaders(std::move(res));
}

// The issuer the console signs in with, its settings narrowed to ID tokens for this client.
Result<identity::Settings> idTokenSettings(const console::Settings& console,
                                           const identity::Settings& identity) {
  identity::Settings s = identity;
  const std::string& wanted = console.issuer;
  std::erase_if(s.issuers, [&](const identity::IssuerSettings& is) {
    return !wanted.empty() && is.issuer != wanted;
  });
  if (s.issuers.empty()) {
    return invalidArgument("console: no identity issuer to sign in with");
  }
  s.issuers.resize(1);
  s.issuers[0].audiences = {console.client_id};
  s.issuers[0].required_scopes.clear();
  s.issuers[0].max_token_age = std::chrono::seconds(0);
  return s;
}

}  // namespace

Console::Console(console::Settings settings, std::unique_ptr<identity::Verifier> id_verifier,
                 Authenticator verify_access, ConsoleAudit audit)
    : settings_(std::move(settings)),
      id_verifier_(std::move(id_verifier)),
      sessions_(Clock::system(), settings_.session_ttl, settings_.max_sessions),
      logins_(Clock::system(), settings_.login_ttl, kMaxPendingLogins),
      audit_(std::move(audit)) {
  auto client = std::make_shared<net::HttpClient>();
  oidc_ = std::make_unique<console::OidcClient>(console::OidcClientOptions{
      .settings = settings_,
      .issuer = id_verifier_->settings().issuers[0].issuer,
      .http = [client, timeout = id_verifier_->settings().http_timeout](
                  const net::HttpRequest& r) { return client->send(r, timeout); },
      .verify_id = [v = id_verifier_.get()](std::string_view t) { return v->verify(t); },
      .verify_access = std::move(verify_access)});
}

Console::~Console() = default;

Result<std::shared_ptr<Console>> Console::create(const console::Settings& console,
                                                 const identity::Settings& identity,
                                                 Authenticator verify_access, ConsoleAudit audit) {
  auto settings = idTokenSettings(console, identity);
  if (!settings) {
    return settings.status();
  }
  auto verifier = identity::Verifier::create(std::move(*settings), Clock::system(),
                                             std::make_shared<net::HttpClient>());
  if (!verifier) {
    return Status::error(verifier.status().code(), "console: " + verifier.status().message());
  }
  return std::shared_ptr<Console>(
      new Console(console, std::move(*verifier), std::move(verify_access), std::move(audit)));
}

std::optional<Result<identity::Identity>> Console::authenticate(const AdminRequest& req) const {
  const std::string id = console::cookieValue(req.cookie, console::kSessionCookie);
  if (id.empty()) {
    return std::nullopt;
  }
  auto session = sessions_.find(id);
  if (!session) {
    return Result<identity::Identity>(Status::error(
        Code::kNotFound, "the console session has ended: sign in again at /console/login"));
  }
  if (req.method != http::verb::get && req.method != http::verb::head) {
    auto problem =
        console::csrfProblem(session->csrf_token, req.csrf_token, req.origin, settings_.origin());
    if (!problem.empty()) {
      log::warn("", "console: refused {} {} by {}: {}", http::to_string(req.method), req.path,
                session->who.display(), problem);
      return Result<identity::Identity>(Status::error(Code::kPermissionDenied, problem));
    }
  }
  return Result<identity::Identity>(session->who);
}

AdminResponse Console::login() {
  auto pending = logins_.begin();
  if (!pending) {
    return textPage(503, pending.status().message());
  }
  auto url = oidc_->authorizationUrl(*pending);
  if (!url) {
    log::warn("", "console: cannot start a sign-in: {}", url.status().message());
    return textPage(503, "the identity provider cannot be reached: " + url.status().message());
  }
  AdminResponse res = redirect(std::move(*url));
  res.headers.emplace_back("Set-Cookie", console::loginCookie(pending->state, settings_.login_ttl));
  return res;
}

AdminResponse Console::callback(const AdminRequest& req) {
  auto param = [&](const char* name) {
    auto it = req.query.find(name);
    return it == req.query.end() ? std::string() : it->second;
  };
  if (auto error = param("error"); !error.empty()) {
    return textPage(403, fmt::format("the identity provider refused the sign-in ({}); try again "
                                     "at /console/login",
                                     error.substr(0, 100)));
  }
  // The state must come back in the cookie of the browser that started the sign-in, so that
  // nobody can complete their own sign-in in someone else's browser.
  const std::string started = console::cookieValue(req.cookie, console::kLoginCookie);
  if (started.empty() || !console::constantTimeEqual(started, param("state"))) {
    return textPage(400,
                    "this sign-in was not started in this browser: start again at "
                    "/console/login");
  }
  auto pending = logins_.take(param("state"));
  if (!pending || param("code").empty()) {
    return textPage(400, "this sign-in is unknown, used or expired: start again at /console/login");
  }
  auto who = oidc_->completeSignIn(param("code"), *pending);
  if (!who) {
    log::warn("", "console: sign-in refused: {}", who.status().message());
    const int status = who.status().code() == Code::kPermissionDenied ? 403 : 503;
    return textPage(status, "sign-in refused: " + who.status().message());
  }
  auto session = sessions_.create(std::move(*who));
  if (!session) {
    return textPage(503, session.status().message());
  }
  log::info("", "console: {} signed in", session->who.display());
  if (audit_) {
    audit_("console.signed_in", session->who, req.client_addr);
  }
  AdminResponse res = redirect("/console/");
  res.headers.emplace_back("Set-Cookie",
                           console::sessionCookie(session->id, settings_.session_ttl));
  res.headers.emplace_back("Set-Cookie", console::clearedLoginCookie());
  return res;
}

AdminResponse Console::me(const AdminRequest& req) const {
  auto session = sessions_.find(console::cookieValue(req.cookie, console::kSessionCookie));
  if (!session) {
    return withSecurityHeaders(
        jsonError(401, "unauthorized", "the console needs a session: sign in at /console/login"));
  }
  json::array groups;
  for (const auto& g : session->who.groups) {
    groups.emplace_back(g);
  }
  json::object body{{"subject", session->who.subject},
                    {"email", session->who.email},
                    {"name", session->who.name},
                    {"display", session->who.display()},
                    {"groups", std::move(groups)},
                    {"csrf_token", session->csrf_token},
                    {"expires_at", formatUtc(session->expires_at)}};
  return withSecurityHeaders(AdminResponse{200, "application/json", json::serialize(body), {}});
}

AdminResponse Console::logout(const AdminRequest& req) {
  const std::string id = console::cookieValue(req.cookie, console::kSessionCookie);
  if (!id.empty() && sessions_.remove(id) && req.caller) {
    log::info("", "console: {} signed out", req.caller->display());
    if (audit_) {
      audit_("console.signed_out", *req.caller, req.client_addr);
    }
  }
  AdminResponse res{204, "text/plain; charset=utf-8", "", {}};
  res.headers.emplace_back("Set-Cookie", console::clearedSessionCookie());
  return withSecurityHeaders(std::move(res));
}

void Console::registerRoutes(AdminApi& api) {
  auto self = shared_from_this();
  api.addRoute(
      http::verb::get, "/console", [](const AdminRequest&) { return redirect("/console/"); },
      false);
  api.addPrefixRoute(http::verb::get, std::string(kAssetPrefix), asset, false);
  api.addRoute(
      http::verb::get, "/console/login", [self](const AdminRequest&) { return self->login(); },
      false);
  api.addRoute(
      http::verb::get, "/console/callback",
      [self](const AdminRequest& req) { return self->callback(req); }, false);
  api.addRoute(
      http::verb::get, "/console/api/me", [self](const AdminRequest& req) { return self->me(req); },
      false);
  api.addRoute(
      http::verb::post, "/console/logout",
      [self](const AdminRequest& req) { return self->logout(req); }, true);
}

}  // namespace jg::server
