#include "server/upstream.h"

#include <gtest/gtest.h>

#include "proto/pg/encode.h"

namespace jg::server {
namespace {

ResourceConfig resource() {
  ResourceConfig r;
  r.name = "kb";
  r.upstream.host = "db.internal";
  r.upstream.port = 5432;
  return r;
}

// The payload of an ErrorResponse (without its type byte and length).
std::string errorPayload(std::string_view sqlstate, std::string_view message) {
  std::string out;
  pg::encodeError(out, "FATAL", sqlstate, message);
  return out.substr(5);
}

TEST(UpstreamStartup, ServerThatCannotAcceptNowIsUnavailableWithItsSqlstate) {
  Status s = serverRefusal(resource(), errorPayload("57P03", "the database system is starting up"));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.sqlstate(), "57P03");
  EXPECT_EQ(s.message(),
            "upstream for resource \"kb\" (db.internal:5432) is unavailable: the database system "
            "is starting up");
}

TEST(UpstreamStartup, FullServerIsUnavailableWith53300) {
  Status s = serverRefusal(resource(), errorPayload("53300", "sorry, too many clients already"));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.sqlstate(), "53300");
}

TEST(UpstreamStartup, AuthenticationFailureIsARefusalOfTheGatewaysCredentials) {
  Status s = serverRefusal(
      resource(), errorPayload("28P01", "password authentication failed for user \"app\""));
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.sqlstate(), "28000");
  EXPECT_NE(s.message().find("refused the gateway's credentials"), std::string::npos);
}

TEST(UpstreamStartup, MalformedErrorIsUnavailable) {
  Status s = serverRefusal(resource(), std::string("Xno terminator", 14));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.sqlstate(), "08001");
}

}  // namespace
}  // namespace jg::server
