// `jitgate login`: obtains an access token for a person with the OAuth 2.0 device authorization
// grant (RFC 8628) — it prints a URL and a code to open in any browser, then polls — and caches it
// privately (0600) for `jitgate env`.
//
// `jitgate env RESOURCE`: prints the libpq environment for a resource behind the gateway, so
// `eval "$(jitgate env kb)"` followed by plain `psql` works (the token is the password).
//
// Cache file: $JITGATE_TOKEN_CACHE, else $XDG_CACHE_HOME/jitgate/token.json, else
// ~/.cache/jitgate/token.json. It holds the token: readable by its owner only.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "access/api_client.h"
#include "cli/command.h"
#include "core/clock.h"
#include "identity/jwt.h"
#include "net/http.h"

namespace jg::cli {
namespace {

namespace json = boost::json;
constexpr auto kTimeout = std::chrono::seconds(10);

struct LoginOptions {
  std::string issuer;
  std::string client_id = "jitgate-cli";
  std::string audience;
  std::string scope = "openid db.read";
  std::string gateway = "127.0.0.1:6432";
  bool allow_insecure_http = false;
};

struct EnvOptions {
  std::string resource;
  std::string gateway;
  bool json = false;  // one JSON object of the variables instead of shell exports
};

std::string memberString(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t memberInt(const json::object& o, std::string_view key, int64_t def) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64()) {
    return v->get_int64();
  }
  return v && v->is_uint64() && v->get_uint64() < 1'000'000'000
             ? static_cast<int64_t>(v->get_uint64())
             : def;
}

// Sends a request and parses a JSON object answer (OAuth errors are JSON objects too).
Result<json::object> callJson(net::HttpClient& http, const net::HttpRequest& req) {
  auto res = http.send(req, kTimeout);
  if (!res) {
    return res.status();
  }
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object()) {
    return Status::error(Code::kUnavailable, req.url + " answered HTTP " +
                                                 std::to_string(res->status) + " without JSON");
  }
  return std::move(v.get_object());
}

Result<json::object> postForm(net::HttpClient& http, const std::string& url,
                              const std::vector<std::pair<std::string, std::string>>& form) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = net::formEncode(form);
  return callJson(http, req);
}

Status checkUrl(const std::string& url, const LoginOptions& opts) {
  if (url.starts_with("https://") || (opts.allow_insecure_http && url.starts_with("http://"))) {
    return Status::ok();
  }
  return invalidArgument("refusing non-https URL " + url + " (--allow-insecure-http for tests)");
}

Status saveToken(const LoginOptions& opts, const std::string& token, int64_t expires_at) {
  const std::string path = access::tokenCachePath();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  json::object doc{{"issuer", opts.issuer},
                   {"gateway", opts.gateway},
                   {"access_token", token},
                   {"expires_at", expires_at}};
  const std::string text = json::serialize(doc);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (fd < 0 || ::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return internalError("cannot write the token cache " + path);
  }
  return Status::ok();
}

// Polls the token endpoint until the person approves, denies, or the code expires.
Result<json::object> pollForToken(net::HttpClient& http, const std::string& token_endpoint,
                                  const LoginOptions& opts, const json::object& device) {
  int interval = static_cast<int>(memberInt(device, "interval", 5));
  const int64_t expires_in = memberInt(device, "expires_in", 600);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(expires_in);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, interval)));
    std::vector<std::pair<std::string, std::string>> form = {
        {"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
        {"device_code", memberString(device, "device_code")},
        {"client_id", opts.client_id}};
    if (!opts.audience.empty()) {
      form.emplace_back("resource", opts.audience);  // RFC 8707: the token's audience
    }
    auto res = postForm(http, token_endpoint, form);
    if (!res) {
      return res.status();
    }
    const std::string error = memberString(*res, "error");
    if (error.empty()) {
      return res;
    }
    if (error == "slow_down") {
      interval += 5;
    } else if (error != "authorization_pending") {
      return Status::error(Code::kPermissionDenied, "login failed: " + error + " " +
                                                        memberString(*res, "error_description"));
    }
  }
  return Status::error(Code::kPermissionDenied, "login timed out: the code was not approved");
}

Status login(const LoginOptions& opts) {
  if (Status st = checkUrl(opts.issuer, opts); !st) {
    return st;
  }
  net::HttpClient http;
  std::string base = opts.issuer;
  while (base.ends_with('/')) {
    base.pop_back();
  }
  net::HttpRequest discovery;
  discovery.url = base + "/.well-known/openid-configuration";
  auto meta = callJson(http, discovery);
  if (!meta) {
    return meta.status();
  }
  const std::string device_endpoint = memberString(*meta, "device_authorization_endpoint");
  const std::string token_endpoint = memberString(*meta, "token_endpoint");
  if (device_endpoint.empty() || token_endpoint.empty()) {
    return invalidArgument(opts.issuer + " does not offer the device authorization grant");
  }
  for (const auto& url : {device_endpoint, token_endpoint}) {
    if (Status st = checkUrl(url, opts); !st) {
      return st;
    }
  }
  std::vector<std::pair<std::string, std::string>> form = {{"client_id", opts.client_id},
                                                           {"scope", opts.scope}};
  if (!opts.audience.empty()) {
    form.emplace_back("resource", opts.audience);
  }
  auto device = postForm(http, device_endpoint, form);
  if (!device) {
    return device.status();
  }
  if (auto error = memberString(*device, "error"); !error.empty()) {
    return invalidArgument("device authorization refused: " + error + " " +
                           memberString(*device, "error_description"));
  }
  const std::string complete = memberString(*device, "verification_uri_complete");
  std::cerr << "To sign in, open " << memberString(*device, "verification_uri")
            << " and enter the code " << memberString(*device, "user_code") << "\n";
  if (!complete.empty()) {
    std::cerr << "  (or open " << complete << ")\n";
  }
  std::cerr << "user_code: " << memberString(*device, "user_code") << std::endl;
  auto token = pollForToken(http, token_endpoint, opts, *device);
  if (!token) {
    return token.status();
  }
  const std::string access_token = memberString(*token, "access_token");
  if (access_token.empty()) {
    return invalidArgument("the token endpoint returned no access_token");
  }
  const int64_t lifetime = memberInt(*token, "expires_in", 3600);
  const int64_t expires_at = Clock::system().nowUnixSeconds() + lifetime;
  if (Status st = saveToken(opts, access_token, expires_at); !st) {
    return st;
  }
  std::cerr << "Signed in; token cached in " << access::tokenCachePath() << " until "
            << formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(expires_at)))
            << "\n";
  return Status::ok();
}

