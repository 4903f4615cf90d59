#include "proto/pg/encode.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/pg/decode.h"
#include "proto/pg/framer.h"

namespace jg::pg {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

constexpr size_t kMax = 1 << 20;

// Frames exactly one typed message and checks that it fills the buffer.
Frame frameOne(const std::string& bytes, char type) {
  Frame f;
  std::string err;
  EXPECT_EQ(nextFrame(bytes, kMax, f, err), FrameStatus::kReady) << err;
  EXPECT_EQ(f.size, bytes.size());
  EXPECT_EQ(f.type, type);
  return f;
}

Frame startupOne(const std::string& bytes) {
  Frame f;
  std::string err;
  EXPECT_EQ(nextStartupFrame(bytes, kMax, f, err), FrameStatus::kReady) << err;
  EXPECT_EQ(f.size, bytes.size());
  return f;
}

bool sameValues(const std::vector<Bind::Value>& a, const std::vector<Bind::Value>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].null != b[i].null || a[i].bytes != b[i].bytes) {
      return false;
    }
  }
  return true;
}

// ---- exact bytes ----

TEST(Encode, QueryHasTypeLengthAndTerminator) {
  std::string out;
  encodeQuery(out, "SELECT 1");
  EXPECT_EQ(out, "Q\0\0\0\x0dSELECT 1\0"s);
}

TEST(Encode, SslRequestIsEightBytesWithTheMagicCode) {
  std::string out;
  encodeSslRequest(out);
  EXPECT_EQ(out, "\0\0\0\x08\x04\xd2\x16\x2f"s);
}

TEST(Encode, ReadyForQueryAndSync) {
  std::string out;
  encodeReadyForQuery(out, 'I');
  encodeEmpty(out, fe::kSync);
  EXPECT_EQ(out, "Z\0\0\0\x05IS\0\0\0\x04"s);
}

TEST(Encode, ErrorWritesSeverityTwiceThenCodeMessageDetailHint) {
  std::string out;
  encodeError(out, "FATAL", "28000", "no grant", "rule kb-read", "ask for access");
  EXPECT_EQ(out,
            "E\0\0\0\x42SFATAL\0VFATAL\0C28000\0Mno grant\0Drule kb-read\0Hask for access\0\0"s);
}

TEST(Encode, ErrorOmitsEmptyDetailAndHintAndCanBeANotice) {
  std::string out;
  encodeError(out, "NOTICE", "00000", "hello", {}, {}, be::kNoticeResponse);
  EXPECT_EQ(out, "N\0\0\0\x23SNOTICE\0VNOTICE\0C00000\0Mhello\0\0"s);
}

TEST(Encode, ErrorReplacesEmbeddedNulInsteadOfDroppingTheError) {
  std::string out;
  encodeError(out, "ERROR", "42501", "bad\0name"s);
  Frame f = frameOne(out, 'E');
  ErrorFields e;
  ASSERT_TRUE(decodeErrorFields(f.payload, e));
  EXPECT_EQ(e.get('M'), "bad?name");
}

// ---- MessageBuilder ----

TEST(MessageBuilder, PatchesTheLengthOfTypedAndUntypedMessages) {
  std::string out;
  MessageBuilder b(out);
  b.begin('d');
  b.w().bytes("abc");
  b.end();
  b.begin(0);
  b.w().u32(7);
  b.end();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(out,
            "d\0\0\0\x07"
            "abc\0\0\0\x08\0\0\0\x07"s);
}

TEST(MessageBuilder, FailureIsSticky) {
  std::string out;
  MessageBuilder b(out);
  b.begin('Q');
  b.w().cstring("a\0b"s);
  b.end();
  b.begin('Q');
  b.w().cstring("fine");
  b.end();
  EXPECT_FALSE(b.ok());
}

TEST(MessageBuilder, NestedBeginAndUnmatchedEndFail) {
  std::string a, c;
  MessageBuilder b1(a);
  b1.begin('Q');
  b1.begin('Q');
  EXPECT_FALSE(b1.ok());
  MessageBuilder b2(c);
  b2.end();
  EXPECT_FALSE(b2.ok());
}

