#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "net/http.h"

namespace jg::net {
namespace {

using ::testing::HasSubstr;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Accepts one connection on 127.0.0.1, reads the request head, then answers `reply` (or stays
// silent when `reply` is empty).
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, reply = std::move(reply)] {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) {
        return;
      }
      asio::streambuf buf;
      asio::read_until(socket, buf, "\r\n\r\n", ec);
      request_.assign(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
      if (reply.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        return;
      }
      asio::write(socket, asio::buffer(reply), ec);
    });
  }
  ~OneShotServer() { thread_.join(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  const std::string& request() const { return request_; }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::string request_;
  std::thread thread_;
};

TEST(HttpClientTest, GetsABody) {
  OneShotServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
      "11\r\n\r\n{\"ok\":true}");
  HttpClient client;
  auto res = client.get(server.url("/jwks?x=1"), std::chrono::seconds(2));
  ASSERT_TRUE(res.isOk()) << res.status().message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->content_type, "application/json");
  EXPECT_EQ(res->body, "{\"ok\":true}");
  EXPECT_THAT(server.request(), HasSubstr("GET /jwks?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(server.request(), HasSubstr("Host: 127.0.0.1:"));
}

TEST(HttpClientTest, ErrorStatusIsAResponseNotAFailure) {
  OneShotServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  auto res = HttpClient().get(server.url("/"), std::chrono::seconds(2));
  ASSERT_TRUE(res.isOk());
  EXPECT_EQ(res->status, 503);
}

TEST(HttpClientTest, SilentServerTimesOut) {
  OneShotServer server("");
  const auto start = std::chrono::steady_clock::now();
  auto res = HttpClient().get(server.url("/slow"), std::chrono::milliseconds(200));
  ASSERT_FALSE(res.isOk());
  EXPECT_EQ(res.status().code(), Code::kUnavailable);
  EXPECT_THAT(res.status().message(), HasSubstr("/slow: timed out"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));
}

TEST(HttpClientTest, OversizedBodyIsRefused) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  HttpClient::Options options;
  options.max_body_bytes = 10;
  HttpClient client(options);
  auto res = client.get(server.url("/big"), std::chrono::seconds(2));
  ASSERT_FALSE(res.isOk());
  EXPECT_THAT(res.status().message(), HasSubstr("exceeds 10 bytes"));
}

TEST(HttpClientTest, RefusedConnectionNamesTheUrl) {
  std::string url;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/x";
  }
  auto res = HttpClient().get(url, std::chrono::seconds(2));
  ASSERT_FALSE(res.isOk());
  EXPECT_THAT(res.status().message(), HasSubstr("cannot connect to " + url));
}

TEST(HttpClientTest, BadUrlsAreInvalidArguments) {
  HttpClient client;
  EXPECT_EQ(client.get("ftp://x/", std::chrono::seconds(1)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(client.get("not a url", std::chrono::seconds(1)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(client.get("https://user:pw@x/", std::chrono::seconds(1)).status().code(),
            Code::kInvalidArgument);
}

TEST(HttpClientTest, FormEncodingEscapesReservedCharacters) {
  EXPECT_EQ(formEncode({{"grant_type", "client_credentials"}, {"resource", "https://a.b/?x=1 2"}}),
            "grant_type=client_credentials&resource=https%3A%2F%2Fa.b%2F%3Fx%3D1%202");
}

}  // namespace
}  // namespace jg::net
