// Outbound HTTP(S): the one place the gateway makes client requests to other services (OIDC
// discovery and JWKS, device-flow login, webhooks).
//
// HttpGetter is the small interface callers depend on, so unit tests inject a fake; HttpClient is
// the production implementation on Boost.Beast and OpenSSL. Requests are synchronous with one
// overall deadline (resolve + connect + TLS + write + read), TLS certificates are verified against
// the system store (or a configured CA file) with host-name checking, and response bodies are
// bounded. HttpClient is thread-safe: each request uses its own io_context and connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jg::net {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class HttpGetter {
 public:
  virtual ~HttpGetter() = default;
  // Fetches `url`. Any HTTP status is a successful Result; transport failures (DNS, refused,
  // TLS, timeout, oversized body) are errors with Code::kUnavailable and a message that names
  // the URL and the cause.
  virtual Result<HttpResponse> get(const std::string& url, std::chrono::milliseconds timeout) = 0;
};

class HttpClient final : public HttpGetter {
 public:
  struct Options {
    std::string ca_file;  // empty: the system trust store
    size_t max_body_bytes = 4 * 1024 * 1024;
    std::string user_agent = "jitgate";
  };
  HttpClient() : HttpClient(Options{}) {}
  explicit HttpClient(Options options);

  Result<HttpResponse> get(const std::string& url, std::chrono::milliseconds timeout) override;
  // Any method; `request.body` is sent as is (set a Content-Type header).
  Result<HttpResponse> send(const HttpRequest& request, std::chrono::milliseconds timeout);

 private:
  struct Tls;
  Options options_;
  std::shared_ptr<Tls> tls_;  // built once: loading the trust store is slow
};

// application/x-www-form-urlencoded encoding of name/value pairs.
std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace jg::net
