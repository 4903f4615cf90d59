#include "proto/pg/decode.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>

#include "proto/pg/encode.h"
#include "proto/pg/framer.h"

namespace jg::pg {
namespace {

using namespace std::string_literals;

std::string be16(int v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
std::string be32(int64_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
          static_cast<char>(u)};
}

// Keeps a payload alive for the rest of the test binary: decoded views borrow from it.
std::string_view keep(std::string s) {
  static std::deque<std::string> store;
  return store.emplace_back(std::move(s));
}

// ---- startup ----

TEST(DecodeStartup, SslRequestMustBeExactlyTheCode) {
  StartupPacket p;
  ASSERT_TRUE(decodeStartupPacket(keep(be32(kSslRequestCode)), p));
  EXPECT_EQ(p.kind, StartupKind::kSslRequest);
  EXPECT_FALSE(decodeStartupPacket(be32(kSslRequestCode) + "x", p));
  ASSERT_TRUE(decodeStartupPacket(keep(be32(kGssEncRequestCode)), p));
  EXPECT_EQ(p.kind, StartupKind::kGssEncRequest);
  EXPECT_FALSE(decodeStartupPacket(be32(kGssEncRequestCode) + "\0"s, p));
}

TEST(DecodeStartup, CancelRequestNeedsPidAndKeyAndNothingElse) {
  StartupPacket p;
  ASSERT_TRUE(decodeStartupPacket(keep(be32(kCancelRequestCode) + be32(1234) + be32(-5)), p));
  EXPECT_EQ(p.kind, StartupKind::kCancel);
  EXPECT_EQ(p.cancel.process_id, 1234);
  EXPECT_EQ(p.cancel.secret_key, -5);
  EXPECT_FALSE(decodeStartupPacket(be32(kCancelRequestCode) + be32(1234), p));
  EXPECT_FALSE(decodeStartupPacket(be32(kCancelRequestCode) + be32(1) + be32(2) + "x", p));
}

TEST(DecodeStartup, StartupMessageKeepsParamsInOrder) {
  StartupPacket p;
  std::string payload = be32(kProtocol30) + "user\0rag\0database\0kb\0_pq_.opt\0on\0\0"s;
  ASSERT_TRUE(decodeStartupPacket(keep(payload), p));
  EXPECT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.startup.protocol, kProtocol30);
  ASSERT_EQ(p.startup.params.size(), 3u);
  EXPECT_EQ(p.startup.get("database"), "kb");
  EXPECT_EQ(p.startup.get("_pq_.opt"), "on");
  EXPECT_EQ(p.startup.get("missing"), "");
}

TEST(DecodeStartup, AnyProtocolVersionIsDecodedForTheSessionToJudge) {
  StartupPacket p;
  ASSERT_TRUE(decodeStartupPacket(keep(be32((3 << 16) | 2) + "user\0u\0\0"s), p));
  EXPECT_EQ(p.startup.protocol, uint32_t{(3 << 16) | 2});
  ASSERT_TRUE(decodeStartupPacket(keep(be32(2 << 16) + "\0"s), p));
  EXPECT_EQ(p.startup.protocol, uint32_t{2 << 16});
  EXPECT_TRUE(p.startup.params.empty());
}

TEST(DecodeStartup, MalformedStartupMessagesAreRejected) {
  StartupPacket p;
  EXPECT_FALSE(decodeStartupPacket("", p));
  EXPECT_FALSE(decodeStartupPacket("\0\3\0"s, p));
  EXPECT_FALSE(decodeStartupPacket(be32(kProtocol30), p));                      // no terminator
  EXPECT_FALSE(decodeStartupPacket(be32(kProtocol30) + "user\0u\0"s, p));       // no terminator
  EXPECT_FALSE(decodeStartupPacket(be32(kProtocol30) + "user\0\0"s + "x", p));  // key, no value
  EXPECT_FALSE(decodeStartupPacket(be32(kProtocol30) + "user\0u\0\0x"s, p));    // leftover
  EXPECT_FALSE(decodeStartupPacket(be32(kProtocol30) + "user\0u"s, p));         // unterminated
}

// ---- frontend ----

TEST(DecodeFrontend, QueryRequiresExactlyOneCString) {
  Query q;
  ASSERT_TRUE(decodeQuery(keep("SELECT 1\0"s), q));
  EXPECT_EQ(q.sql, "SELECT 1");
  EXPECT_FALSE(decodeQuery("SELECT 1", q));
  EXPECT_FALSE(decodeQuery("SELECT 1\0x"s, q));
  EXPECT_FALSE(decodeQuery("", q));
}

TEST(DecodeFrontend, ParseChecksTheTypeCount) {
  Parse p;
  ASSERT_TRUE(decodeParse(keep("s\0SELECT $1\0"s + be16(1) + be32(23)), p));
  EXPECT_EQ(p.param_types, std::vector<uint32_t>{23});
  EXPECT_FALSE(decodeParse("s\0q\0"s + be16(-1), p));
  EXPECT_FALSE(decodeParse("s\0q\0"s + be16(2) + be32(23), p));
  EXPECT_FALSE(decodeParse("s\0q\0"s + be16(0x7fff), p));
  EXPECT_FALSE(decodeParse("s\0q\0"s + be16(1) + be32(23) + "x", p));
  EXPECT_FALSE(decodeParse("s\0q\0"s + "\0"s, p));
}

TEST(DecodeFrontend, BindDistinguishesNullFromEmptyAndRejectsOtherNegativeLengths) {
  Bind b;
  std::string payload =
      "p\0s\0"s + be16(0) + be16(3) + be32(-1) + be32(0) + be32(2) + "ab" + be16(0);
  ASSERT_TRUE(decodeBind(keep(payload), b));
  ASSERT_EQ(b.params.size(), 3u);
  EXPECT_TRUE(b.params[0].null);
  EXPECT_FALSE(b.params[1].null);
  EXPECT_EQ(b.params[1].bytes, "");
  EXPECT_EQ(b.params[2].bytes, "ab");
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0) + be16(1) + be32(-2) + be16(0), b));
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0) + be16(1) + be32(5) + "ab" + be16(0), b));
}

