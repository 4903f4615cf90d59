#include "proto/http/headers.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proto/http/test_util.h"

namespace jg::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

bhttp::fields fieldsOf(const Pairs& pairs) {
  bhttp::fields f;
  for (const auto& [name, value] : pairs) {
    f.insert(name, value);
  }
  return f;
}

Pairs pairsOf(const bhttp::fields& f) {
  Pairs out;
  for (const auto& field : f) {
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

// extractToken's answer as text: "token:<t>", "none" or "error".
std::string token(const Pairs& headers, const TokenSource& src = {}) {
  auto r = extractToken(fieldsOf(headers), src);
  if (!r) {
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_FALSE(r.status().message().empty());
    return "error";
  }
  return r->has_value() ? "token:" + **r : "none";
}

TEST(Token, BearerTokenTable) {
  const TokenSource bearer;
  EXPECT_EQ(token({{"Authorization", "Bearer abc.def"}}), "token:abc.def");
  EXPECT_EQ(token({{"authorization", "bearer abc"}}), "token:abc");
  EXPECT_EQ(token({{"AUTHORIZATION", "  Bearer   abc  "}}), "token:abc");
  EXPECT_EQ(token({}), "none");
  EXPECT_EQ(token({{"X-Api-Key", "abc"}}), "none");
  EXPECT_EQ(token({{"Authorization", "Bearer a"}, {"Authorization", "Bearer a"}}), "error");
  EXPECT_EQ(token({{"Authorization", "Bearer"}}), "error");
  EXPECT_EQ(token({{"Authorization", "Bearer   "}}), "error");
  EXPECT_EQ(token({{"Authorization", ""}}), "error");
  EXPECT_EQ(token({{"Authorization", "Basic dXNlcjpwdw=="}}), "error");
  EXPECT_EQ(token({{"Authorization", "Bearerabc"}}), "error");
  EXPECT_EQ(token({{"Authorization", "Bearer a b"}}), "error");
  EXPECT_EQ(token({{"Authorization", "Bearer caf\xC3\xA9"}}), "error");
}

TEST(Token, NamedHeaderWithoutSchemeTable) {
  const TokenSource api_key{.header = "api-key", .scheme = ""};
  EXPECT_EQ(token({{"api-key", "sk-123"}}, api_key), "token:sk-123");
  EXPECT_EQ(token({{"Api-Key", " sk-123 "}}, api_key), "token:sk-123");
  EXPECT_EQ(token({{"Authorization", "Bearer x"}}, api_key), "none");
  EXPECT_EQ(token({{"api-key", ""}}, api_key), "error");
  EXPECT_EQ(token({{"api-key", "a"}, {"API-KEY", "b"}}, api_key), "error");
  const TokenSource x_api_key{.header = "x-api-key", .scheme = ""};
  EXPECT_EQ(token({{"X-API-Key", "k"}}, x_api_key), "token:k");
}

TEST(Token, AuthorizationWithAnotherSchemeTable) {
  const TokenSource scheme{.header = "authorization", .scheme = "Api-Key"};
  EXPECT_EQ(token({{"Authorization", "Api-Key k1"}}, scheme), "token:k1");
  EXPECT_EQ(token({{"Authorization", "api-key\tk1"}}, scheme), "token:k1");
  EXPECT_EQ(token({{"Authorization", "Bearer k1"}}, scheme), "error");
}

TEST(Token, TwoAuthorizationHeadersFromTheParserAreMalformed) {
  const auto p = testing::parse(
      "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n");
  ASSERT_FALSE(p.ec);
  EXPECT_FALSE(extractToken(p.header(), TokenSource{}));
}

TEST(WwwAuthenticate, RealmErrorAndDescriptionAreQuotedAndEscaped) {
  EXPECT_EQ(wwwAuthenticate("jitgate", "invalid_token", "the token expired"),
            "Bearer realm=\"jitgate\", error=\"invalid_token\", "
            "error_description=\"the token expired\"");
  EXPECT_EQ(wwwAuthenticate("jitgate", "", ""), "Bearer realm=\"jitgate\"");
  EXPECT_EQ(wwwAuthenticate("a\"b\\c\r\n", "bad\"err", "say \"hi\"\\\r\né"),
            "Bearer realm=\"a\\\"b\\\\c\", error=\"baderr\", "
            "error_description=\"say 'hi'     \"");
}

TEST(ForwardHeaders, HopByHopCredentialsCookiesAndForwardingAreDropped) {
  const bhttp::fields from = fieldsOf({{"Host", "gw.example"},
                                       {"Connection", "keep-alive, X-Trace"},
                                       {"Keep-Alive", "timeout=5"},
                                       {"X-Trace", "1"},
                                       {"Proxy-Authorization", "Basic x"},
                                       {"Proxy-Connection", "keep-alive"},
                                       {"TE", "trailers"},
                                       {"Trailer", "X-Sum"},
                                       {"Transfer-Encoding", "chunked"},
                                       {"Upgrade", "websocket"},
                                       {"Authorization", "Bearer secret"},
                                       {"Cookie", "session=1"},
                                       {"Forwarded", "for=1.2.3.4"},
                                       {"X-Forwarded-For", "1.2.3.4"},
                                       {"X-Forwarded-Host", "evil"},
                                       {"Accept-Encoding", "br"},
                                       {"Content-Type", "application/json"},
                                       {"X-Request-Id", "r1"},
                                       {"X-Request-Id", "r2"}});
  bhttp::fields to;
  copyForwardHeaders(from, to, TokenSource{}, false);
  EXPECT_EQ(pairsOf(to), (Pairs{{"Host", "gw.example"},
                                {"Content-Type", "application/json"},
                                {"X-Request-Id", "r1"},
                                {"X-Request-Id", "r2"},
                                {"Accept-Encoding", "identity"}}));
}

TEST(ForwardHeaders, TheTokenHeaderIsDroppedAndAuthorizationAlways) {
  const bhttp::fields from =
      fieldsOf({{"API-Key", "sk"}, {"Authorization", "Basic x"}, {"Accept", "*/*"}});
  bhttp::fields to;
  copyForwardHeaders(from, to, TokenSource{.header = "api-key", .scheme = ""}, true);
  EXPECT_EQ(pairsOf(to), (Pairs{{"Accept", "*/*"}, {"Accept-Encoding", "gzip, deflate"}}));
}

TEST(ForwardHeaders, AcceptEncodingIsSetEvenWhenTheClientSentNone) {
  bhttp::fields to;
  copyForwardHeaders(bhttp::fields{}, to, TokenSource{}, false);
  EXPECT_EQ(to[bhttp::field::accept_encoding], "identity");
}

TEST(ForwardHeaders, ConnectionOptionsAreMatchedCaseInsensitivelyAcrossFields) {
  const bhttp::fields from = fieldsOf({{"Connection", "x-a"},
                                       {"connection", " X-B ,, "},
                                       {"x-a", "1"},
                                       {"X-b", "2"},
                                       {"x-c", "3"}});
  bhttp::fields to;
  copyForwardHeaders(from, to, TokenSource{}, false);
  EXPECT_EQ(pairsOf(to), (Pairs{{"x-c", "3"}, {"Accept-Encoding", "identity"}}));
}

TEST(ResponseHeaders, HopByHopIsDroppedAndTheRestKept) {
  const bhttp::fields from = fieldsOf({{"Content-Type", "application/json"},
                                       {"Content-Length", "10"},
                                       {"Content-Encoding", "gzip"},
                                       {"Connection", "close, X-Up"},
                                       {"X-Up", "1"},
                                       {"Transfer-Encoding", "chunked"},
                                       {"Proxy-Authenticate", "Basic"},
                                       {"Set-Cookie", "a=1"},
                                       {"ETag", "\"v1\""}});
  bhttp::fields kept;
  copyResponseHeaders(from, kept, false);
  EXPECT_EQ(pairsOf(kept), (Pairs{{"Content-Type", "application/json"},
                                  {"Content-Length", "10"},
                                  {"Content-Encoding", "gzip"},
                                  {"Set-Cookie", "a=1"},
                                  {"ETag", "\"v1\""}}));
}

TEST(ResponseHeaders, RewrittenBodyDropsWhatDescribedTheOriginalBytes) {
  const bhttp::fields from = fieldsOf({{"Content-Type", "application/json"},
                                       {"Content-Length", "10"},
                                       {"Content-Encoding", "gzip"},
                                       {"Content-MD5", "x"},
                                       {"Digest", "sha-256=x"},
                                       {"Accept-Ranges", "bytes"},
                                       {"ETag", "\"v1\""},
                                       {"Cache-Control", "no-store"}});
  bhttp::fields rewritten;
  copyResponseHeaders(from, rewritten, true);
  EXPECT_EQ(pairsOf(rewritten),
            (Pairs{{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}}));
}

TEST(RecordedHeaders, UsefulHeadersAreKeptAndSecretsRedacted) {
  const bhttp::fields h = fieldsOf({{"Host", "kb.example"},
                                    {"Content-Type", "application/json"},
                                    {"Content-Length", "12"},
                                    {"Accept", "*/*"},
                                    {"User-Agent", "python-httpx/0.27"},
                                    {"X-Request-Id", "r1"},
                                    {"Authorization", "Bearer secret-token"},
                                    {"Cookie", "sid=secret"},
                                    {"X-Api-Key", "secret-key"},
                                    {"X-Custom", "not recorded"}});
  const auto rec = recordedHeaders(h, TokenSource{});
  EXPECT_EQ(rec, (Pairs{{"host", "kb.example"},
                        {"content-type", "application/json"},
                        {"content-length", "12"},
                        {"accept", "*/*"},
                        {"user-agent", "python-httpx/0.27"},
                        {"x-request-id", "r1"},
                        {"authorization", "[redacted]"},
                        {"cookie", "[redacted]"},
                        {"x-api-key", "[redacted]"}}));
}

TEST(RecordedHeaders, ValuesThatAreNotUtf8HaveTheirHighBytesEscaped) {
  const auto p =
      testing::parse("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xE9 \xC3\xA9\r\n\r\n");
  ASSERT_FALSE(p.ec);  // Beast lets obs-text through
  EXPECT_EQ(recordedHeaders(p.header(), TokenSource{}),
            (Pairs{{"host", "a"}, {"user-agent", "caf\\xE9 \\xC3\\xA9"}}));
  const bhttp::fields utf8 = fieldsOf({{"User-Agent", "caf\xC3\xA9"}});
  EXPECT_EQ(recordedHeaders(utf8, TokenSource{}), (Pairs{{"user-agent", "caf\xC3\xA9"}}));
}

TEST(RecordedHeaders, TheConfiguredTokenHeaderIsRedactedWhateverItsName) {
  const bhttp::fields h = fieldsOf({{"X-Gateway-Token", "secret"}, {"Accept", "a"}});
  const auto rec = recordedHeaders(h, TokenSource{.header = "x-gateway-token", .scheme = ""});
  EXPECT_EQ(rec, (Pairs{{"x-gateway-token", "[redacted]"}, {"accept", "a"}}));
  for (const auto& [name, value] : rec) {
    EXPECT_EQ(value.find("secret"), std::string::npos);
  }
}

TEST(HopByHop, FixedListAndProxyPrefix) {
  for (std::string_view n : {"Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding",
                             "Upgrade", "Proxy-Authorization", "proxy-connection"}) {
    EXPECT_TRUE(isHopByHop(n)) << n;
  }
  for (std::string_view n : {"Content-Length", "Trailers", "Host", "X-Proxy"}) {
    EXPECT_FALSE(isHopByHop(n)) << n;
  }
}

}  // namespace
}  // namespace jg::http
