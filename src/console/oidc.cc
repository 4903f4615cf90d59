#include "console/oidc.h"

#include <boost/json.hpp>

#include <fmt/format.h>

#include "console/web.h"
#include "identity/base64url.h"
#include "identity/jwt.h"

namespace jg::console {
namespace {

namespace json = boost::json;

std::string stringMember(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<json::object> parseObject(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return v.get_object();
}

std::string joined(const std::vector<std::string>& scopes) {
  std::string out = "openid";
  for (const auto& s : scopes) {
    if (s != "openid") {
      out += " " + s;
    }
  }
  return out;
}

}  // namespace

Result<OidcClient::Endpoints> OidcClient::endpoints() {
  std::lock_guard lk(mu_);
  if (endpoints_) {
    return *endpoints_;
  }
  const std::string url = o_.issuer + "/.well-known/openid-configuration";
  auto res = o_.http(net::HttpRequest{.method = "GET", .url = url, .headers = {}, .body = {}});
  if (!res) {
    return res.status();
  }
  auto doc = res->status == 200 ? parseObject(res->body) : std::nullopt;
  if (!doc) {
    return Status::error(
        Code::kUnavailable,
        fmt::format("{} answered HTTP {} without a JSON object", url, res->status));
  }
  Endpoints e{stringMember(*doc, "authorization_endpoint"), stringMember(*doc, "token_endpoint")};
  if (stringMember(*doc, "issuer") != o_.issuer || e.authorization.empty() || e.token.empty()) {
    return Status::error(Code::kUnavailable,
                         url +
                             " does not name this issuer and its authorization and token "
                             "endpoints");
  }
  endpoints_ = e;
  return e;
}

Result<std::string> OidcClient::authorizationUrl(const PendingLogin& login) {
  auto e = endpoints();
  if (!e) {
    return e.status();
  }
  std::vector<std::pair<std::string, std::string>> q{
      {"response_type", "code"},
      {"client_id", o_.settings.client_id},
      {"redirect_uri", o_.settings.redirect_url},
      {"scope", joined(o_.settings.scopes)},
      {"state", login.state},
      {"nonce", login.nonce},
      {"code_challenge", pkceChallenge(login.code_verifier)},
      {"code_challenge_method", "S256"}};
  if (!o_.settings.resource.empty()) {
    q.emplace_back("resource", o_.settings.resource);
  }
  const char sep = e->authorization.find('?') == std::string::npos ? '?' : '&';
  return e->authorization + sep + net::formEncode(q);
}

Result<std::pair<std::string, std::string>> OidcClient::exchange(std::string_view code,
                                                                 const PendingLogin& login,
                                                                 const std::string& token_url) {
  std::vector<std::pair<std::string, std::string>> form{{"grant_type", "authorization_code"},
                                                        {"code", std::string(code)},
                                                        {"redirect_uri", o_.settings.redirect_url},
                                                        {"code_verifier", login.code_verifier},
                                                        {"client_id", o_.settings.client_id}};
  if (!o_.settings.resource.empty()) {
    form.emplace_back("resource", o_.settings.resource);
  }
  net::HttpRequest req{.method = "POST", .url = token_url, .headers = {}, .body = {}};
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  if (!o_.settings.client_secret.empty()) {
    form.emplace_back("client_secret", o_.settings.client_secret);
  }
  req.body = net::formEncode(form);
  auto res = o_.http(req);
  if (!res) {
    return res.status();
  }
  auto doc = parseObject(res->body);
  if (res->status != 200 || !doc) {
    std::string why = doc ? stringMember(*doc, "error") : std::string();
    return Status::error(Code::kPermissionDenied,
                         fmt::format("the token endpoint refused the code (HTTP {}{}{})",
                                     res->status, why.empty() ? "" : ": ", why));
  }
  auto access = stringMember(*doc, "access_token");
  auto id = stringMember(*doc, "id_token");
  if (access.empty() || id.empty()) {
    return Status::error(Code::kPermissionDenied,
                         "the token endpoint did not return both an access token and an ID token");
  }
  return std::pair{std::move(access), std::move(id)};
}

Status OidcClient::checkIdToken(std::string_view id_token, const PendingLogin& login,
                                std::string& subject) {
  auto who = o_.verify_id(id_token);
  if (!who) {
    return Status::error(Code::kPermissionDenied, "ID token refused: " + who.status().message());
  }
  auto jws = identity::decodeJws(id_token);
  if (!jws) {
    return Status::error(Code::kPermissionDenied, "ID token refused: " + jws.status().message());
  }
  const std::string nonce = stringMember(jws->payload, "nonce");
  if (nonce.empty() || !constantTimeEqual(nonce, login.nonce)) {
    return Status::error(Code::kPermissionDenied,
                         "ID token refused: its nonce is not the one of this sign-in");
  }
  subject = who->subject;
  return Status::ok();
}

Result<identity::Identity> OidcClient::completeSignIn(std::string_view code,
                                                      const PendingLogin& login) {
  auto e = endpoints();
  if (!e) {
    return e.status();
  }
  auto tokens = exchange(code, login, e->token);
  if (!tokens) {
    return tokens.status();
  }
  std::string subject;
  if (auto st = checkIdToken(tokens->second, login, subject); !st) {
    return st;
  }
  auto who = o_.verify_access(tokens->first);
  if (!who) {
    return Status::error(Code::kPermissionDenied,
                         "access token refused: " + who.status().message());
  }
  if (who->subject != subject) {
    return Status::error(Code::kPermissionDenied,
                         "the access token and the ID token name different subjects");
  }
  return who;
}

}  // namespace jg::console
