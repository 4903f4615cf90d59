// Startup of a Session: the startup packet (SSLRequest, GSSENCRequest, CancelRequest, protocol
// version), front-end authentication (an OIDC token or the static password as the password
// message) and the connection to the upstream with the pinned parameters.
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_fields.h"
#include "core/metrics.h"
#include "identity/verifier.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/gateway.h"
#include "server/session.h"

namespace jg::server {
namespace {

Status fatal(std::string sqlstate, std::string message) {
  return Status::error(Code::kPermissionDenied, std::move(message), std::move(sqlstate));
}

// Startup parameters passed through to the upstream. Anything that can change the server's
// security context (`options`, `role`, `session_authorization`) is not in this list; neither are
// the settings the gateway pins (see upstreamParams).
bool forwardedParam(std::string_view key) {
  static constexpr std::string_view kAllowed[] = {
      "application_name", "datestyle",  "intervalstyle", "timezone",    "extra_float_digits",
      "lc_monetary",      "lc_numeric", "lc_time",       "bytea_output"};
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return std::find(std::begin(kAllowed), std::end(kAllowed), lower) != std::end(kAllowed);
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ::tolower);
  return out;
}

// The startup parameters sent upstream. The settings that decide how the server reads the bytes
// of a statement and resolves its names are pinned, so that the gateway's parser reads every
// statement exactly as the server does: client_encoding UTF8 (a client that asks for another
// encoding is refused: in GBK, SJIS, BIG5 or GB18030 a multibyte character can end in the byte
// of a backslash), standard_conforming_strings on, and the search_path (the client's, else the
// resource's). `path` receives the search_path the session starts with.
Result<StartupParams> upstreamParams(const pg::StartupMessage& startup, const ResourceConfig& res,
                                     std::vector<std::string>& path) {
  StartupParams params;
  std::string search_path = res.upstream.search_path;
  for (const auto& [k, v] : startup.params) {
    std::string key = lowerAscii(k);
    if (key == "client_encoding" && !sql::isUtf8Encoding(v)) {
      return fatal("22023", fmt::format("client_encoding \"{}\" is not supported through "
                                        "jitgate: it speaks UTF8 with the server; connect with "
                                        "client_encoding UTF8 (PGCLIENTENCODING=UTF8)",
                                        v));
    }
    if (key == "search_path") {
      search_path = std::string(v);
    } else if (forwardedParam(key)) {
      params.emplace_back(std::string(k), std::string(v));
    }
  }
  auto parsed = sql::parseSearchPath(search_path);
  if (!parsed) {
    return fatal("22023", fmt::format("invalid search_path \"{}\": expected a comma-separated "
                                      "list of schema names",
                                      search_path));
  }
  path = std::move(*parsed);
  params.emplace_back("client_encoding", "UTF8");
  params.emplace_back("standard_conforming_strings", "on");
  params.emplace_back("search_path", std::move(search_path));
  return params;
}

bool equalSecrets(std::string_view a, std::string_view b) {
  unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
  return CRYPTO_memcmp(ha, hb, sizeof ha) == 0;
}

}  // namespace

// A bounded reason for jitgate_auth_failures_total (never the message: it may name a user).
std::string_view authFailureReason(const Status& failure) {
  const std::string sqlstate = sqlstateFor(failure);
  if (sqlstate == "28P01") {
    return "invalid_credential";  // a bad token (signature, expiry, format) or password
  }
  if (sqlstate == "28000") {
    return failure.code() == Code::kUnavailable ? "keys_unavailable" : "not_accepted";
  }
  if (sqlstate == "08P01") {
    return "protocol";
  }
  return "disconnected";
}