TEST(DecodeFrontend, BindRejectsHostileCountsWithoutAllocating) {
  Bind b;
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0x7fff), b));
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0) + be16(0x7fff) + be32(0), b));
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0) + be16(0) + be16(0x7fff), b));
  EXPECT_FALSE(decodeBind("\0\0"s + be16(-1), b));
  EXPECT_FALSE(decodeBind("\0\0"s + be16(0) + be16(-3), b));
}

TEST(DecodeFrontend, BindValidatesFormatCodesAndTheirCount) {
  Bind b;
  auto bind = [](std::vector<int> pf, int nparams, std::vector<int> rf) {
    std::string s = "\0\0"s + be16(static_cast<int>(pf.size()));
    for (int f : pf) {
      s += be16(f);
    }
    s += be16(nparams);
    for (int i = 0; i < nparams; ++i) {
      s += be32(1) + "x";
    }
    s += be16(static_cast<int>(rf.size()));
    for (int f : rf) {
      s += be16(f);
    }
    return s;
  };
  EXPECT_TRUE(decodeBind(bind({}, 2, {}), b));
  EXPECT_TRUE(decodeBind(bind({1}, 2, {1}), b));
  EXPECT_TRUE(decodeBind(bind({1, 0}, 2, {0, 1, 1}), b));
  EXPECT_FALSE(decodeBind(bind({1, 0}, 3, {}), b));  // neither 0, 1 nor one per parameter
  EXPECT_FALSE(decodeBind(bind({2}, 1, {}), b));
  EXPECT_FALSE(decodeBind(bind({}, 1, {-1}), b));
}

TEST(DecodeFrontend, DescribeAndCloseTargetsAreStatementOrPortal) {
  Describe d;
  ASSERT_TRUE(decodeDescribe(keep("Sname\0"s), d));
  EXPECT_EQ(d.target, 'S');
  EXPECT_EQ(d.name, "name");
  EXPECT_FALSE(decodeDescribe("Xname\0"s, d));
  EXPECT_FALSE(decodeDescribe("P"s, d));
  Close c;
  ASSERT_TRUE(decodeClose(keep("P\0"s), c));
  EXPECT_EQ(c.target, 'P');
  EXPECT_FALSE(decodeClose("s\0"s, c));
  EXPECT_FALSE(decodeClose("S\0\0"s, c));
}

