#include "server/http_stream.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/beast/core/error.hpp>

#include <functional>

namespace jg::server {
namespace {

using namespace std::chrono_literals;

// A connected pair of loopback sockets: `near` becomes the HttpStream, `far` the peer.
struct Pair {
  asio::io_context io;
  tcp::socket near{io};
  tcp::socket far{io};

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    far.connect(acceptor.local_endpoint());
    near = acceptor.accept();
  }

  // Runs `body` as a coroutine on the context until it and everything it started end.
  void run(std::function<asio::awaitable<void>()> body) {
    bool finished = false;
    asio::co_spawn(io, body, [&](std::exception_ptr e) {
      finished = true;
      io.stop();  // a deadline's timer may still wait
      if (e) {
        std::rethrow_exception(e);
      }
    });
    io.run_for(10s);
    EXPECT_TRUE(finished) << "the test's coroutine did not finish";
  }

  void later(std::chrono::milliseconds after, std::function<void()> f) {
    auto timer = std::make_shared<asio::steady_timer>(io, after);
    timer->async_wait([timer, f = std::move(f)](const error_code&) { f(); });
  }
  void farWrite(std::string_view bytes) { asio::write(far, asio::buffer(bytes)); }
};

TEST(HttpStream, AReadPendingWhenTheDeadlinePassesEndsWithTimeoutAndSoDoLaterOnes) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    char buf[16];
    s.expiresAfter(50ms);
    auto [ec, n] = co_await s.readSome(asio::buffer(buf));
    EXPECT_EQ(ec, beast::error::timeout);
    p.farWrite("x");
    auto [ec2, n2] = co_await s.readSome(asio::buffer(buf));
    EXPECT_EQ(ec2, beast::error::timeout) << "an expired deadline holds until it is set again";
    s.expiresAfter(1s);
    auto [ec3, n3] = co_await s.readSome(asio::buffer(buf));
    EXPECT_FALSE(ec3);
    EXPECT_EQ(n3, 1u);
  });
}

TEST(HttpStream, MovingTheDeadlineLaterKeepsAPendingReadAlive) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    char buf[16];
    s.expiresAfter(40ms);
    s.expiresAfter(2s);  // later: the timer wakes at 40 ms and waits on
    p.later(150ms, [&] { p.farWrite("late"); });
    auto [ec, n] = co_await s.readSome(asio::buffer(buf));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string_view(buf, n), "late");
  });
}

TEST(HttpStream, NoDeadlineLetsAReadWaitPastAnEarlierOne) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    char buf[16];
    s.expiresAfter(30ms);
    s.expiresNever();
    p.later(120ms, [&] { p.farWrite("ok"); });
    auto [ec, n] = co_await s.readSome(asio::buffer(buf));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 2u);
  });
}

TEST(HttpStream, AResponseArrivingInPiecesIsParsedWhole) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    p.farWrite("HTTP/1.1 200 OK\r\nTransfer-Enc");
    p.later(20ms, [&] { p.farWrite("oding: chunked\r\n\r\n5\r\nhello\r\n"); });
    p.later(40ms, [&] { p.farWrite("6\r\n world\r\n0\r\n\r\n"); });
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    error_code ec = co_await readHeaderParsed(s, buf, parser);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(parser.chunked());
    ec = co_await readMessageParsed(s, buf, parser);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(parser.get().body(), "hello world");
  });
}

TEST(HttpStream, ABodyThatEndsWithTheConnectionIsCompleteAtTheEnd) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    p.farWrite("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it");
    p.far.close();
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    error_code ec = co_await readMessageParsed(s, buf, parser);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(parser.get().body(), "all of it");
  });
}

TEST(HttpStream, AConnectionClosedMidBodyIsAPartialMessage) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    p.farWrite("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
    p.far.close();
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    error_code ec = co_await readMessageParsed(s, buf, parser);
    EXPECT_EQ(ec, bhttp::error::partial_message);
  });
}

TEST(HttpStream, AConnectionClosedBeforeAnyByteIsTheEndOfTheStream) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    p.far.close();
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    error_code ec = co_await readHeaderParsed(s, buf, parser);
    EXPECT_EQ(ec, bhttp::error::end_of_stream);
  });
}

TEST(HttpStream, HeadAndBodyGoOutTogetherInOrder) {
  Pair p;
  HttpStream s(std::move(p.near));
  p.run([&]() -> asio::awaitable<void> {
    error_code ec = co_await s.write("HEAD\r\n", "body");
    EXPECT_FALSE(ec);
    ec = co_await s.write("", "-more");
    EXPECT_FALSE(ec);
    co_await s.close();
  });
  std::string got;
  error_code ec;
  asio::read(p.far, asio::dynamic_buffer(got), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(got, "HEAD\r\nbody-more");
}

TEST(HttpStream, SerializeWritesTheChunkedFramingARequestAsksFor) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/search", 11};
  req.set(bhttp::field::host, "up");
  req.body() = "{}";
  req.chunked(true);
  EXPECT_EQ(serialize(req),
            "POST /search HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\n{}\r\n0\r\n\r\n");
  req.chunked(false);
  req.prepare_payload();
  EXPECT_EQ(serialize(req), "POST /search HTTP/1.1\r\nHost: up\r\nContent-Length: 2\r\n\r\n{}");
}

// A self-signed P-256 certificate for "localhost", made in memory.
std::shared_ptr<ssl::context> serverContext() {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx->native_handle(), cert);
  SSL_CTX_use_PrivateKey(ctx->native_handle(), key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// An upstream that ends a close-delimited body by closing TCP without close_notify may have been
// cut short by anyone on the path: the stream reports it, the body is not taken as complete.
TEST(HttpStream, AnUpstreamTlsStreamCutWithoutCloseNotifyIsAnErrorNotTheEndOfTheBody) {
  Pair p;
  auto server_ctx = serverContext();
  ssl::context client_ctx(ssl::context::tls_client);
  client_ctx.set_verify_mode(ssl::verify_none);
  HttpStream client(std::move(p.near));
  Stream server(std::move(p.far));
  bool served = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        if (co_await server.handshake(*server_ctx, ssl::stream_base::server)) {
          co_return;
        }
        co_await server.writeAll("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ncut he");
        server.close();  // no close_notify
        served = true;
      },
      asio::detached);
  p.run([&]() -> asio::awaitable<void> {
    error_code ec = co_await client.handshake(client_ctx, ssl::stream_base::client, "localhost");
    EXPECT_FALSE(ec) << ec.message();
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    ec = co_await readMessageParsed(client, buf, parser);
    EXPECT_TRUE(ec) << "a truncated TLS stream read as a complete body";
    EXPECT_FALSE(parser.is_done());
  });
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace jg::server
