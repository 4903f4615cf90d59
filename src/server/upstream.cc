#include "server/upstream.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/scram.h"

namespace jg::server {
namespace {

// Upstream credentials are reused across sessions (a resource's static user, a pooled role):
// their SCRAM SaltedPassword is derived once per process.
pg::SaltedPasswordCache& saltedPasswords() {
  static pg::SaltedPasswordCache cache(256);
  return cache;
}

using namespace boost::asio::experimental::awaitable_operators;

Status unavailable(const ResourceConfig& r, std::string_view why) {
  return Status::error(Code::kUnavailable,
                       fmt::format("upstream for resource \"{}\" ({}:{}) is unavailable: {}",
                                   r.name, r.upstream.host, r.upstream.port, why),
                       "08001");
}

Status refused(const ResourceConfig& r, std::string_view why) {
  return Status::error(Code::kPermissionDenied,
                       fmt::format("upstream for resource \"{}\" refused the gateway's "
                                   "credentials: {}",
                                   r.name, why),
                       "28000");
}

asio::awaitable<Result<tcp::socket>> dial(const ResourceConfig& r,
                                          std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(r.upstream.host, std::to_string(r.upstream.port), kNoThrow);
  if (rec) {
    co_return unavailable(r, "cannot resolve host: " + rec.message());
  }
  tcp::socket socket(ex);
  asio::steady_timer timer(ex, timeout);
  auto result =
      co_await (asio::async_connect(socket, results, kNoThrow) || timer.async_wait(kNoThrow));
  if (result.index() == 1) {
    co_return unavailable(r, fmt::format("connect timed out after {} ms", timeout.count()));
  }
  auto [ec, ep] = std::get<0>(result);
  if (ec) {
    co_return unavailable(r, ec.message());
  }
  socket.set_option(tcp::no_delay(true));
  co_return std::move(socket);
}

// SSLRequest and handshake according to sslmode.
asio::awaitable<Status> negotiateTls(Stream& s, const ResourceConfig& r, ssl::context* ctx) {
  if (r.upstream.sslmode == SslMode::kDisable || ctx == nullptr) {
    co_return Status::ok();
  }
  std::string req;
  pg::encodeSslRequest(req);
  if (auto ec = co_await s.writeAll(req)) {
    co_return unavailable(r, ec.message());
  }
  char answer = 0;
  auto [ec, n] = co_await s.readSome(asio::buffer(&answer, 1));
  if (ec) {
    co_return unavailable(r, ec.message());
  }
  if (answer == 'N') {
    if (r.upstream.sslmode == SslMode::kPrefer) {
      co_return Status::ok();
    }
    co_return unavailable(r, fmt::format("server does not support TLS (sslmode={})",
                                         sslModeName(r.upstream.sslmode)));
  }
  if (answer != 'S') {
    co_return unavailable(r, "server answered the SSL request with an unexpected byte");
  }
  if (auto hec = co_await s.handshake(*ctx, ssl::stream_base::client, r.upstream.host)) {
    co_return unavailable(r, "TLS handshake failed: " + hec.message());
  }
  co_return Status::ok();
}

std::string serverCertHash(Stream& s) {
  SSL* ssl = s.nativeTls();
  if (ssl == nullptr) {
    return {};
  }
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) {
    return {};
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  X509_free(cert);
  if (len <= 0) {
    return {};
  }
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  auto hash = pg::tlsServerEndPointHash(bytes);
  return hash ? *hash : std::string();
}

// Runs the authentication exchange until AuthenticationOk.
// SCRAM-SHA-256, with channel binding (-PLUS) when the server offers it over TLS.
Status startSasl(const pg::Authentication& auth, Stream& s, const ResourceConfig& r,
                 const UpstreamCredentials& creds, std::unique_ptr<pg::ScramClient>& scram,
                 std::string& out) {
  bool plus = false, plain = false;
  for (auto m : auth.mechanisms) {
    plus = plus || m == "SCRAM-SHA-256-PLUS";
    plain = plain || m == "SCRAM-SHA-256";
  }
  std::string cert_hash = (plus && s.isTls()) ? serverCertHash(s) : std::string();
  if (!plain && cert_hash.empty()) {
    return refused(r, "server offers no supported SASL mechanism");
  }
  scram = std::make_unique<pg::ScramClient>(creds.password, cert_hash, &saltedPasswords());
  pg::encodeSaslInitialResponse(out, scram->mechanism(), scram->clientFirst());
  return Status::ok();
}

// The answer to one authentication request, into `out` (nothing when none is due).
Status answerAuthentication(const pg::Authentication& auth, Stream& s, const ResourceConfig& r,
                            const UpstreamCredentials& creds,
                            std::unique_ptr<pg::ScramClient>& scram, std::string& out) {
  switch (auth.code) {
    case pg::AuthCode::kCleartextPassword:
      pg::encodePasswordMessage(out, creds.password);
      return Status::ok();
    case pg::AuthCode::kMd5Password:
      pg::encodePasswordMessage(out,
                                pg::md5PasswordResponse(creds.user, creds.password, auth.md5_salt));
      return Status::ok();
    case pg::AuthCode::kSasl:
      return startSasl(auth, s, r, creds, scram, out);
    case pg::AuthCode::kSaslContinue: {
      if (!scram) {
        return unavailable(r, "SASL continue without SASL start");
      }
      auto final_msg = scram->handleServerFirst(auth.data);
      if (!final_msg) {
        return refused(r, final_msg.status().message());
      }
      pg::encodeSaslResponse(out, *final_msg);
      return Status::ok();
    }
    case pg::AuthCode::kSaslFinal: {
      if (!scram) {
        return unavailable(r, "SASL final without SASL start");
      }
      if (auto st = scram->verifyServerFinal(auth.data); !st) {
        return refused(r, "server signature did not verify: " + st.message());
      }
      return Status::ok();  // AuthenticationOk follows
    }
    default:
      return refused(r, fmt::format("unsupported authentication method (code {})",
                                    static_cast<int>(auth.code)));
  }
}

asio::awaitable<Status> authenticate(Stream& s, MessageReader& reader, const ResourceConfig& r,
                                     const UpstreamCredentials& creds) {
  std::unique_ptr<pg::ScramClient> scram;
  for (;;) {
    auto frame = co_await reader.next(s);
    if (!frame) {
      co_return unavailable(r, frame.status().message());
    }
    if (frame->type == pg::be::kErrorResponse) {
      co_return serverRefusal(r, frame->payload);
    }
    if (frame->type != pg::be::kAuthentication) {
      co_return unavailable(r, "unexpected message during authentication");
    }
    pg::Authentication auth;
    if (!pg::decodeAuthentication(frame->payload, auth)) {
      co_return unavailable(r, "malformed authentication request");
    }
    if (auth.code == pg::AuthCode::kOk) {
      co_return Status::ok();
    }
    std::string out;
    if (Status st = answerAuthentication(auth, s, r, creds, scram, out); !st) {
      co_return st;
    }
    if (out.empty()) {
      continue;
    }
    if (auto ec = co_await s.writeAll(out)) {
      co_return unavailable(r, ec.message());
    }
  }
}

}  // namespace

// An ErrorResponse the server sent before it was ready. Only an authentication failure (class
// 28) is a refusal of the gateway's credentials; a server that is starting up, shutting down,
// in recovery or out of connection slots (57P03, 53300, ...) is unavailable for now, and the
// client gets the server's SQLSTATE so it can retry.
Status serverRefusal(const ResourceConfig& r, std::string_view payload) {
  pg::ErrorFields f;
  if (!pg::decodeErrorFields(payload, f)) {
    return unavailable(r, "malformed error message");
  }
  const std::string code(f.get('C'));
  if (code.empty() || code.starts_with("28")) {
    return refused(r, f.get('M'));
  }
  Status s = unavailable(r, f.get('M'));
  return Status::error(Code::kUnavailable, s.message(), code);
}

// One message between authentication and the first ReadyForQuery: kept in `conn`. True once
// the server is ready.
Result<bool> onStartupMessage(const pg::Frame& frame, const ResourceConfig& r,
                              UpstreamConnection& conn) {
  switch (frame.type) {
    case pg::be::kParameterStatus: {
      pg::ParameterStatus ps;
      if (!pg::decodeParameterStatus(frame.payload, ps)) {
        return unavailable(r, "malformed ParameterStatus");
      }
      conn.parameters.emplace_back(std::string(ps.name), std::string(ps.value));
      return false;
    }
    case pg::be::kBackendKeyData:
      if (!pg::decodeBackendKeyData(frame.payload, conn.key)) {
        return unavailable(r, "malformed BackendKeyData");
      }
      return false;
    case pg::be::kNoticeResponse:
      conn.notices.push_back(frame.type);
      conn.notices.append(std::string_view(frame.payload.data() - 4, frame.payload.size() + 4));
      return false;
    case pg::be::kErrorResponse:
      return serverRefusal(r, frame.payload);
    case pg::be::kReadyForQuery:
      return true;
    default:
      return unavailable(r, "unexpected message before ReadyForQuery");
  }
}

std::string startupPacket(const ResourceConfig& r, const UpstreamCredentials& creds,
                          const StartupParams& params) {
  pg::StartupMessage sm;
  sm.protocol = pg::kProtocol30;
  sm.params.emplace_back("user", creds.user);
  sm.params.emplace_back("database", r.upstream.database);
  for (const auto& [k, v] : params) {
    sm.params.emplace_back(k, v);
  }
  std::string out;
  pg::encodeStartupMessage(out, sm);
  return out;
}

asio::awaitable<Result<UpstreamConnection>> connectUpstream(
    const ResourceConfig& r, const UpstreamCredentials& creds, const StartupParams& params,
    ssl::context* tls_context, std::chrono::milliseconds timeout, size_t max_message) {
  auto socket = co_await dial(r, timeout);
  if (!socket) {
    co_return socket.status();
  }
  UpstreamConnection conn;
  auto stream = std::make_unique<Stream>(std::move(*socket));
  Stream& s = *stream;
  conn.stream = std::move(stream);
  if (auto st = co_await negotiateTls(s, r, tls_context); !st) {
    co_return st;
  }
  if (auto ec = co_await s.writeAll(startupPacket(r, creds, params))) {
    co_return unavailable(r, ec.message());
  }
  MessageReader reader(max_message);
  if (auto st = co_await authenticate(s, reader, r, creds); !st) {
    co_return st;
  }
  for (;;) {
    auto frame = co_await reader.next(s);
    if (!frame) {
      co_return unavailable(r, frame.status().message());
    }
    Result<bool> ready = onStartupMessage(*frame, r, conn);
    if (!ready) {
      co_return ready.status();
    }
    if (*ready) {
      conn.leftover = std::string(reader.leftover());
      co_return std::move(conn);
    }
  }
}

asio::awaitable<void> sendCancel(const CancelTarget& target) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), kNoThrow);
  if (rec) {
    co_return;
  }
  tcp::socket socket(ex);
  auto [cec, ep] = co_await asio::async_connect(socket, results, kNoThrow);
  if (cec) {
    co_return;
  }
  std::string out;
  pg::encodeCancelRequest(out, pg::CancelRequest{target.key.process_id, target.key.secret_key});
  co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
  // Wait for the server to close, as libpq does, so the cancel has been processed.
  char b;
  co_await socket.async_read_some(asio::buffer(&b, 1), kNoThrow);
}

Result<std::shared_ptr<ssl::context>> makeUpstreamTlsContext(const UpstreamConfig& u) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1);
  if (u.sslmode == SslMode::kVerifyCa || u.sslmode == SslMode::kVerifyFull) {
    error_code ec;
    ctx->load_verify_file(u.sslrootcert, ec);
    if (ec) {
      return invalidArgument(
          fmt::format("cannot load sslrootcert {}: {}", u.sslrootcert, ec.message()));
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (u.sslmode == SslMode::kVerifyFull) {
      ctx->set_verify_callback(ssl::host_name_verification(u.host));
    }
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

}  // namespace jg::server