TEST(Encode, FailedMessageLeavesTheBufferUnchanged) {
  std::string out = "prefix";
  encodeQuery(out, "SELECT \0"s);
  EXPECT_EQ(out, "prefix");
  Parse p;
  p.param_types.resize(65536);  // counts are unsigned 16-bit: 65,535 at most
  encodeParse(out, p);
  EXPECT_EQ(out, "prefix");
  std::vector<DataRowReader::Cell> cells(65536);
  encodeDataRow(out, cells);
  EXPECT_EQ(out, "prefix");
  Authentication a;
  a.code = AuthCode::kMd5Password;
  a.md5_salt = "abc";
  encodeAuthentication(out, a);
  EXPECT_EQ(out, "prefix");
  ErrorFields e;
  e.fields.emplace_back('\0', "x");
  encodeErrorFields(out, 'E', e);
  EXPECT_EQ(out, "prefix");
  StartupMessage m;
  m.params.emplace_back("", "x");
  encodeStartupMessage(out, m);
  EXPECT_EQ(out, "prefix");
}

// ---- round trips: encode → frame → decode → equal ----

TEST(RoundTrip, StartupMessage) {
  StartupMessage m;
  m.protocol = kProtocol30;
  m.params = {{"user", "rag"}, {"database", "kb"}, {"_pq_.x", "1"}, {"options", ""}};
  std::string out;
  encodeStartupMessage(out, m);
  StartupPacket p;
  ASSERT_TRUE(decodeStartupPacket(startupOne(out).payload, p));
  EXPECT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.startup.protocol, kProtocol30);
  EXPECT_EQ(p.startup.params, m.params);
}

TEST(RoundTrip, SslGssAndCancelRequests) {
  std::string ssl, gss, cancel;
  encodeSslRequest(ssl);
  encodeGssEncRequest(gss);
  encodeCancelRequest(cancel, {.process_id = 4242, .secret_key = -7});
  StartupPacket p;
  ASSERT_TRUE(decodeStartupPacket(startupOne(ssl).payload, p));
  EXPECT_EQ(p.kind, StartupKind::kSslRequest);
  ASSERT_TRUE(decodeStartupPacket(startupOne(gss).payload, p));
  EXPECT_EQ(p.kind, StartupKind::kGssEncRequest);
  ASSERT_TRUE(decodeStartupPacket(startupOne(cancel).payload, p));
  EXPECT_EQ(p.kind, StartupKind::kCancel);
  EXPECT_EQ(p.cancel.process_id, 4242);
  EXPECT_EQ(p.cancel.secret_key, -7);
}

TEST(RoundTrip, FrontendMessages) {
  std::string out;
  encodeQuery(out, "SELECT * FROM chunks");
  Query q;
  ASSERT_TRUE(decodeQuery(frameOne(out, fe::kQuery).payload, q));
  EXPECT_EQ(q.sql, "SELECT * FROM chunks");

  Parse p{.name = "s1", .sql = "SELECT $1::int", .param_types = {23, 25}};
  out.clear();
  encodeParse(out, p);
  Parse p2;
  ASSERT_TRUE(decodeParse(frameOne(out, fe::kParse).payload, p2));
  EXPECT_EQ(p2.name, p.name);
  EXPECT_EQ(p2.sql, p.sql);
  EXPECT_EQ(p2.param_types, p.param_types);

  Bind b{.portal = "p",
         .statement = "s1",
         .param_formats = {1, 0, 1},
         .params = {{"\0\0\0\x2a"sv, false}, {{}, true}, {"", false}},
         .result_formats = {1}};
  out.clear();
  encodeBind(out, b);
  Bind b2;
  ASSERT_TRUE(decodeBind(frameOne(out, fe::kBind).payload, b2));
  EXPECT_EQ(b2.portal, "p");
  EXPECT_EQ(b2.statement, "s1");
  EXPECT_EQ(b2.param_formats, b.param_formats);
  EXPECT_TRUE(sameValues(b2.params, b.params));
  EXPECT_EQ(b2.result_formats, b.result_formats);

  out.clear();
  encodeDescribe(out, {.target = 'P', .name = "p"});
  Describe d;
  ASSERT_TRUE(decodeDescribe(frameOne(out, fe::kDescribe).payload, d));
  EXPECT_EQ(d.target, 'P');
  EXPECT_EQ(d.name, "p");

  out.clear();
  encodeExecute(out, {.portal = "", .max_rows = 100});
  Execute e;
  ASSERT_TRUE(decodeExecute(frameOne(out, fe::kExecute).payload, e));
  EXPECT_EQ(e.portal, "");
  EXPECT_EQ(e.max_rows, 100);

  out.clear();
  encodeClose(out, {.target = 'S', .name = "s1"});
  Close c;
  ASSERT_TRUE(decodeClose(frameOne(out, fe::kClose).payload, c));
  EXPECT_EQ(c.target, 'S');
  EXPECT_EQ(c.name, "s1");
}

