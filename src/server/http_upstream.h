// The upstream side of the HTTP front end: a pool of idle keep-alive connections per resource, and
// the credential the upstream sees.
//
// HttpPool keeps idle connections per I/O context, so a connection is only ever used from the
// thread it was created on; acquire() returns an idle one or connects (TCP, then TLS with SNI and
// certificate and host-name verification against the resource's CA file). Thread-safe.
//
// UpstreamCredential builds the header that replaces the client's token: a static secret header,
// a gateway-signed JWT per request (`sub` = the caller), or an OAuth2 client-credentials token
// fetched from the token endpoint and cached until shortly before it expires. The client's own
// token is never forwarded. Thread-safe.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"
#include "identity/identity.h"
#include "server/http_config.h"
#include "server/http_stream.h"

namespace jg::creds {
class TokenIssuer;
}

namespace jg::server {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

// A TLS client context for an https upstream (CA file or the system store; verification on
// unless the resource says `verify: false`; the certificate must name the upstream's host).
Result<std::shared_ptr<ssl::context>> makeHttpUpstreamTls(const HttpUpstreamConfig& u);

class HttpPool {
 public:
  HttpPool(HttpUpstreamConfig config, std::shared_ptr<ssl::context> tls)
      : config_(std::move(config)), tls_(std::move(tls)) {}

  const HttpUpstreamConfig& config() const { return config_; }
  // An idle connection of this executor's context, or a new one. Errors name the upstream.
  asio::awaitable<Result<std::unique_ptr<HttpStream>>> acquire();
  // Gives back a connection whose last response was read completely and may be reused.
  void release(std::unique_ptr<HttpStream> s);

 private:
  asio::awaitable<Result<std::unique_ptr<HttpStream>>> connect();

  HttpUpstreamConfig config_;
  std::shared_ptr<ssl::context> tls_;
  mutable std::mutex mu_;
  std::map<const void*, std::vector<std::unique_ptr<HttpStream>>> idle_;  // by io_context
};

class UpstreamCredential {
 public:
  UpstreamCredential(HttpCredentialConfig config, std::string resource,
                     std::shared_ptr<const creds::TokenIssuer> issuer)
      : config_(std::move(config)), resource_(std::move(resource)), issuer_(std::move(issuer)) {}

  bool none() const { return config_.kind == HttpCredentialConfig::Kind::kNone; }
  // True when header() may block (an OAuth token fetch): call it off the I/O thread.
  bool mayBlock() const { return config_.kind == HttpCredentialConfig::Kind::kOAuth2; }
  // The header (name, value) the upstream gets for a request by `caller`; nullopt for none.
  Result<std::optional<std::pair<std::string, std::string>>> header(
      const identity::Identity& caller);

 private:
  Result<std::string> oauthToken();

  HttpCredentialConfig config_;
  std::string resource_;
  std::shared_ptr<const creds::TokenIssuer> issuer_;
  std::mutex mu_;
  std::string cached_;
  std::chrono::steady_clock::time_point cached_until_{};
};

}  // namespace jg::server