asio::awaitable<Status> Session::startup() {
  const auto& cfg = *rt_->config;
  MessageReader reader(cfg.limits.max_startup_bytes);
  pg::StartupMessage startup;
  std::string storage;
  bool cancel_only = false;
  if (auto st = co_await readStartupPacket(reader, startup, storage, cancel_only); !st) {
    co_return st;
  }
  if (cancel_only) {
    cancel_only_ = true;
    co_return Status::ok();
  }
  if (auto st = checkStartup(startup); !st) {
    co_return st;
  }
  application_name_ = std::string(startup.get("application_name"));
  if (audit_) {
    audit::ConnectEvent e;
    e.client_addr = client_addr_;
    e.resource = resource_;
    if (SSL* tls = client_->nativeTls()) {
      e.tls_version = SSL_get_version(tls);
      e.tls_cipher = SSL_get_cipher_name(tls);
    }
    e.application_name = std::string(startup.get("application_name"));
    e.db_user = user_;
    audit_->connect(std::move(e));
  }
  publishSummary("startup");
  if (auto st = co_await authenticateClient(reader); !st) {
    const std::string_view reason = authFailureReason(st);
    metrics::authFailures().add({"postgres", reason});
    log::warnWith(id_, {{"resource", resource_}, {"reason", reason}, {"sqlstate", sqlstateFor(st)}},
                  "authentication failed for user \"{}\" resource \"{}\": {}", user_, resource_,
                  st.message());
    if (audit_) {
      audit_->auth(false, rt_->verifier ? "oidc" : "static",
                   identity_.subject.empty() ? nullptr : &identity_, st.message());
    }
    co_return st;
  }
  if (audit_) {
    audit_->auth(true, auth_method_, &identity_, {});
  }
  publishSummary("authenticated");
  // Authorization is not authentication: a policy refusal is logged and counted as such by
  // authorizeSession, never as an authentication failure.
  if (auto st = co_await authorizeSession(); !st) {
    if (audit_) {  // the refusal is on the record and found by user, as a refused login is
      audit_->auth(false, "policy", &identity_, st.message());
    }
    co_return st;
  }
  pending_client_bytes_ = std::string(reader.leftover());
  Status connected = co_await connectToUpstream(startup);
  if (connected) {
    publishSummary("active");
  }
  co_return connected;
}

Status Session::checkStartup(const pg::StartupMessage& startup) {
  const auto& cfg = *rt_->config;
  user_ = std::string(startup.get("user"));
  resource_ = std::string(startup.get("database"));
  if (resource_.empty()) {
    resource_ = user_;  // libpq's default, as PostgreSQL does
  }
  if (user_.empty()) {
    return fatal("28000", "no PostgreSQL user name specified in startup packet");
  }
  std::string_view repl = startup.get("replication");
  if (!repl.empty() && repl != "false" && repl != "0" && repl != "off" && repl != "no") {
    return fatal("0A000", "replication connections are not supported through jitgate");
  }
  if (!startup.get("options").empty()) {
    return fatal("0A000",
                 "the startup parameter \"options\" is not allowed through jitgate (it can "
                 "change server settings for the session); run SET after connecting instead");
  }
  resource_cfg_ = cfg.resource(resource_);
  if (resource_cfg_ == nullptr) {
    return fatal("3D000", fmt::format("resource \"{}\" is not configured on this gateway; "
                                      "connect with dbname set to a configured resource",
                                      resource_));
  }
  if (!client_->isTls() && cfg.tls.require_client_tls && !in_process_) {
    return fatal("28000", "this gateway requires TLS: connect with sslmode=require (or stricter)");
  }
  return Status::ok();
}

asio::awaitable<Status> Session::readStartupPacket(MessageReader& reader, pg::StartupMessage& out,
                                                   std::string& storage, bool& cancel_only) {
  for (;;) {
    auto frame = co_await reader.next(*client_, /*startup=*/true);
    if (!frame) {
      co_return frame.status();
    }
    pg::StartupPacket packet;
    if (!pg::decodeStartupPacket(frame->payload, packet)) {
      co_return protocolError("invalid startup packet layout");
    }
    switch (packet.kind) {
      case pg::StartupKind::kSslRequest:
        if (auto st = co_await answerSslRequest(reader); !st) {
          co_return st;
        }
        continue;
      case pg::StartupKind::kGssEncRequest:
        if (auto ec = co_await client_->writeAll("N")) {
          co_return Status::error(Code::kUnavailable, ec.message());
        }
        continue;
      case pg::StartupKind::kCancel:
        co_await handleCancel(packet.cancel);
        cancel_only = true;
        co_return Status::ok();
      case pg::StartupKind::kStartup:
        break;
    }
    uint32_t major = packet.startup.protocol >> 16, minor = packet.startup.protocol & 0xffff;
    if (major != 3) {
      co_return fatal("0A000", fmt::format("unsupported frontend protocol {}.{}: jitgate "
                                           "supports 3.0",
                                           major, minor));
    }
    // Copy the parameters out of the reader's buffer: it is reused for the next message.
    storage.assign(frame->payload);
    if (!pg::decodeStartupPacket(storage, packet)) {
      co_return protocolError("invalid startup packet layout");
    }
    out = packet.startup;
    co_return co_await negotiateVersion(out);
  }
}

