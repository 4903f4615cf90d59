#include "server/session.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "core/random.h"
#include "identity/verifier.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/gateway.h"

namespace jg::server {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

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

bool isLoopback(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  return !ec && ep.address().is_loopback();
}

}  // namespace

std::string sqlstateFor(const Status& s) {
  if (!s.sqlstate().empty()) {
    return s.sqlstate();
  }
  switch (s.code()) {
    case Code::kProtocol:
      return "08P01";
    case Code::kPermissionDenied:
      return "28000";
    case Code::kUnavailable:
      return "08006";
    case Code::kResourceExhausted:
      return "53300";
    case Code::kInvalidArgument:
      return "08P01";
    default:
      return "XX000";
  }
}

Session::Session(Gateway& gateway, tcp::socket socket)
    : gateway_(gateway),
      rt_(gateway.runtime()),
      id_("s-" + randomId(10)),
      client_(std::make_unique<Stream>(std::move(socket))) {
  client_addr_ = client_->peer();
  touch();
  const auto& limits = rt_->config->limits;
  pg::TrackerLimits tracker_limits;
  tracker_limits.max_statements = limits.max_prepared_statements;
  tracker_limits.max_portals = limits.max_portals;
  tracker_ = pg::Tracker(tracker_limits);
}

Session::~Session() = default;

void Session::terminate(std::string sqlstate, std::string message) {
  auto self = shared_from_this();
  asio::post(client_->socket().get_executor(),
             [self, sqlstate = std::move(sqlstate), message = std::move(message)]() mutable {
               if (!self->fatal_) {
                 self->fatal_ = Fatal{std::move(sqlstate), std::move(message)};
               }
               // Unblock both pumps; the session writes the FATAL once they have stopped.
               error_code ec;
               if (self->upstream_) {
                 self->upstream_->socket().cancel(ec);
               }
               self->client_->socket().cancel(ec);
             });
}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  co_await self->runImpl();
}

asio::awaitable<void> Session::runImpl() {
  if (gateway_.recorder()) {
    audit_ =
        std::make_unique<SessionAudit>(gateway_.recorder(), id_, client_->socket().get_executor());
  }
  log::info(id_, "connection from {}", client_addr_);
  Status end = co_await serve();
  if (client_key_.process_id != 0) {
    gateway_.cancels().remove(client_key_.process_id);
  }
  if (upstream_) {
    upstream_->close();
  }
  client_->close();
  if (lease_) {
    asio::post(gateway_.blockingPool(), [issuer = gateway_.issuer(), lease = std::move(*lease_)] {
      issuer->release(lease);
    });
    lease_.reset();
  }
  if (audit_ && !cancel_only_) {
    audit_->sessionEnd(end.isOk() ? "client-closed" : end.message());
  }
  std::string masked;
  if (masker_) {
    for (const auto& [label, n] : masker_->counters().by_label) {
      masked += fmt::format("{}{}={}", masked.empty() ? "" : ",", label, n);
    }
  }
  if (end.isOk()) {
    log::info(id_,
              "session ended: bytes from client {} from server {} messages from server {}"
              " statements refused {} masked cells [{}]",
              bytes_from_client_, bytes_from_server_, messages_from_server_, statements_refused_,
              masked);
  } else {
    log::info(id_, "session ended: {} ({})", end.message(), sqlstateFor(end));
  }
  gateway_.removeSession(this);
}

asio::awaitable<void> Session::sendError(std::string_view severity, const Status& status) {
  std::string out;
  pg::encodeError(out, severity, sqlstateFor(status), status.message());
  co_await client_->writeAll(out);
}

