// Fuzzes the server side of the PostgreSQL codec: the input is what an upstream server (or
// something pretending to be one) might send to the gateway. Typed messages go through nextFrame
// and the backend decoder for their type; DataRows through DataRowReader. Messages that decode
// are re-encoded and must reproduce the original bytes. Authentication requests drive a real
// ScramClient (SASLContinue → handleServerFirst, SASLFinal → verifyServerFinal) and the md5
// response, so hostile SCRAM messages are fuzzed with the state they would meet in a session.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"
#include "proto/pg/scram.h"

namespace {

using namespace jg::pg;

constexpr size_t kMaxMessage = 1 << 16;
// The client nonce is fixed so the seed corpus can hold server-first-messages that extend it.
constexpr std::string_view kFuzzNonce = "fuzzclientnonce0000000000";

void expectSame(const std::string& encoded, std::string_view original) {
  if (encoded != original) {
    std::abort();  // decode ∘ encode is not the identity
  }
}

// PBKDF2 cost grows with the iteration count; cap it so each input stays fast. The bound itself
// is covered by the unit tests.
bool cheapIterations(std::string_view server_first) {
  size_t i = server_first.find(",i=");
  return i == std::string_view::npos || server_first.size() - (i + 3) <= 4;
}

struct Session {
  std::unique_ptr<ScramClient> scram;
};

void onAuthentication(Session& s, const Authentication& a) {
  switch (a.code) {
    case AuthCode::kSasl:
      s.scram = std::make_unique<ScramClient>("pencil");
      s.scram->setNonceForTest(std::string(kFuzzNonce));
      (void)s.scram->clientFirst();
      break;
    case AuthCode::kSaslContinue:
      if (s.scram && cheapIterations(a.data)) {
        (void)s.scram->handleServerFirst(a.data);
      }
      break;
    case AuthCode::kSaslFinal:
      if (s.scram) {
        (void)s.scram->verifyServerFinal(a.data);
      }
      break;
    case AuthCode::kMd5Password:
      (void)md5PasswordResponse("user", "pencil", a.md5_salt);
      break;
    default:
      break;
  }
}

template <typename Msg, typename Decode, typename Encode>
void roundTrip(const Frame& f, std::string_view whole, Decode decode, Encode encode) {
  Msg m;
  if (decode(f.payload, m)) {
    std::string out;
    encode(out, m);
    expectSame(out, whole);
  }
}

void dataRow(const Frame& f, std::string_view whole) {
  DataRowReader r(f.payload);
  if (!r.valid()) {
    return;
  }
  std::vector<DataRowReader::Cell> cells;
  DataRowReader::Cell c;
  while (r.next(c)) {
    cells.push_back(c);
  }
  if (r.ok()) {
    std::string out;
    encodeDataRow(out, cells);
    expectSame(out, whole);
  }
}

void decodeBackend(Session& s, const Frame& f, std::string_view whole) {
  switch (f.type) {
    case be::kAuthentication: {
      Authentication a;
      if (decodeAuthentication(f.payload, a)) {
        onAuthentication(s, a);
        std::string out;
        encodeAuthentication(out, a);
        expectSame(out, whole);
      }
      break;
    }
    case be::kBackendKeyData:
      roundTrip<BackendKeyData>(f, whole, decodeBackendKeyData, encodeBackendKeyData);
      break;
    case be::kParameterStatus:
      roundTrip<ParameterStatus>(f, whole, decodeParameterStatus,
                                 [](std::string& o, const ParameterStatus& m) {
                                   encodeParameterStatus(o, m.name, m.value);
                                 });
      break;
    case be::kReadyForQuery:
      roundTrip<ReadyForQuery>(
          f, whole, decodeReadyForQuery,
          [](std::string& o, const ReadyForQuery& m) { encodeReadyForQuery(o, m.status); });
      break;
    case be::kRowDescription:
      roundTrip<RowDescription>(f, whole, decodeRowDescription, encodeRowDescription);
      break;
    case be::kParameterDescription:
      roundTrip<ParameterDescription>(f, whole, decodeParameterDescription,
                                      encodeParameterDescription);
      break;
    case be::kDataRow:
      dataRow(f, whole);
      break;
    case be::kCommandComplete:
      roundTrip<CommandComplete>(
          f, whole, decodeCommandComplete,
          [](std::string& o, const CommandComplete& m) { encodeCommandComplete(o, m.tag); });
      break;
    case be::kErrorResponse:
    case be::kNoticeResponse:
      roundTrip<ErrorFields>(
          f, whole, decodeErrorFields,
          [&](std::string& o, const ErrorFields& m) { encodeErrorFields(o, f.type, m); });
      break;
    case be::kNotificationResponse:
      roundTrip<NotificationResponse>(f, whole, decodeNotificationResponse,
                                      encodeNotificationResponse);
      break;
    case be::kCopyInResponse:
    case be::kCopyOutResponse:
    case be::kCopyBothResponse:
      roundTrip<CopyResponse>(
          f, whole, decodeCopyResponse,
          [&](std::string& o, const CopyResponse& m) { encodeCopyResponse(o, f.type, m); });
      break;
    case be::kNegotiateProtocolVersion:
      roundTrip<NegotiateProtocolVersion>(f, whole, decodeNegotiateProtocolVersion,
                                          encodeNegotiateProtocolVersion);
      break;
    case be::kFunctionCallResponse:
      roundTrip<FunctionCallResponse>(f, whole, decodeFunctionCallResponse,
                                      encodeFunctionCallResponse);
      break;
    case be::kParseComplete:
    case be::kBindComplete:
    case be::kCloseComplete:
    case be::kNoData:
    case be::kPortalSuspended:
    case be::kEmptyQueryResponse:
    case be::kCopyDone:
      if (decodeEmpty(f.payload)) {
        std::string out;
        encodeEmpty(out, f.type);
        expectSame(out, whole);
      }
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  Session session;
  Frame f;
  std::string error;
  while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
    decodeBackend(session, f, buf.substr(0, f.size));
    buf.remove_prefix(f.size);
  }
  return 0;
}
