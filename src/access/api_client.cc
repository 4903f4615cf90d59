#include "access/api_client.h"
#include "core/text.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "access/repository.h"
#include "config/node.h"
#include "core/clock.h"

namespace jg::access {
namespace {

std::string trimmed(std::string_view s) {
  return std::string(trimSpace(s));
}

namespace json = boost::json;

std::string normalizeUrl(std::string url) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    url = "http://" + url;
  }
  while (url.ends_with('/')) {
    url.pop_back();
  }
  return url;
}

std::string errorMessage(const ApiResponse& res) {
  if (const auto* o = res.body.if_object()) {
    if (const auto* m = o->if_contains("message"); m && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return "the gateway answered HTTP " + std::to_string(res.status);
}

Status statusFor(const ApiResponse& res) {
  const std::string msg = errorMessage(res);
  switch (res.status) {
    case 401:
      return Status::error(Code::kPermissionDenied,
                           msg + " (401: check --token or run `jitgate login`)");
    case 403:
      return Status::error(Code::kPermissionDenied, msg);
    case 404:
      return Status::error(Code::kNotFound, msg);
    case 409:
      return conflict(msg);
    default:
      return Status::error(res.status >= 500 ? Code::kUnavailable : Code::kInvalidArgument, msg);
  }
}

}  // namespace

std::string tokenCachePath() {
  if (const char* p = std::getenv("JITGATE_TOKEN_CACHE"); p && *p) {
    return p;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    return std::string(x) + "/jitgate/token.json";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/jitgate/token.json";
}

Result<std::string> resolveGatewayUrl(const ClientOptions& o) {
  if (!o.gateway.empty()) {
    return normalizeUrl(o.gateway);
  }
  if (const char* env = std::getenv("JITGATE_ADMIN_URL"); env && *env) {
    return normalizeUrl(env);
  }
  if (o.config_file.empty()) {
    return invalidArgument(
        "where is the gateway's admin API? Pass --gateway URL, set JITGATE_ADMIN_URL, or "
        "--config with the gateway's configuration (listen.admin)");
  }
  auto root = config::Node::loadFile(o.config_file);
  if (!root) {
    return root.status();
  }
  config::Errors errors;
  // `admin: host:port` (plain HTTP) or `admin: { address, cert, key }` (TLS).
  const config::Node node = (*root)["listen"]["admin"];
  const bool tls = node.isMap() && node.has("cert");
  const std::string admin = node.isMap() ? node["address"].str(errors) : node.str(errors);
  if (!errors.empty() || admin.empty()) {
    return invalidArgument(o.config_file + " has no listen.admin address");
  }
  return normalizeUrl(tls ? "https://" + admin : admin);
}

Result<std::string> resolveToken(const ClientOptions& o) {
  if (!o.token.empty()) {
    return trimmed(o.token);
  }
  if (const char* env = std::getenv("JITGATE_TOKEN"); env && *env) {
    return trimmed(env);
  }
  const std::string path = tokenCachePath();
  std::ifstream in(path);
  if (!in) {
    return Status::error(Code::kPermissionDenied,
                         "no token: pass --token, set JITGATE_TOKEN, or run `jitgate login`");
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  const auto* obj = doc.if_object();
  const auto* tok = obj ? obj->if_contains("access_token") : nullptr;
  if (ec || tok == nullptr || !tok->is_string()) {
    return invalidArgument(path + " is not a jitgate token cache; run `jitgate login`");
  }
  if (const auto* exp = obj->if_contains("expires_at");
      exp && exp->is_int64() && exp->get_int64() <= Clock::system().nowUnixSeconds()) {
    return Status::error(Code::kPermissionDenied,
                         "the cached token has expired; run `jitgate login`");
  }
  return std::string(tok->get_string());
}

namespace {

// $JITGATE_ADMIN_CA: a PEM file of the CAs that sign the admin listener's certificate (e.g. a
// self-signed one); without it, the system's trust store.
net::HttpClient::Options clientOptions() {
  net::HttpClient::Options o;
  if (const char* ca = std::getenv("JITGATE_ADMIN_CA"); ca && *ca) {
    o.ca_file = ca;
  }
  return o;
}

}  // namespace

Result<ApiClient> ApiClient::make(const ClientOptions& options) {
  auto url = resolveGatewayUrl(options);
  if (!url) {
    return url.status();
  }
  auto token = resolveToken(options);
  if (!token) {
    return token.status();
  }
  return ApiClient(std::move(*url), std::move(*token), options.timeout);
}

ApiClient::ApiClient(std::string base, std::string token, std::chrono::milliseconds timeout)
    : base_(std::move(base)),
      token_(std::move(token)),
      timeout_(timeout),
      http_(std::make_shared<net::HttpClient>(clientOptions())) {}

Result<json::value> ApiClient::call(const std::string& method, const std::string& path,
                                    const json::value& body) {
  net::HttpRequest req;
  req.method = method;
  req.url = base_ + path;
  req.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
  if (!body.is_null()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = json::serialize(body);
  }
  auto res = http_->send(req, timeout_);
  if (!res) {
    return Status::error(Code::kUnavailable, "cannot reach the gateway admin API at " + base_ +
                                                 ": " + res.status().message());
  }
  ApiResponse out;
  out.status = res->status;
  boost::system::error_code ec;
  out.body = res->body.empty() ? json::value() : json::parse(res->body, ec);
  if (ec) {
    out.body = nullptr;
  }
  if (out.status < 200 || out.status >= 300) {
    return statusFor(out);
  }
  if (ec) {
    return Status::error(Code::kUnavailable, base_ + path + " answered without JSON");
  }
  return std::move(out.body);
}

}  // namespace jg::access
