#include "proto/http/framing.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/http/target.h"
#include "proto/http/test_util.h"

namespace jg::http {
namespace {

using testing::parse;
using testing::Parsed;

// What the server does with a request head: parse it, then check its framing. The status it
// would answer with, or 0 when the request may go on to its body.
int headStatus(std::string_view bytes, size_t header_limit = 16 * 1024) {
  if (auto r = checkHeadBytes(bytes)) {
    return r->status;
  }
  Parsed p = parse(bytes, header_limit, 1 << 20, /*header_only=*/true);
  if (p.ec) {
    return statusForParseError(p.ec);
  }
  EXPECT_TRUE(p.header_done) << bytes;
  auto r = checkFraming(p.header());
  return r ? r->status : 0;
}

// The check that refuses: "beast" (the parser), "framing" (checkFraming), "head"
// (checkHeadBytes) or "" (accepted).
std::string refusedBy(std::string_view bytes) {
  if (checkHeadBytes(bytes)) {
    return "head";
  }
  Parsed p = parse(bytes, 16 * 1024, 1 << 20, true);
  if (p.ec) {
    return "beast";
  }
  return checkFraming(p.header()) ? "framing" : "";
}

TEST(Framing, PlainGetAndPostWithLengthOrChunkedAreAccepted) {
  EXPECT_EQ(refusedBy("GET /kb/search?q=1 HTTP/1.1\r\nHost: kb.example\r\n\r\n"), "");
  EXPECT_EQ(refusedBy("POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"),
            "");
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2\r\n{}\r\n0\r\n\r\n"),
            "");
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"), "");
  EXPECT_EQ(refusedBy("GET / HTTP/1.0\r\nHost: a:8443\r\n\r\n"), "");
}

TEST(Framing, ContentLengthThenChunkedIsRefusedByBeast) {
  const auto p =
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_transfer_encoding);
  EXPECT_EQ(statusForParseError(p.ec), 400);
}

TEST(Framing, ChunkedThenContentLengthIsRefusedByBeast) {
  const auto p =
      parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
            16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_content_length);
  EXPECT_EQ(statusForParseError(p.ec), 400);
}

TEST(Framing, ContentLengthBesideANonChunkedTransferEncodingIsRefusedHere) {
  const std::string req =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd";
  EXPECT_EQ(refusedBy(req), "framing");
  const auto p = parse(req, 16 * 1024, 1 << 20, true);
  const auto r = checkFraming(p.header());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->detail.find("both Content-Length and Transfer-Encoding"), std::string::npos);
}

TEST(Framing, TwoDifferentContentLengthsAreRefusedByBeast) {
  const auto p =
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
            16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::multiple_content_length);
  EXPECT_EQ(statusForParseError(p.ec), 400);
}

TEST(Framing, TwoEqualContentLengthsPassBeastAndAreRefusedHere) {
  const std::string req =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd";
  EXPECT_FALSE(parse(req).ec);  // Beast takes them as one
  EXPECT_EQ(refusedBy(req), "framing");
  EXPECT_EQ(headStatus(req), 400);
}

TEST(Framing, ContentLengthListInOneFieldIsRefusedHere) {
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd"), "framing");
}

TEST(Framing, ChunkedFollowedByAnotherCodingIsRefusedHere) {
  // Beast does not treat "chunked, identity" as chunked (chunked is not last): without this
  // check the body would be read as empty while a back end might read it chunked.
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
            "framing");
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            "framing");
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"),
            "framing");
}