TEST(RoundTrip, FunctionCallCopyAndAuthenticationMessages) {
  std::string out;
  FunctionCall fc{.function_oid = 1598,
                  .arg_formats = {0},
                  .args = {{"x", false}, {{}, true}},
                  .result_format = 1};
  encodeFunctionCall(out, fc);
  FunctionCall fc2;
  ASSERT_TRUE(decodeFunctionCall(frameOne(out, fe::kFunctionCall).payload, fc2));
  EXPECT_EQ(fc2.function_oid, 1598u);
  EXPECT_EQ(fc2.arg_formats, fc.arg_formats);
  EXPECT_TRUE(sameValues(fc2.args, fc.args));
  EXPECT_EQ(fc2.result_format, 1);

  out.clear();
  encodeCopyData(out, "1\tx\n");
  EXPECT_EQ(frameOne(out, fe::kCopyData).payload, "1\tx\n");

  out.clear();
  encodeCopyFail(out, "aborted");
  CopyFail cf;
  ASSERT_TRUE(decodeCopyFail(frameOne(out, fe::kCopyFail).payload, cf));
  EXPECT_EQ(cf.message, "aborted");

  for (char t : {fe::kSync, fe::kFlush, fe::kCopyDone, fe::kTerminate}) {
    out.clear();
    encodeEmpty(out, t);
    EXPECT_TRUE(decodeEmpty(frameOne(out, t).payload));
  }

  out.clear();
  encodePasswordMessage(out, "eyJhbGciOi.token");
  std::string_view pw;
  ASSERT_TRUE(decodePasswordMessage(frameOne(out, fe::kPassword).payload, pw));
  EXPECT_EQ(pw, "eyJhbGciOi.token");

  out.clear();
  encodeSaslInitialResponse(out, "SCRAM-SHA-256", "n,,n=,r=abc");
  SaslInitialResponse s;
  ASSERT_TRUE(decodeSaslInitialResponse(frameOne(out, fe::kPassword).payload, s));
  EXPECT_EQ(s.mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s.data, "n,,n=,r=abc");

  out.clear();
  encodeSaslResponse(out, "c=biws,r=abc,p=xyz");
  EXPECT_EQ(frameOne(out, fe::kPassword).payload, "c=biws,r=abc,p=xyz");
}

TEST(RoundTrip, AuthenticationRequests) {
  std::vector<Authentication> cases(5);
  cases[0].code = AuthCode::kOk;
  cases[1].code = AuthCode::kCleartextPassword;
  cases[2].code = AuthCode::kMd5Password;
  cases[2].md5_salt = "\x01\x02\0\x04"sv;  // a view: of static storage, not a temporary
  cases[3].code = AuthCode::kSasl;
  cases[3].mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  cases[4].code = AuthCode::kSaslFinal;
  cases[4].data = "v=abc";
  for (const Authentication& a : cases) {
    std::string out;
    encodeAuthentication(out, a);
    Authentication a2;
    ASSERT_TRUE(decodeAuthentication(frameOne(out, be::kAuthentication).payload, a2));
    EXPECT_EQ(a2.code, a.code);
    EXPECT_EQ(a2.md5_salt, a.md5_salt);
    EXPECT_EQ(a2.mechanisms, a.mechanisms);
    EXPECT_EQ(a2.data, a.data);
  }
}

TEST(RoundTrip, BackendSessionMessages) {
  std::string out;
  encodeBackendKeyData(out, {.process_id = 77, .secret_key = -1});
  BackendKeyData k;
  ASSERT_TRUE(decodeBackendKeyData(frameOne(out, be::kBackendKeyData).payload, k));
  EXPECT_EQ(k.process_id, 77);
  EXPECT_EQ(k.secret_key, -1);

  out.clear();
  encodeParameterStatus(out, "server_version", "15.4");
  ParameterStatus ps;
  ASSERT_TRUE(decodeParameterStatus(frameOne(out, be::kParameterStatus).payload, ps));
  EXPECT_EQ(ps.name, "server_version");
  EXPECT_EQ(ps.value, "15.4");

  for (char st : {'I', 'T', 'E'}) {
    out.clear();
    encodeReadyForQuery(out, st);
    ReadyForQuery r;
    ASSERT_TRUE(decodeReadyForQuery(frameOne(out, be::kReadyForQuery).payload, r));
    EXPECT_EQ(r.status, st);
  }

  out.clear();
  encodeNotificationResponse(out, {.process_id = 9, .channel = "ch", .payload = "hi"});
  NotificationResponse n;
  ASSERT_TRUE(decodeNotificationResponse(frameOne(out, be::kNotificationResponse).payload, n));
  EXPECT_EQ(n.process_id, 9);
  EXPECT_EQ(n.channel, "ch");
  EXPECT_EQ(n.payload, "hi");

  out.clear();
  encodeNegotiateProtocolVersion(out, {.newest_minor = 0, .unrecognized = {"_pq_.a", "_pq_.b"}});
  NegotiateProtocolVersion v;
  ASSERT_TRUE(
      decodeNegotiateProtocolVersion(frameOne(out, be::kNegotiateProtocolVersion).payload, v));
  EXPECT_EQ(v.newest_minor, 0u);
  EXPECT_EQ(v.unrecognized, (std::vector<std::string_view>{"_pq_.a", "_pq_.b"}));
}