TEST(DecodeFrontend, ExecuteAndEmptyMessages) {
  Execute e;
  ASSERT_TRUE(decodeExecute(keep("\0"s + be32(-1)), e));
  EXPECT_EQ(e.max_rows, -1);
  EXPECT_FALSE(decodeExecute("\0"s + be16(1), e));
  EXPECT_TRUE(decodeEmpty(""));
  EXPECT_FALSE(decodeEmpty("x"));
}

TEST(DecodeFrontend, FunctionCallChecksFormatsArgsAndResultFormat) {
  FunctionCall fc;
  std::string ok = be32(1598) + be16(1) + be16(1) + be16(2) + be32(-1) + be32(1) + "x" + be16(1);
  ASSERT_TRUE(decodeFunctionCall(keep(ok), fc));
  EXPECT_EQ(fc.function_oid, 1598u);
  EXPECT_TRUE(fc.args[0].null);
  EXPECT_EQ(fc.result_format, 1);
  EXPECT_FALSE(decodeFunctionCall(be32(1) + be16(0) + be16(0) + be16(7), fc));
  EXPECT_FALSE(decodeFunctionCall(be32(1) + be16(0) + be16(0x4000) + be16(0), fc));
  EXPECT_FALSE(decodeFunctionCall(ok + "x", fc));
}

TEST(DecodeFrontend, PasswordAndSaslMessages) {
  std::string_view pw;
  ASSERT_TRUE(decodePasswordMessage(keep("tok\0"s), pw));
  EXPECT_EQ(pw, "tok");
  EXPECT_FALSE(decodePasswordMessage("tok", pw));
  EXPECT_FALSE(decodePasswordMessage("tok\0\0"s, pw));

  SaslInitialResponse s;
  ASSERT_TRUE(decodeSaslInitialResponse(keep("SCRAM-SHA-256\0"s + be32(3) + "abc"), s));
  EXPECT_EQ(s.data, "abc");
  ASSERT_TRUE(decodeSaslInitialResponse(keep("SCRAM-SHA-256\0"s + be32(-1)), s));
  EXPECT_TRUE(s.data.empty());
  EXPECT_FALSE(decodeSaslInitialResponse("M\0"s + be32(4) + "abc", s));
  EXPECT_FALSE(decodeSaslInitialResponse("M\0"s + be32(2) + "abc", s));
  EXPECT_FALSE(decodeSaslInitialResponse("M\0"s + be32(-2), s));
  EXPECT_FALSE(decodeSaslInitialResponse("M\0"s + be32(-1) + "x", s));
  CopyFail cf;
  EXPECT_FALSE(decodeCopyFail("oops", cf));
}

// ---- backend ----

