// ApiClient: the command-line side of the gateway's admin API (`jitgate request`, `jitgate
// review`). Resolves where the API is and which token to send, makes one JSON request per call
// and turns API errors into Status values whose message is the API's own.
//
// Gateway URL: --gateway (http://host:port or host:port), else $JITGATE_ADMIN_URL, else
// `listen.admin` of the configuration file given with --config.
// Token: --token, else $JITGATE_TOKEN, else the cache written by `jitgate login`
// ($JITGATE_TOKEN_CACHE, else $XDG_CACHE_HOME/jitgate/token.json, else
// ~/.cache/jitgate/token.json). The token is sent as a bearer token and never printed.
//
// Thread-compatible; used by one command on the main thread.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "net/http.h"

namespace jg::access {

struct ClientOptions {
  std::string gateway;      // admin API base URL or host:port
  std::string token;        // bearer token
  std::string config_file;  // gateway configuration, for listen.admin
  std::chrono::milliseconds timeout{30'000};
};

struct ApiResponse {
  int status = 0;
  boost::json::value body;
};

class ApiClient {
 public:
  static Result<ApiClient> make(const ClientOptions& options);

  // Sends `body` (unless null) as JSON. A 2xx answer is returned; any other answer becomes an
  // error: kPermissionDenied (401/403), kNotFound (404), conflict (409, see isConflict),
  // kInvalidArgument (other 4xx), kUnavailable (5xx, transport) — with the API's message.
  Result<boost::json::value> call(const std::string& method, const std::string& path,
                                  const boost::json::value& body = nullptr);
  const std::string& baseUrl() const { return base_; }

 private:
  ApiClient(std::string base, std::string token, std::chrono::milliseconds timeout);
  std::string base_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<net::HttpClient> http_;
};

// Exposed for tests.
Result<std::string> resolveGatewayUrl(const ClientOptions& options);
Result<std::string> resolveToken(const ClientOptions& options);
std::string tokenCachePath();

}  // namespace jg::access