TEST(Framing, ChunkedTwiceIsRefusedByBeastAndSplitCodingsHere) {
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            "beast");
  EXPECT_EQ(refusedBy("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            "framing");
}

TEST(Framing, TwoTransferEncodingFieldsAreRefusedEvenWhenBothSayChunked) {
  // The parser refuses this itself; a header assembled elsewhere gets the same answer here.
  bhttp::request_header<> header;
  header.method(bhttp::verb::post);
  header.target("/");
  header.version(11);
  header.insert(bhttp::field::host, "a");
  header.insert(bhttp::field::transfer_encoding, "chunked");
  header.insert(bhttp::field::transfer_encoding, "chunked");
  const auto r = checkFraming(header);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST(Framing, TransferEncodingInHttp10IsRefusedHere) {
  const std::string req =
      "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  EXPECT_EQ(refusedBy(req), "framing");
}

TEST(Framing, ObsFoldPassesBeastUnfoldedAndIsRefusedInTheRawHead) {
  const std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Note: one\r\n two\r\n\r\n";
  const auto p = parse(req, 16 * 1024, 1 << 20, true);
  ASSERT_FALSE(p.ec);
  EXPECT_EQ(p.header()["X-Note"], "one two");  // invisible to checkFraming
  EXPECT_FALSE(checkFraming(p.header()));
  EXPECT_EQ(refusedBy(req), "head");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n"),
            "head");
}

TEST(Framing, ObsFoldCheckIgnoresTheBody) {
  EXPECT_FALSE(checkHeadBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n\r\n x"));
}

TEST(Framing, ObsFoldIsFoundInEveryPrefixThatHoldsIt) {
  const std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Note: one\r\n two\r\n\r\n";
  const size_t fold = req.find("\r\n two") + 3;
  for (size_t n = 0; n <= req.size(); ++n) {
    EXPECT_EQ(checkHeadBytes(req.substr(0, n)).has_value(), n >= fold) << n;
  }
}

TEST(Framing, BareLineFeedIsRefusedByBeast) {
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\nHost: a\n\n"), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), "beast");
  EXPECT_EQ(headStatus("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400);
}

TEST(Framing, WhiteSpaceBeforeTheColonIsRefusedByBeast) {
  const auto p = parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_field);
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n"),
            "beast");
}

TEST(Framing, NulCarriageReturnAndControlBytesInValuesAreRefusedByBeast) {
  using namespace std::string_literals;
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"s), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
                      "b\r\n\r\n"s),
            "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: b\r\n\r\n"s), "beast");
  EXPECT_EQ(headStatus("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s), 400);
}

TEST(Framing, MethodThatIsNotATokenIsRefusedByBeast) {
  const auto p = parse("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_method);
  EXPECT_EQ(refusedBy("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), "beast");
  // An unknown method that is a token is syntax Beast accepts; policy decides on it.
  EXPECT_EQ(refusedBy("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), "");
}

TEST(Framing, VersionsOtherThan10And11AreRefusedByBeast) {
  const auto p = parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_version);
  EXPECT_EQ(statusForParseError(p.ec), 400);
  EXPECT_EQ(refusedBy("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), "beast");
  EXPECT_EQ(refusedBy("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), "beast");
  EXPECT_EQ(refusedBy("GET / http/1.1\r\nHost: a\r\n\r\n"), "beast");
}

TEST(Framing, MissingRepeatedOrMalformedHostIsRefusedHere) {
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.0\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: \r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"), "framing");
  EXPECT_EQ(refusedBy("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"), "");
}

TEST(Framing, HeaderOverTheLimitIsAnswered431) {
  const std::string req =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n";
  const auto p = parse(req, 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::header_limit);
  EXPECT_EQ(statusForParseError(p.ec), 431);
  EXPECT_EQ(refusalForParseError(p.ec).status, 431);
  EXPECT_EQ(headStatus(req, 1024), 431);
  EXPECT_EQ(headStatus(req, 4096), 0);
}

TEST(Framing, HeaderOverTheLimitArrivingInPiecesIsAnswered431) {
  const std::string req =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n";
  const auto p = parse(req, 1024, 1 << 20, true, /*step=*/100);
  EXPECT_EQ(p.ec, bhttp::error::header_limit);
}

TEST(Framing, DefaultLimitsAppliedToAParserGive431Over16KiBAnd413Over10MiB) {
  const Limits limits;
  const std::string big_header =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(16 * 1024, 'x') + "\r\n\r\n";
  const std::string fits =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(15 * 1024, 'x') + "\r\n\r\n";
  const std::string big_body =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string((10u << 20) + 1) +
      "\r\n\r\n";
  const std::string body_fits =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(10u << 20) + "\r\n\r\n";
  auto status = [&](const std::string& bytes) {
    bhttp::request_parser<bhttp::string_body> parser;
    applyLimits(parser, limits);
    parser.eager(false);
    beast::error_code ec;
    parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    return ec ? statusForParseError(ec) : 0;
  };
  EXPECT_EQ(status(big_header), 431);
  EXPECT_EQ(status(fits), 0);
  EXPECT_EQ(status(big_body), 413);
  EXPECT_EQ(status(body_fits), 0);
}

TEST(Framing, DeclaredBodyOverTheLimitIsAnswered413BeforeItIsRead) {
  const auto p =
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", 16 * 1024, 1000, true);
  EXPECT_EQ(p.ec, bhttp::error::body_limit);
  EXPECT_EQ(statusForParseError(p.ec), 413);
}

TEST(Framing, ChunkedBodyOverTheLimitIsAnswered413) {
  std::string req = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    req += "190\r\n" + std::string(400, 'b') + "\r\n";
  }
  req += "0\r\n\r\n";
  const auto p = parse(req, 16 * 1024, 1000);
  EXPECT_EQ(p.ec, bhttp::error::body_limit);
  EXPECT_EQ(statusForParseError(p.ec), 413);
  EXPECT_FALSE(parse(req, 16 * 1024, 2000).ec);
}

TEST(Framing, OtherParseErrorsAreAnswered400WithTheirReason) {
  const auto p =
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 16 * 1024, 1 << 20, true);
  EXPECT_EQ(p.ec, bhttp::error::bad_content_length);
  const Refusal r = refusalForParseError(p.ec);
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.detail.empty());
}

TEST(Framing, RequestSplitAtEveryOffsetParsesTheSame) {
  const std::string req =
      "POST /kb/search?q=a+b HTTP/1.1\r\nHost: kb.example\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  for (size_t step = 1; step < req.size(); ++step) {
    const auto p = parse(req, 16 * 1024, 1 << 20, false, step);
    ASSERT_FALSE(p.ec) << step;
    ASSERT_TRUE(p.done) << step;
    EXPECT_EQ(p.parser->get().body(), "abcde");
    EXPECT_FALSE(checkFraming(p.header()));
  }
}

TEST(Framing, TargetFromTheParserIsCheckedByParseTarget) {
  const auto ok = parse("GET /kb/a%20b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", 16 * 1024, 1 << 20, true);
  ASSERT_FALSE(ok.ec);
  auto t = parseTarget(ok.header().target());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/kb/a b");
  // Beast lets an encoded slash and "..", raw non-ASCII bytes and absolute-form through.
  for (std::string_view req :
       {"GET /kb/a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n", "GET /kb/../admin HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /kb/\xC3\xA9 HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a/kb HTTP/1.1\r\nHost: a\r\n\r\n", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    const auto p = parse(req, 16 * 1024, 1 << 20, true);
    ASSERT_FALSE(p.ec) << req;
    EXPECT_FALSE(parseTarget(p.header().target())) << req;
  }
  // A space or control byte in the target is Beast's to refuse.
  EXPECT_EQ(refusedBy("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), "beast");
}

}  // namespace
}  // namespace jg::http