asio::awaitable<Status> Session::answerSslRequest(MessageReader& reader) {
  if (client_->isTls()) {
    co_return protocolError("SSL request received on an encrypted connection");
  }
  if (!reader.leftover().empty()) {
    // Bytes after SSLRequest would be read as if they came over TLS.
    co_return protocolError("received unencrypted data after SSL request");
  }
  if (auto ec = co_await client_->writeAll(rt_->client_tls ? "S" : "N")) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  if (rt_->client_tls) {
    if (auto ec = co_await client_->acceptTls(*rt_->client_tls)) {
      co_return Status::error(Code::kUnavailable, "TLS handshake failed: " + ec.message());
    }
  }
  co_return Status::ok();
}

// Protocol 3.x with x > 0, and `_pq_.` options, are answered with NegotiateProtocolVersion:
// the gateway speaks 3.0 and no protocol extensions.
asio::awaitable<Status> Session::negotiateVersion(pg::StartupMessage& out) {
  uint32_t minor = out.protocol & 0xffff;
  std::vector<std::string_view> unrecognized;
  std::erase_if(out.params, [&](const auto& kv) {
    if (kv.first.starts_with("_pq_.")) {
      unrecognized.push_back(kv.first);
      return true;
    }
    return false;
  });
  if (minor > 0 || !unrecognized.empty()) {
    std::string msg;
    pg::encodeNegotiateProtocolVersion(msg, pg::NegotiateProtocolVersion{0, unrecognized});
    if (auto ec = co_await client_->writeAll(msg)) {
      co_return Status::error(Code::kUnavailable, ec.message());
    }
  }
  co_return Status::ok();
}