TEST(RoundTrip, ResultMessages) {
  RowDescription rd;
  rd.fields = {{"id", 16384, 1, 23, 4, -1, 1}, {"body", 16384, 2, 25, -1, -1, 0}};
  std::string out;
  encodeRowDescription(out, rd);
  RowDescription rd2;
  ASSERT_TRUE(decodeRowDescription(frameOne(out, be::kRowDescription).payload, rd2));
  ASSERT_EQ(rd2.fields.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto &a = rd.fields[i], &b = rd2.fields[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.table_oid, b.table_oid);
    EXPECT_EQ(a.column, b.column);
    EXPECT_EQ(a.type_oid, b.type_oid);
    EXPECT_EQ(a.type_size, b.type_size);
    EXPECT_EQ(a.type_modifier, b.type_modifier);
    EXPECT_EQ(a.format, b.format);
  }

  out.clear();
  encodeParameterDescription(out, {.types = {23, 25, 0}});
  ParameterDescription pd;
  ASSERT_TRUE(decodeParameterDescription(frameOne(out, be::kParameterDescription).payload, pd));
  EXPECT_EQ(pd.types, (std::vector<uint32_t>{23, 25, 0}));

  std::vector<DataRowReader::Cell> cells = {{"42", false}, {{}, true}, {"", false}};
  out.clear();
  encodeDataRow(out, cells);
  DataRowReader r(frameOne(out, be::kDataRow).payload);
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.columns(), 3);
  DataRowReader::Cell c;
  for (const auto& want : cells) {
    ASSERT_TRUE(r.next(c));
    EXPECT_EQ(c.null, want.null);
    EXPECT_EQ(c.bytes, want.bytes);
  }
  EXPECT_FALSE(r.next(c));
  EXPECT_TRUE(r.ok());

  out.clear();
  encodeCommandComplete(out, "SELECT 3");
  CommandComplete cc;
  ASSERT_TRUE(decodeCommandComplete(frameOne(out, be::kCommandComplete).payload, cc));
  EXPECT_EQ(cc.tag, "SELECT 3");

  out.clear();
  encodeFunctionCallResponse(out, {.value = {}, .null = true});
  FunctionCallResponse fr;
  ASSERT_TRUE(decodeFunctionCallResponse(frameOne(out, be::kFunctionCallResponse).payload, fr));
  EXPECT_TRUE(fr.null);
}

TEST(RoundTrip, ErrorsNoticesAndCopyResponses) {
  ErrorFields ef;
  ef.fields = {{'S', "ERROR"}, {'C', "42P01"}, {'M', "relation does not exist"}, {'P', "15"}};
  for (char t : {be::kErrorResponse, be::kNoticeResponse}) {
    std::string out;
    encodeErrorFields(out, t, ef);
    ErrorFields ef2;
    ASSERT_TRUE(decodeErrorFields(frameOne(out, t).payload, ef2));
    EXPECT_EQ(ef2.fields, ef.fields);
  }
  CopyResponse cr{.format = 1, .column_formats = {1, 1}};
  for (char t : {be::kCopyInResponse, be::kCopyOutResponse, be::kCopyBothResponse}) {
    std::string out;
    encodeCopyResponse(out, t, cr);
    CopyResponse cr2;
    ASSERT_TRUE(decodeCopyResponse(frameOne(out, t).payload, cr2));
    EXPECT_EQ(cr2.format, 1);
    EXPECT_EQ(cr2.column_formats, cr.column_formats);
  }
}

}  // namespace
}  // namespace jg::pg
