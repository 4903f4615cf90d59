// The admin API's requests and responses as values, and the parsing of what arrives on the wire:
// the request target (path and query parameters, percent-decoded) and the Authorization header.
// Pure functions, no sockets: the listener (admin_api.cc) and the fuzz target (fuzz/fuzz_admin.cc)
// share them. Thread-safe.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "access/api.h"
#include "identity/identity.h"

namespace jg::server {

struct AdminRequest {
  boost::beast::http::verb method;
  std::string path;  // without the query string
  std::map<std::string, std::string> query;
  std::string body;
  std::optional<identity::Identity> caller;  // set on authenticated routes
  // Request headers the console's cookie sessions and the ETag polling read; empty when absent.
  std::string cookie{};
  std::string origin{};
  std::string csrf_token{};  // X-CSRF-Token
  std::string if_none_match{};
  std::string client_addr{};                 // the peer, "127.0.0.1:51234"
  std::string application{};                 // clientApplication() of its headers
};

// The header a client names its application with (a review shows it to approvers).
inline constexpr std::string_view kApplicationHeader = "X-Jitgate-Application";
// The application an HTTP client names: X-Jitgate-Application, else User-Agent, cut to 200
// bytes of printable ASCII.
std::string clientApplication(std::string_view app_header, std::string_view user_agent);

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Splits an origin-form request target ("/a/b?x=1&y=%20") into a decoded path and query
// parameters (a repeated parameter keeps its last value). False when the target is malformed
// or decodes to something that is not UTF-8.
bool parseAdminTarget(std::string_view target, AdminRequest& out);

// The token of "Bearer <token>" (scheme case-insensitive); empty when the header is not that.
std::string bearerToken(std::string_view authorization);

// The JSON body of an access API reply.
AdminResponse fromReply(const access::ApiReply& r);

// {"error": code, "message": message} with the status.
AdminResponse jsonError(int status, std::string code, std::string message);

}  // namespace jg::server