std::string shellQuote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

Status printEnv(const EnvOptions& opts) {
  std::ifstream in(access::tokenCachePath());
  if (!in) {
    return Status::error(Code::kNotFound, "no cached token in " + access::tokenCachePath() +
                                              "; run `jitgate login` first");
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  const auto* obj = doc.if_object();
  if (ec || !obj || memberString(*obj, "access_token").empty()) {
    return invalidArgument(access::tokenCachePath() +
                           " is not a jitgate token cache; run `jitgate login`");
  }
  const std::string token = memberString(*obj, "access_token");
  const int64_t expires_at = memberInt(*obj, "expires_at", 0);
  if (expires_at <= Clock::system().nowUnixSeconds()) {
    return Status::error(
        Code::kPermissionDenied,
        "the cached token expired at " +
            formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(expires_at))) +
            "; run `jitgate login`");
  }
  std::string gateway = opts.gateway.empty() ? memberString(*obj, "gateway") : opts.gateway;
  const size_t colon = gateway.rfind(':');
  const std::string host = colon == std::string::npos ? gateway : gateway.substr(0, colon);
  const std::string port = colon == std::string::npos ? "6432" : gateway.substr(colon + 1);
  // The user name is informational (identity comes from the token); prefer the email.
  std::string user = "jitgate";
  if (auto jws = identity::decodeJwsUnchecked(token)) {
    for (const char* claim : {"email", "preferred_username", "sub"}) {
      if (auto v = memberString(jws->payload, claim); !v.empty()) {
        user = v;
        break;
      }
    }
  }
  const std::pair<const char*, std::string> vars[] = {
      {"PGHOST", host}, {"PGPORT", port},         {"PGDATABASE", opts.resource},
      {"PGUSER", user}, {"PGSSLMODE", "require"}, {"PGPASSWORD", token}};
  json::object env;
  for (const auto& [name, value] : vars) {
    if (opts.json) {
      env[name] = value;
    } else {
      std::cout << "export " << name << "=" << shellQuote(value) << "\n";
    }
  }
  if (opts.json) {
    std::cout << json::serialize(env) << "\n";
  }
  return Status::ok();
}

void addLogin(CLI::App& app) {
  auto opts = std::make_shared<LoginOptions>();
  auto* cmd = app.add_subcommand("login", "Sign in with the identity provider (device code)");
  cmd->add_option("--issuer", opts->issuer, "OIDC issuer URL")
      ->envname("JITGATE_ISSUER")
      ->required();
  cmd->add_option("--client-id", opts->client_id, "Public client registered for jitgate")
      ->envname("JITGATE_CLIENT_ID")
      ->capture_default_str();
  cmd->add_option("--audience", opts->audience, "Resource indicator / audience to request")
      ->envname("JITGATE_AUDIENCE");
  cmd->add_option("--scope", opts->scope, "Scopes to request")->capture_default_str();
  cmd->add_option("--gateway", opts->gateway, "Gateway host:port remembered for `jitgate env`")
      ->envname("JITGATE_GATEWAY")
      ->capture_default_str();
  cmd->add_flag("--allow-insecure-http", opts->allow_insecure_http, "Allow http:// (tests only)");
  cmd->callback([opts] {
    if (Status url = checkUrl(opts->issuer, *opts); !url) {
      throw CLI::ValidationError("--issuer", url.message());  // a usage error: exit 2
    }
    Status st = login(*opts);
    if (!st) {
      std::cerr << "jitgate: " << st.message() << "\n";
    }
    setExitCode(st ? 0 : 1);
  });

  auto env = std::make_shared<EnvOptions>();
  auto* envcmd = app.add_subcommand(
      "env", "Print the libpq environment for RESOURCE: eval \"$(jitgate env kb)\"; psql");
  envcmd->add_option("resource", env->resource, "Resource (database) name")->required();
  envcmd->add_option("--gateway", env->gateway, "Gateway host:port (default: from login)");
  envcmd->add_flag("--json", env->json, "Print the variables as one JSON object");
  envcmd->callback([env] {
    Status st = printEnv(*env);
    if (!st) {
      std::cerr << "jitgate: " << st.message() << "\n";
    }
    setExitCode(st ? 0 : 1);
  });
}

}  // namespace

JITGATE_COMMAND(addLogin);

}  // namespace jg::cli