asio::awaitable<Status> Session::authenticateClient(MessageReader& reader) {
  const auto& cfg = *rt_->config;
  if (in_process_) {
    co_return co_await acceptInProcessCaller();
  }
  if (!client_->isTls()) {
    bool loopback = services_.listenerIsLoopback() && client_->peerIsLoopback();
    if (!(loopback && cfg.tls.allow_plaintext_loopback)) {
      co_return fatal("28000",
                      "refusing to ask for a password or token over an unencrypted connection: "
                      "connect with sslmode=require");
    }
  }
  std::string out;
  pg::encodeAuthentication(out, pg::Authentication{pg::AuthCode::kCleartextPassword, {}, {}, {}});
  if (auto ec = co_await client_->writeAll(out)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  auto frame = co_await reader.next(*client_);
  if (!frame) {
    co_return frame.status();
  }
  std::string_view password;
  if (frame->type != pg::fe::kPassword || !pg::decodePasswordMessage(frame->payload, password)) {
    co_return protocolError("expected a password message");
  }
  if (rt_->verifier) {
    const std::string token(password);
    if (auto st = co_await verifyToken(token); !st) {
      co_return st;
    }
  } else {
    if (auto st = checkStaticPassword(password); !st) {
      co_return st;
    }
  }
  log::info(id_, "authenticated {} (sub={}, groups=[{}]) by {} for resource \"{}\" tls={}",
            identity_.display(), identity_.subject, fmt::join(identity_.groups, ","), auth_method_,
            resource_, client_->isTls());
  std::string ok;
  pg::encodeAuthentication(ok, pg::Authentication{pg::AuthCode::kOk, {}, {}, {}});
  if (auto ec = co_await client_->writeAll(ok)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  co_return Status::ok();
}

Status Session::checkStaticPassword(std::string_view password) {
  const auto& cfg = *rt_->config;
  if (!cfg.static_auth.enabled) {
    return fatal("28000", "no authenticator is configured on this gateway");
  }
  if (!equalSecrets(password, cfg.static_auth.password)) {
    return fatal("28P01", fmt::format("password authentication failed for user \"{}\"", user_));
  }
  identity_.issuer = "static";
  identity_.subject = user_;
  identity_.groups = cfg.static_auth.groups;
  auth_method_ = "static";
  return Status::ok();
}

asio::awaitable<Status> Session::verifyToken(const std::string& token) {
  // Signature checks and key fetches are blocking work: run them off the I/O thread.
  // GCC 12 destroys non-trivial temporaries of a co_await expression twice, and a co_await
  // result bound with a structured binding too: name the task and the result.
  auto task = [verifier = rt_->verifier,
               token]() -> asio::awaitable<std::pair<Status, identity::Identity>> {
    auto r = verifier->verify(token);
    if (!r) {
      co_return std::make_pair(r.status(), identity::Identity{});
    }
    co_return std::make_pair(Status::ok(), std::move(*r));
  };
  std::pair<Status, identity::Identity> result =
      co_await asio::co_spawn(services_.blockingPool(), task, asio::use_awaitable);
  const Status& status = result.first;
  if (!status) {
    co_return Status::error(Code::kPermissionDenied, status.message(),
                            status.sqlstate().empty() ? "28000" : status.sqlstate());
  }
  adoptIdentity(std::move(result.second), "oidc");
  co_return Status::ok();
}

void Session::adoptIdentity(identity::Identity who, std::string method) {
  identity_ = std::move(who);
  auth_method_ = std::move(method);
  if (identity_.expires_at != std::chrono::system_clock::time_point{}) {
    deadline_ = identity_.expires_at + rt_->config->auth.token_grace;
    deadline_reason_ = fmt::format(
        "the access token of this session expired at {}; reconnect "
        "with a fresh token",
        formatUtc(identity_.expires_at));
  }
}

// The in-process client's caller was verified by the code that made this session (the MCP
// endpoint checked the bearer token): no password exchange, straight to AuthenticationOk.
asio::awaitable<Status> Session::acceptInProcessCaller() {
  adoptIdentity(in_process_->who, "oidc-mcp");
  log::info(id_, "authenticated {} (sub={}) in process for resource \"{}\"", identity_.display(),
            identity_.subject, resource_);
  std::string ok;
  pg::encodeAuthentication(ok, pg::Authentication{pg::AuthCode::kOk, {}, {}, {}});
  if (auto ec = co_await client_->writeAll(ok)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  co_return Status::ok();
}

asio::awaitable<Status> Session::connectToUpstream(const pg::StartupMessage& startup) {
  const auto& cfg = *rt_->config;
  std::vector<std::string> path;
  auto params = upstreamParams(startup, *resource_cfg_, path);
  if (!params) {
    co_return params.status();
  }
  UpstreamCredentials creds{resource_cfg_->upstream.user, resource_cfg_->upstream.password};
  if (auto st = co_await issueCredential(creds); !st) {
    co_return st;
  }
  // Names resolve as on the server: along the pinned path, "$user" being the login role.
  sql_ctx_ = sql::SessionContext(std::move(path), creds.user);
  sql_ctx_.setLimit(cfg.limits.max_prepared_statements);
  sql_ctx_.setDecideFetch(cfg.policy->timeDependent());
  if (masker_) {
    masker_->attach(services_.classifier(), sql_ctx_);
  }
  ssl::context* tls = nullptr;
  if (auto it = rt_->upstream_tls.find(resource_); it != rt_->upstream_tls.end()) {
    tls = it->second.get();
  }
  auto conn = co_await services_.connectUpstream(*resource_cfg_, creds, *params, tls,
                                                 cfg.timeouts.upstream_connect,
                                                 cfg.limits.max_message_bytes);
  if (!conn) {
    log::warn(id_, "{}", conn.status().message());
    co_return conn.status();
  }
  upstream_ = std::move(conn->stream);
  pending_server_bytes_ = std::move(conn->leftover);
  client_key_ = services_.cancels().add(CancelTarget{
      resource_cfg_->upstream.host, resource_cfg_->upstream.port, conn->key, weak_from_this()});
  std::string out;
  for (const auto& [k, v] : conn->parameters) {
    pg::encodeParameterStatus(out, k, v);
  }
  pg::encodeBackendKeyData(out, client_key_);
  out += conn->notices;
  pg::encodeReadyForQuery(out, 'I');
  if (auto ec = co_await client_->writeAll(out)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  log::info(id_, "connected to upstream {}:{} for resource \"{}\" (upstream tls={})",
            resource_cfg_->upstream.host, resource_cfg_->upstream.port, resource_,
            upstream_->isTls());
  co_return Status::ok();
}

asio::awaitable<void> Session::handleCancel(const pg::CancelRequest& req) {
  auto target = services_.cancels().lookup(req.process_id, req.secret_key);
  if (!target) {
    co_await relayCancel(req);
    co_return;
  }
  log::info(id_, "forwarding cancel request for backend {}", req.process_id);
  if (auto session = target->session.lock()) {
    session->cancelHold();
  }
  co_await sendCancel(*target);
}

}  // namespace jg::server
