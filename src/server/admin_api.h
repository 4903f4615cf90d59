// AdminApi: the gateway's admin HTTP listener (HTTP/1.1 on Boost.Beast): health, the
// just-in-time access API (/api/v1/reviews, /api/v1/grants — access::Api), and routes other
// components register (e.g. /.well-known/jwks.json).
//
// Every /api/ route needs `Authorization: Bearer <OIDC access token>`, verified like a database
// login, or a credential the RequestAuthenticator accepts (the console's session cookie, with its
// CSRF rules); a missing or refused credential gets 401 with a JSON body and
// `WWW-Authenticate: Bearer`, a refused state change 403. GET answers carry an ETag; a request
// whose If-None-Match names it gets 304 without a body (cheap polling).
// Authorisation is the route's business (the access API checks approver groups from policy).
// Errors are JSON: {"error": "<code>", "message": "..."}.
//
// Connections are coroutines on the given io_context; token verification, store access and
// route handlers run on a small internal thread pool, never on the I/O thread (verification may
// fetch keys, the store may wait for a lock). Requests are bounded (64 KiB body, 30 s per
// request, keep-alive). The listener serves TLS when given a server context; plain HTTP is for
// loopback addresses (the configuration refuses anything else).
//
// Thread-safe: addRoute() may be called at any time. stop() (or the destructor) closes the
// listener; connections in flight finish their current request.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "access/api.h"
#include "access/broker.h"
#include "core/status.h"
#include "identity/identity.h"
#include "server/admin_request.h"
#include "server/config.h"

namespace jg::identity {
class Verifier;
}

namespace jg::server {

using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;
using Authenticator = std::function<Result<identity::Identity>(std::string_view token)>;
// Authenticates a request without a bearer token from another credential. nullopt: the request
// carries none. An error: refused (PermissionDenied answers 403, anything else 401).
using RequestAuthenticator =
    std::function<std::optional<Result<identity::Identity>>(const AdminRequest& req)>;

struct AdminApiOptions {
  Endpoint listen;                                 // port 0 picks a free port (see port())
  std::shared_ptr<access::Broker> broker;          // null: no access API
  Authenticator authenticate;                      // required for /api/ routes
  RequestAuthenticator authenticate_request;       // optional: the console's cookie sessions
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
  access::PolicySource policy;  // the current policy (approver groups, review rules)
  int worker_threads = 2;
};

class AdminApi {
 public:
  // Binds and starts accepting on `io`. Fails with a clear message when the address is in use.
  static Result<std::unique_ptr<AdminApi>> start(boost::asio::io_context& io,
                                                 AdminApiOptions options);
  // An Authenticator over the gateway's Verifier (which must outlive the AdminApi).
  static Authenticator verifierAuthenticator(identity::Verifier* verifier);
  ~AdminApi();

  // Exact path match; `authenticated` routes get AdminRequest::caller set (401 otherwise).
  // A later registration of the same method and path replaces the earlier one.
  void addRoute(boost::beast::http::verb method, std::string path, AdminHandler handler,
                bool authenticated = true);
  // Matches every path that starts with `prefix` (e.g. "/api/v1/audit/sessions/") and has no
  // exact route; the longest matching prefix wins. The handler reads the rest of req.path.
  void addPrefixRoute(boost::beast::http::verb method, std::string prefix, AdminHandler handler,
                      bool authenticated = true);
  uint16_t port() const;
  void stop();

  struct Impl;

 private:
  explicit AdminApi(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace jg::server