TEST(DecodeBackend, AuthenticationRequestsCarryTheRightExtras) {
  Authentication a;
  ASSERT_TRUE(decodeAuthentication(keep(be32(0)), a));
  EXPECT_EQ(a.code, AuthCode::kOk);
  EXPECT_FALSE(decodeAuthentication(be32(0) + "x", a));
  ASSERT_TRUE(decodeAuthentication(keep(be32(5) + "\1\2\3\4"), a));
  EXPECT_EQ(a.md5_salt, "\1\2\3\4");
  EXPECT_FALSE(decodeAuthentication(be32(5) + "\1\2\3", a));
  EXPECT_FALSE(decodeAuthentication(be32(5) + "\1\2\3\4\5", a));
  ASSERT_TRUE(decodeAuthentication(keep(be32(10) + "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"s), a));
  EXPECT_EQ(a.mechanisms, (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  EXPECT_FALSE(decodeAuthentication(be32(10) + "SCRAM-SHA-256\0"s, a));
  EXPECT_FALSE(decodeAuthentication(be32(10) + "\0"s, a));
  EXPECT_FALSE(decodeAuthentication(be32(10) + "A\0\0x"s, a));
  ASSERT_TRUE(decodeAuthentication(keep(be32(11) + "r=abc,s=xyz,i=4096"), a));
  EXPECT_EQ(a.code, AuthCode::kSaslContinue);
  EXPECT_EQ(a.data, "r=abc,s=xyz,i=4096");
  ASSERT_TRUE(decodeAuthentication(keep(be32(12) + "v=sig"), a));
  EXPECT_EQ(a.data, "v=sig");
  EXPECT_FALSE(decodeAuthentication(be32(6), a));  // unknown request
  EXPECT_FALSE(decodeAuthentication(be32(-1), a));
  EXPECT_FALSE(decodeAuthentication("\0\0"s, a));
}

TEST(DecodeBackend, FixedSizeMessagesRejectWrongSizes) {
  BackendKeyData k;
  EXPECT_TRUE(decodeBackendKeyData(be32(1) + be32(2), k));
  EXPECT_FALSE(decodeBackendKeyData(be32(1), k));
  EXPECT_FALSE(decodeBackendKeyData(be32(1) + be32(2) + "x", k));
  ReadyForQuery r;
  EXPECT_FALSE(decodeReadyForQuery("", r));
  EXPECT_FALSE(decodeReadyForQuery("X", r));
  EXPECT_FALSE(decodeReadyForQuery("II", r));
  ParameterStatus ps;
  EXPECT_FALSE(decodeParameterStatus("a\0"s, ps));
  EXPECT_FALSE(decodeParameterStatus("a\0b\0c"s, ps));
  CommandComplete cc;
  EXPECT_FALSE(decodeCommandComplete("SELECT 1", cc));
}

TEST(DecodeBackend, RowDescriptionRejectsHostileCountsAndUnknownFormats) {
  auto field = [](std::string name, int format) {
    return name + "\0"s + be32(1) + be16(1) + be32(23) + be16(4) + be32(-1) + be16(format);
  };
  RowDescription rd;
  ASSERT_TRUE(decodeRowDescription(keep(be16(2) + field("a", 0) + field("", 1)), rd));
  ASSERT_EQ(rd.fields.size(), 2u);
  EXPECT_EQ(rd.fields[0].name, "a");
  EXPECT_EQ(rd.fields[1].format, 1);
  EXPECT_FALSE(decodeRowDescription(be16(1) + field("a", 2), rd));
  EXPECT_FALSE(decodeRowDescription(be16(0x7fff) + field("a", 0), rd));
  EXPECT_FALSE(decodeRowDescription(be16(-1), rd));
  EXPECT_FALSE(decodeRowDescription(be16(1) + field("a", 0) + "x", rd));
  EXPECT_FALSE(decodeRowDescription(be16(1) + field("a", 0).substr(0, 10), rd));
  EXPECT_TRUE(decodeRowDescription(be16(0), rd));
  EXPECT_TRUE(rd.fields.empty());
}

TEST(DecodeBackend, ParameterDescriptionCountMustMatchThePayload) {
  ParameterDescription pd;
  ASSERT_TRUE(decodeParameterDescription(keep(be16(2) + be32(23) + be32(25)), pd));
  EXPECT_EQ(pd.types.size(), 2u);
  EXPECT_FALSE(decodeParameterDescription(be16(3) + be32(23) + be32(25), pd));
  EXPECT_FALSE(decodeParameterDescription(be16(-2), pd));
}

TEST(DecodeBackend, ErrorFieldsNeedTheTerminator) {
  ErrorFields e;
  ASSERT_TRUE(decodeErrorFields(keep("SERROR\0C42501\0Mdenied\0\0"s), e));
  EXPECT_EQ(e.get('C'), "42501");
  EXPECT_EQ(e.get('M'), "denied");
  EXPECT_EQ(e.get('D'), "");
  EXPECT_TRUE(decodeErrorFields("\0"s, e));
  EXPECT_TRUE(e.fields.empty());
  EXPECT_FALSE(decodeErrorFields("SERROR\0"s, e));
  EXPECT_FALSE(decodeErrorFields("SERROR"s, e));
  EXPECT_FALSE(decodeErrorFields("\0x"s, e));
  EXPECT_FALSE(decodeErrorFields("", e));
}

TEST(DecodeBackend, NotificationCopyNegotiateAndFunctionResponses) {
  NotificationResponse n;
  ASSERT_TRUE(decodeNotificationResponse(keep(be32(7) + "ch\0pl\0"s), n));
  EXPECT_EQ(n.channel, "ch");
  EXPECT_FALSE(decodeNotificationResponse(be32(7) + "ch\0"s, n));

  CopyResponse c;
  ASSERT_TRUE(decodeCopyResponse(keep("\0"s + be16(2) + be16(0) + be16(0)), c));
  EXPECT_EQ(c.column_formats.size(), 2u);
  EXPECT_FALSE(decodeCopyResponse("\2"s + be16(0), c));
  EXPECT_FALSE(decodeCopyResponse("\0"s + be16(3) + be16(0), c));

  NegotiateProtocolVersion v;
  ASSERT_TRUE(decodeNegotiateProtocolVersion(keep(be32(0) + be32(1) + "_pq_.x\0"s), v));
  EXPECT_EQ(v.unrecognized.size(), 1u);
  EXPECT_FALSE(decodeNegotiateProtocolVersion(be32(0) + be32(0x7fffffff) + "a\0"s, v));
  EXPECT_FALSE(decodeNegotiateProtocolVersion(be32(0) + be32(-1), v));
  EXPECT_FALSE(decodeNegotiateProtocolVersion(be32(0) + be32(2) + "a\0"s, v));

  FunctionCallResponse f;
  ASSERT_TRUE(decodeFunctionCallResponse(keep(be32(-1)), f));
  EXPECT_TRUE(f.null);
  ASSERT_TRUE(decodeFunctionCallResponse(keep(be32(2) + "ab"), f));
  EXPECT_FALSE(f.null);
  EXPECT_EQ(f.value, "ab");
  EXPECT_FALSE(decodeFunctionCallResponse(be32(-2), f));
  EXPECT_FALSE(decodeFunctionCallResponse(be32(3) + "ab", f));
}

// ---- DataRow ----

TEST(DataRowReader, IteratesCellsIncludingNullAndEmpty) {
  std::string row = be16(3) + be32(2) + "hi" + be32(-1) + be32(0);
  DataRowReader r(row);
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.columns(), 3);
  DataRowReader::Cell c;
  ASSERT_TRUE(r.next(c));
  EXPECT_EQ(c.bytes, "hi");
  EXPECT_FALSE(c.null);
  ASSERT_TRUE(r.next(c));
  EXPECT_TRUE(c.null);
  ASSERT_TRUE(r.next(c));
  EXPECT_FALSE(c.null);
  EXPECT_EQ(c.bytes, "");
  EXPECT_FALSE(r.next(c));
  EXPECT_TRUE(r.ok());
}

TEST(DataRowReader, HostileColumnCountIsInvalidUpFront) {
  EXPECT_FALSE(DataRowReader(be16(0x7fff) + be32(0)).valid());
  EXPECT_FALSE(DataRowReader(be16(-1)).valid());
  EXPECT_FALSE(DataRowReader("\0"s).valid());
  EXPECT_TRUE(DataRowReader(be16(0)).valid());
}

TEST(DataRowReader, MalformedCellsMakeTheRowNotOk) {
  DataRowReader::Cell c;
  DataRowReader neg(keep(be16(1) + be32(-2)));
  ASSERT_TRUE(neg.valid());
  EXPECT_FALSE(neg.next(c));
  EXPECT_FALSE(neg.ok());

  DataRowReader past(keep(be16(1) + be32(10) + "abc"));
  EXPECT_FALSE(past.next(c));
  EXPECT_FALSE(past.ok());

  DataRowReader leftover(keep(be16(1) + be32(1) + "a" + "junk"));
  ASSERT_TRUE(leftover.next(c));
  EXPECT_FALSE(leftover.next(c));
  EXPECT_FALSE(leftover.ok());

  DataRowReader none(keep(be16(0) + "x"));
  EXPECT_FALSE(none.next(c));
  EXPECT_FALSE(none.ok());
  EXPECT_FALSE(none.next(c));  // stays failed
}

// ---- random input never crashes ----

// Runs every decoder on `payload`; results are ignored, only memory safety matters (the fuzz
// build runs the same under AddressSanitizer).
void decodeEverything(std::string_view payload) {
  StartupPacket sp;
  Query q;
  Parse p;
  Bind b;
  Describe d;
  Execute e;
  Close c;
  FunctionCall fc;
  CopyFail cf;
  std::string_view pw;
  SaslInitialResponse sir;
  Authentication a;
  BackendKeyData k;
  ParameterStatus ps;
  ReadyForQuery rq;
  RowDescription rd;
  ParameterDescription pd;
  CommandComplete cc;
  ErrorFields ef;
  NotificationResponse nr;
  CopyResponse cr;
  NegotiateProtocolVersion npv;
  FunctionCallResponse fr;
  (void)decodeStartupPacket(payload, sp);
  (void)decodeQuery(payload, q);
  (void)decodeParse(payload, p);
  (void)decodeBind(payload, b);
  (void)decodeDescribe(payload, d);
  (void)decodeExecute(payload, e);
  (void)decodeClose(payload, c);
  (void)decodeFunctionCall(payload, fc);
  (void)decodeCopyFail(payload, cf);
  (void)decodePasswordMessage(payload, pw);
  (void)decodeSaslInitialResponse(payload, sir);
  (void)decodeEmpty(payload);
  (void)decodeAuthentication(payload, a);
  (void)decodeBackendKeyData(payload, k);
  (void)decodeParameterStatus(payload, ps);
  (void)decodeReadyForQuery(payload, rq);
  (void)decodeRowDescription(payload, rd);
  (void)decodeParameterDescription(payload, pd);
  (void)decodeCommandComplete(payload, cc);
  (void)decodeErrorFields(payload, ef);
  (void)decodeNotificationResponse(payload, nr);
  (void)decodeCopyResponse(payload, cr);
  (void)decodeNegotiateProtocolVersion(payload, npv);
  (void)decodeFunctionCallResponse(payload, fr);
  DataRowReader r(payload);
  DataRowReader::Cell cell;
  size_t cells = 0;
  while (r.next(cell)) {
    ++cells;
  }
  EXPECT_LE(cells, payload.size() / 4);
  // Decoded views always point inside the payload.
  for (const auto& v : b.params) {
    if (!v.null && !v.bytes.empty()) {
      EXPECT_GE(v.bytes.data(), payload.data());
      EXPECT_LE(v.bytes.data() + v.bytes.size(), payload.data() + payload.size());
    }
  }
}

TEST(DecodeRandom, RandomBuffersThroughFramerAndEveryDecoderNeverCrash) {
  std::mt19937_64 rng(20240611);
  std::string buf;
  for (int i = 0; i < 100000; ++i) {
    size_t len = rng() % 64;
    buf.resize(len);
    for (char& ch : buf) {
      // Bias toward small values so counts and lengths are sometimes plausible.
      uint64_t x = rng();
      ch = static_cast<char>((x & 3) == 0 ? 0 : (x & 4) ? (x >> 8) % 4 : (x >> 8));
    }
    Frame f;
    std::string err;
    std::string_view rest = buf;
    while (nextFrame(rest, 1 << 16, f, err) == FrameStatus::kReady) {
      decodeEverything(f.payload);
      rest.remove_prefix(f.size);
    }
    if (nextStartupFrame(buf, 1 << 16, f, err) == FrameStatus::kReady) {
      decodeEverything(f.payload);
    }
    decodeEverything(buf);
  }
}

TEST(DecodeRandom, MutatedValidMessagesNeverCrash) {
  std::vector<std::string> seeds(6);
  encodeBind(seeds[0], {.portal = "p",
                        .statement = "s",
                        .param_formats = {1},
                        .params = {{"abcd", false}, {{}, true}},
                        .result_formats = {0, 1}});
  encodeRowDescription(seeds[1],
                       {.fields = {{"a", 1, 1, 23, 4, -1, 0}, {"b", 1, 2, 25, -1, -1, 1}}});
  encodeDataRow(seeds[2], {{"x", false}, {{}, true}, {"yz", false}});
  encodeErrorFields(seeds[3], 'E', {.fields = {{'S', "ERROR"}, {'M', "m"}}});
  encodeStartupMessage(seeds[4], {.protocol = kProtocol30, .params = {{"user", "u"}}});
  encodeFunctionCall(seeds[5], {.function_oid = 1, .arg_formats = {}, .args = {{"a", false}}});
  std::mt19937 rng(7);
  for (int i = 0; i < 50000; ++i) {
    std::string m = seeds[i % seeds.size()];
    for (int flips = 1 + rng() % 3; flips > 0; --flips) {
      m[rng() % m.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) {
      m.resize(rng() % (m.size() + 1));
    }
    decodeEverything(m.size() > 5 ? std::string_view(m).substr(5) : m);
    decodeEverything(m.size() > 4 ? std::string_view(m).substr(4) : m);
  }
}

}  // namespace
}  // namespace jg::pg
