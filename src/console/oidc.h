// OidcClient: the console's side of the OIDC authorization code flow with PKCE (RFC 6749 §4.1,
// RFC 7636 S256, OpenID Connect Core §3.1).
//
// authorizationUrl() builds the redirect to the issuer's authorization endpoint (found by
// discovery on first use and cached) with state, nonce and code_challenge. completeSignIn()
// exchanges the code at the token endpoint, verifies the ID token (signature and issuer by the
// issuer's keys, `aud` = client_id, `nonce` = the one sent) and verifies the access token exactly
// as the admin API verifies a bearer token; the person's Identity is the access token's (groups
// included), and it must name the same subject as the ID token. Tokens never appear in errors.
//
// Thread-safe. Both calls may block on HTTP (bounded by the timeout): run them off the I/O thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "console/sessions.h"
#include "console/settings.h"
#include "core/status.h"
#include "identity/identity.h"
#include "net/http.h"

namespace jg::console {

using HttpSend = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;
using TokenVerify = std::function<Result<identity::Identity>(std::string_view token)>;

struct OidcClientOptions {
  Settings settings;
  std::string issuer;         // the issuer to sign in with (exact `iss`)
  HttpSend http;              // discovery and the token endpoint
  TokenVerify verify_id;      // signature, issuer, expiry and aud = client_id of ID tokens
  TokenVerify verify_access;  // the admin API's bearer token verification
};

class OidcClient {
 public:
  explicit OidcClient(OidcClientOptions options) : o_(std::move(options)) {}

  // The issuer URL to send the browser to for this sign-in.
  [[nodiscard]] Result<std::string> authorizationUrl(const PendingLogin& login);
  // Code → tokens → verified Identity. PermissionDenied when a token is refused.
  [[nodiscard]] Result<identity::Identity> completeSignIn(std::string_view code,
                                                          const PendingLogin& login);

  const Settings& settings() const { return o_.settings; }

 private:
  struct Endpoints {
    std::string authorization;
    std::string token;
  };
  Result<Endpoints> endpoints();
  Result<std::pair<std::string, std::string>> exchange(std::string_view code,
                                                       const PendingLogin& login,
                                                       const std::string& token_url);
  Status checkIdToken(std::string_view id_token, const PendingLogin& login, std::string& subject);

  OidcClientOptions o_;
  std::mutex mu_;
  std::optional<Endpoints> endpoints_;
};

}  // namespace jg::console