asio::awaitable<Status> Session::serve() {
  const auto& cfg = *rt_->config;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, cfg.timeouts.startup);
  auto started = co_await (startup() || timer.async_wait(kNoThrow));
  if (started.index() == 1) {
    Status s = Status::error(
        Code::kUnavailable,
        fmt::format("startup did not complete within {} ms", cfg.timeouts.startup.count()),
        "08006");
    co_await sendError("FATAL", s);
    co_return s;
  }
  Status st = std::get<0>(started);
  if (!st) {
    co_await sendError("FATAL", st);
    co_return st;
  }
  if (cancel_only_) {
    co_return Status::ok();
  }
  st = co_await relay();
  if (fatal_) {
    Status f = Status::error(Code::kUnavailable, fatal_->message, fatal_->sqlstate);
    co_await sendError("FATAL", f);
    co_return f;
  }
  if (!st && !client_terminated_) {
    co_await sendError("FATAL", st);
  }
  co_return st;
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
  user_ = std::string(startup.get("user"));
  resource_ = std::string(startup.get("database"));
  if (resource_.empty()) {
    resource_ = user_;  // libpq's default, as PostgreSQL does
  }
  if (user_.empty()) {
    co_return fatal("28000", "no PostgreSQL user name specified in startup packet");
  }
  std::string_view repl = startup.get("replication");
  if (!repl.empty() && repl != "false" && repl != "0" && repl != "off" && repl != "no") {
    co_return fatal("0A000", "replication connections are not supported through jitgate");
  }
  if (!startup.get("options").empty()) {
    co_return fatal("0A000",
                    "the startup parameter \"options\" is not allowed through jitgate (it can "
                    "change server settings for the session); run SET after connecting instead");
  }
  resource_cfg_ = cfg.resource(resource_);
  if (resource_cfg_ == nullptr) {
    co_return fatal("3D000", fmt::format("resource \"{}\" is not configured on this gateway; "
                                         "connect with dbname set to a configured resource",
                                         resource_));
  }
  if (!client_->isTls() && cfg.tls.require_client_tls) {
    co_return fatal("28000",
                    "this gateway requires TLS: connect with sslmode=require (or stricter)");
  }
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
  if (auto st = co_await authenticateClient(reader); !st) {
    log::warn(id_, "authentication failed for user \"{}\" resource \"{}\": {}", user_, resource_,
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
  pending_client_bytes_ = std::string(reader.leftover());
  co_return co_await connectToUpstream(startup);
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
      case pg::StartupKind::kSslRequest: {
        if (client_->isTls()) {
          co_return protocolError("SSL request received on an encrypted connection");
        }
        if (!reader.leftover().empty()) {
          // Bytes after SSLRequest would be read as if they came over TLS.
          co_return protocolError("received unencrypted data after SSL request");
        }
        if (!rt_->client_tls) {
          if (auto ec = co_await client_->writeAll("N")) {
            co_return Status::error(Code::kUnavailable, ec.message());
          }
          continue;
        }
        if (auto ec = co_await client_->writeAll("S")) {
          co_return Status::error(Code::kUnavailable, ec.message());
        }
        if (auto ec = co_await client_->handshake(*rt_->client_tls, ssl::stream_base::server)) {
          co_return Status::error(Code::kUnavailable, "TLS handshake failed: " + ec.message());
        }
        continue;
      }
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
}

asio::awaitable<Status> Session::authenticateClient(MessageReader& reader) {
  const auto& cfg = *rt_->config;
  if (!client_->isTls()) {
    bool loopback = gateway_.listenerIsLoopback() && isLoopback(client_->socket());
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
    if (!cfg.static_auth.enabled) {
      co_return fatal("28000", "no authenticator is configured on this gateway");
    }
    if (!equalSecrets(password, cfg.static_auth.password)) {
      co_return fatal("28P01",
                      fmt::format("password authentication failed for user \"{}\"", user_));
    }
    identity_.issuer = "static";
    identity_.subject = user_;
    identity_.groups = cfg.static_auth.groups;
    auth_method_ = "static";
  }
  log::info(id_, "authenticated {} (sub={}, groups=[{}]) by {} for resource \"{}\" tls={}",
            identity_.display(), identity_.subject, fmt::join(identity_.groups, ","), auth_method_,
            resource_, client_->isTls());
  std::string ok;
  pg::encodeAuthentication(ok, pg::Authentication{pg::AuthCode::kOk, {}, {}, {}});
  if (auto ec = co_await client_->writeAll(ok)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  co_return co_await authorizeSession();
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
      co_await asio::co_spawn(gateway_.blockingPool(), task, asio::use_awaitable);
  const Status& status = result.first;
  if (!status) {
    co_return Status::error(Code::kPermissionDenied, status.message(),
                            status.sqlstate().empty() ? "28000" : status.sqlstate());
  }
  identity_ = std::move(result.second);
  auth_method_ = "oidc";
  if (identity_.expires_at != std::chrono::system_clock::time_point{}) {
    deadline_ = identity_.expires_at + rt_->config->auth.token_grace;
    deadline_reason_ = fmt::format(
        "the access token of this session expired at {}; reconnect "
        "with a fresh token",
        formatUtc(identity_.expires_at));
  }
  co_return Status::ok();
}

bool Session::gated(char type) {
  return type == pg::fe::kQuery || type == pg::fe::kParse || type == pg::fe::kFunctionCall ||
         type == pg::fe::kBind || type == pg::fe::kExecute || type == pg::fe::kDescribe;
}

bool Session::refuseMessage(const pg::Frame& frame, std::string& substitute, std::string& error) {
  if (audit_ && !audit_->writable() && frame.type != pg::fe::kDescribe) {
    return refuseUnrecorded(frame, substitute, error);  // nothing runs unrecorded
  }
  switch (frame.type) {
    case pg::fe::kBind:
      return refuseBind(frame, substitute, error);
    case pg::fe::kExecute:
      return refuseExecute(frame, substitute, error);
    case pg::fe::kDescribe:
      return refuseDescribe(frame, substitute, error);
    default:
      return refuseStatement(frame, substitute, error);
  }
}

bool Session::refuseStatement(const pg::Frame& frame, std::string& substitute, std::string& error) {
  std::string_view sql;
  std::string_view name;
  if (frame.type == pg::fe::kFunctionCall) {
    // The fast-path call names a function by OID with no SQL to classify: policy cannot see
    // what it does, so it is refused (SELECT fn(...) goes through policy instead). The server
    // answers the substitute Query with ErrorResponse + ReadyForQuery, the same shape as a
    // failed FunctionCall.
    reportRefusal("builtin:function-call", "42501",
                  "the fast-path function call protocol is not allowed through jitgate; call the "
                  "function with SELECT so that policy can decide",
                  {}, error);
    substituteRefused(frame, name, substitute);
    return true;
  }
  if (frame.type == pg::fe::kQuery) {
    pg::Query q;
    if (!pg::decodeQuery(frame.payload, q)) {
      return false;  // the tracker reports the malformed message
    }
    sql = q.sql;
  } else {
    pg::Parse p;
    if (!pg::decodeParse(frame.payload, p)) {
      return false;
    }
    sql = p.sql;
    name = p.name;
    if (tracker_.statementsFull(name)) {
      reportRefusal("builtin:limits", "54000",
                    fmt::format("too many prepared statements in this session (limit {}); close "
                                "some before preparing more",
                                rt_->config->limits.max_prepared_statements),
                    "limits.max_prepared_statements", error);
      substituteRefused(frame, {}, substitute);
      return true;
    }
  }
  auto classification = gateway_.classifier().classify(sql);
  if (client_txn_failed_) {
    bool txn_control = classification->status.isOk() && !classification->statements.empty();
    for (const auto& st : classification->statements) {
      txn_control = txn_control && st.kind == sql::Kind::kTransaction;
    }
    if (!txn_control) {
      pg::encodeError(error, "ERROR", "25P02",
                      "current transaction is aborted, commands ignored until end of "
                      "transaction block");
      substituteRefused(frame, name, substitute);
      return true;
    }
  }
  policy::Decision d = rt_->config->policy->evaluateBatch(binding_, classification, sql_ctx_,
                                                          Clock::system().now(), granted_);
  std::string review_message;
  if (d.effect == policy::Effect::kReview && d.review != nullptr) {
    if (d.review->scope == policy::ReviewSpec::Scope::kStatement) {
      if (!name.empty()) {
        // An approval covers one run; a named prepared statement could be executed again.
        review_message = d.message() +
                         ": a statement that needs approval runs once, so it cannot be prepared "
                         "as a named statement; send it unprepared";
      } else if (statementApproved(d, *classification, sql, review_message)) {
        d.effect = policy::Effect::kAllow;
      }
    } else if (const auto& broker = gateway_.broker()) {
      // A session-scope approval may have been granted since the session started.
      if (auto grant = broker->activeGrant(identity_, resource_, d.role)) {
        attachGrant(*grant);
        d = rt_->config->policy->evaluateBatch(binding_, classification, sql_ctx_,
                                               Clock::system().now(), granted_);
      }
    }
  }
  if (d.allowed() && masker_) {
    if (Status st = masker_->setProfile(d.mask_profile); !st) {
      d.effect = policy::Effect::kDeny;
      d.sqlstate = "XX000";
      d.parse_error = st.message();  // reported as the message below
    } else if (Status chk = masker_->checkStatements(*classification); !chk) {
      // A function a column rule does not allow, or a value computed from a column whose rule
      // refuses that (through_expressions: refuse).
      d.effect = policy::Effect::kDeny;
      d.rule_id = "masking:column-rule";
      d.sqlstate = "42501";
      d.parse_error = chk.message();
    }
  }
  if (audit_) {
    std::vector<std::string> tables;
    if (classification->status.isOk()) {
      sql::Resolved resolved;
      for (const auto& st : classification->statements) {
        sql_ctx_.resolve(st, resolved);
        for (const auto& t : resolved.tables) {
          std::string q = t.schema + "." + t.name;
          if (std::find(tables.begin(), tables.end(), q) == tables.end()) {
            tables.push_back(std::move(q));
          }
        }
      }
    }
    audit_->statement(sql, classification.get(), std::move(tables), d,
                      frame.type == pg::fe::kQuery ? "simple" : "extended", name);
  }
  next_row_limit_ = d.allowed() ? d.row_limit : 0;
  if (next_row_limit_ > 0) {
    next_row_limit_by_ = fmt::format("rule {}", d.rule_id);
  }
  if (d.allowed() || !hold_review_.empty()) {
    sql_ctx_.applyAll(classification);  // it runs (or waits to run): its effects count now
    return false;
  }
  std::string message = !d.parse_error.empty()    ? d.parse_error
                        : !review_message.empty() ? review_message
                                                  : d.message();
  std::string detail = d.detail;
  if (d.effect == policy::Effect::kReview) {
    detail += detail.empty() ? "" : "; ";
    detail += "this statement needs approval";
  }
  reportRefusal(d.rule_id, d.sqlstate, message, detail, error);
  substituteRefused(frame, name, substitute);
  return true;
}

bool Session::refuseExecute(const pg::Frame& frame, std::string& substitute, std::string& error) {
  pg::Execute e;
  if (!pg::decodeExecute(frame.payload, e)) {
    return false;  // the tracker reports the malformed message
  }
  thread_local std::vector<pg::SqlText> sqls;
  tracker_.portalSqls(e.portal, sqls);
  if (sqls.empty()) {
    reportRefusal("builtin:unknown-portal", "34000",
                  fmt::format("portal \"{}\" does not exist", e.portal), {}, error);
  } else if (!rt_->config->policy->timeDependent() && sql_ctx_.generation() == 0) {
    return false;  // the decision taken at Parse still holds
  } else {
    // A time window may have closed, or the search_path changed since the statement was
    // prepared (the server analyses it again): decide again every statement it may run.
    policy::Decision d;
    for (const auto& sql : sqls) {
      d = rt_->config->policy->evaluateBatch(binding_, gateway_.classifier().classify(*sql),
                                             sql_ctx_, Clock::system().now(), granted_);
      if (!d.allowed()) {
        break;
      }
    }
    if (d.allowed()) {
      return false;
    }
    reportRefusal(d.rule_id, d.sqlstate, d.message() + " (decided again at execution)", d.detail,
                  error);
  }
  substituteRefused(frame, {}, substitute);
  return true;
}

bool Session::refuseBind(const pg::Frame& frame, std::string& substitute, std::string& error) {
  pg::Bind b;
  if (!pg::decodeBind(frame.payload, b)) {
    return false;  // the tracker reports the malformed message
  }
  if (!tracker_.statementSql(b.statement)) {
    reportRefusal("builtin:unknown-statement", "26000",
                  fmt::format("prepared statement \"{}\" does not exist", b.statement), {}, error);
  } else if (tracker_.portalsFull(b.portal)) {
    reportRefusal("builtin:limits", "54000",
                  fmt::format("too many open portals in this session (limit {}); close some "
                              "first",
                              rt_->config->limits.max_portals),
                  "limits.max_portals", error);
  } else {
    return false;
  }
  substituteRefused(frame, {}, substitute);
  return true;
}

bool Session::refuseDescribe(const pg::Frame& frame, std::string& substitute, std::string& error) {
  pg::Describe d;
  if (!pg::decodeDescribe(frame.payload, d)) {
    return false;  // the tracker reports the malformed message
  }
  // A Describe returns only metadata: SQL-level statements and cursors (psycopg describes its
  // DECLAREd cursors) may be described too.
  thread_local std::vector<pg::SqlText> sqls;
  if (d.target == 'S' && !tracker_.statementSql(d.name) && !sql_ctx_.hasPrepared(d.name)) {
    reportRefusal("builtin:unknown-statement", "26000",
                  fmt::format("prepared statement \"{}\" does not exist", d.name), {}, error);
  } else if (d.target == 'P' && !sql_ctx_.hasCursor(d.name) &&
             (tracker_.portalSqls(d.name, sqls), sqls.empty())) {
    reportRefusal("builtin:unknown-portal", "34000",
                  fmt::format("portal \"{}\" does not exist", d.name), {}, error);
  } else {
    return false;
  }
  substituteRefused(frame, {}, substitute);
  return true;
}

void Session::reportRefusal(std::string_view rule_id, std::string_view sqlstate,
                            const std::string& message, const std::string& detail,
                            std::string& error) {
  std::string_view code = sqlstate.empty() ? "42501" : sqlstate;
  ++statements_refused_;
  log::info(id_, "statement refused ({}): {}{}{}", rule_id, message, detail.empty() ? "" : "; ",
            detail);
  pg::encodeError(error, "ERROR", code, message, detail);
  if (audit_) {
    audit_->error("gateway", "ERROR", code, message);
  }
}

void Session::substituteRefused(const pg::Frame& frame, std::string_view name,
                                std::string& substitute) {
  // A message the server refuses: a syntax error for a statement, a name that does not exist
  // for Bind, Execute and Describe. It aborts a transaction block, and in the extended protocol
  // makes the server skip to Sync, exactly as a refused message should.
  constexpr std::string_view kRefused = "JITGATE REFUSED";
  constexpr std::string_view kNoSuchName = "jitgate refused";
  switch (frame.type) {
    case pg::fe::kParse:
      pg::encodeParse(substitute, pg::Parse{name, kRefused, {}});
      return;
    case pg::fe::kBind: {
      pg::Bind b;
      b.statement = kNoSuchName;
      pg::encodeBind(substitute, b);
      return;
    }
    case pg::fe::kExecute:
      pg::encodeExecute(substitute, pg::Execute{kNoSuchName, 0});
      return;
    case pg::fe::kDescribe: {
      pg::Describe d;
      (void)pg::decodeDescribe(frame.payload, d);
      pg::encodeDescribe(substitute, pg::Describe{d.target, kNoSuchName});
      return;
    }
    default:
      pg::encodeQuery(substitute, kRefused);
  }
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
    masker_->attach(gateway_.classifier(), sql_ctx_);
  }
  ssl::context* tls = nullptr;
  if (auto it = rt_->upstream_tls.find(resource_); it != rt_->upstream_tls.end()) {
    tls = it->second.get();
  }
  auto conn = co_await connectUpstream(*resource_cfg_, creds, *params, tls,
                                       cfg.timeouts.upstream_connect, cfg.limits.max_message_bytes);
  if (!conn) {
    log::warn(id_, "{}", conn.status().message());
    co_return conn.status();
  }
  upstream_ = std::move(conn->stream);
  pending_server_bytes_ = std::move(conn->leftover);
  client_key_ = gateway_.cancels().add(CancelTarget{
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
  auto target = gateway_.cancels().lookup(req.process_id, req.secret_key);
  if (!target) {
    log::warn(id_, "cancel request for unknown backend {} ignored", req.process_id);
    co_return;
  }
  log::info(id_, "forwarding cancel request for backend {}", req.process_id);
  if (auto session = target->session.lock()) {
    session->cancelHold();
  }
  co_await sendCancel(*target);
}

}  // namespace jg::server
