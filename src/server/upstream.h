// Connecting to an upstream PostgreSQL server: TCP, TLS per sslmode, startup, authentication
// (SCRAM-SHA-256 with channel binding over TLS, md5, cleartext, trust), and the parameter
// statuses and backend key the server reports before its first ReadyForQuery.
//
// Also sends CancelRequests to an upstream. Coroutines run on the calling session's executor.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/pg/messages.h"
#include "server/config.h"
#include "server/stream.h"

namespace jg::server {

struct UpstreamConnection {
  std::unique_ptr<ByteStream> stream;
  std::vector<std::pair<std::string, std::string>> parameters;  // ParameterStatus, in order
  pg::BackendKeyData key;
  // Messages the server sent before ReadyForQuery that the client should see (notices).
  std::string notices;
  // Bytes received after ReadyForQuery (normally none).
  std::string leftover;
};

struct UpstreamCredentials {
  std::string user;
  std::string password;  // never logged
};

// Client startup parameters forwarded upstream (allow-listed by the session).
using StartupParams = std::vector<std::pair<std::string, std::string>>;

// Connects and authenticates. Errors carry SQLSTATE 08001/08006 (unreachable) or 28000/28P01
// (refused) with a message naming the resource and the cause.
asio::awaitable<Result<UpstreamConnection>> connectUpstream(
    const ResourceConfig& resource, const UpstreamCredentials& creds, const StartupParams& params,
    ssl::context* tls_context, std::chrono::milliseconds timeout, size_t max_message);

// The error for an ErrorResponse the upstream sent during startup: 28000 "refused the gateway's
// credentials" for an authentication failure (class 28), otherwise "is unavailable" with the
// server's own SQLSTATE (57P03 while it starts, stops or recovers; 53300 when it is full).
Status serverRefusal(const ResourceConfig& resource, std::string_view payload);

class Session;

struct CancelTarget {
  std::string host;
  uint16_t port = 0;
  pg::BackendKeyData key;
  // The client's session, so a cancel also ends a statement held for approval there.
  std::weak_ptr<Session> session;
};

// Sends a CancelRequest to the upstream. Best effort, as in PostgreSQL.
asio::awaitable<void> sendCancel(const CancelTarget& target);

// Builds the TLS client context for a resource's upstream (verification per sslmode).
Result<std::shared_ptr<ssl::context>> makeUpstreamTlsContext(const UpstreamConfig& upstream);

}  // namespace jg::server
