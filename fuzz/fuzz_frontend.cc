// Fuzzes the client side of the PostgreSQL codec: the input is what a client might send to the
// gateway. Startup-phase packets come first (SSLRequest/GSSENCRequest may precede the
// StartupMessage, as when the gateway declines encryption), then typed messages go through
// nextFrame and the frontend decoder for their type. Every message that decodes is re-encoded and
// must reproduce the original bytes exactly: the decoders and encoders are inverse functions.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"

namespace {

using namespace jg::pg;

constexpr size_t kMaxMessage = 1 << 16;

void expectSame(const std::string& encoded, std::string_view original) {
  if (encoded != original) {
    std::abort();  // decode ∘ encode is not the identity
  }
}

// Decodes one frontend message; on success re-encodes it and compares with `whole`.
void decodeFrontend(const Frame& f, std::string_view whole) {
  std::string out;
  switch (f.type) {
    case fe::kQuery: {
      Query m;
      if (decodeQuery(f.payload, m)) {
        encodeQuery(out, m.sql);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kParse: {
      Parse m;
      if (decodeParse(f.payload, m)) {
        encodeParse(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kBind: {
      Bind m;
      if (decodeBind(f.payload, m)) {
        encodeBind(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kDescribe: {
      Describe m;
      if (decodeDescribe(f.payload, m)) {
        encodeDescribe(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kClose: {
      Close m;
      if (decodeClose(f.payload, m)) {
        encodeClose(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kExecute: {
      Execute m;
      if (decodeExecute(f.payload, m)) {
        encodeExecute(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kFunctionCall: {
      FunctionCall m;
      if (decodeFunctionCall(f.payload, m)) {
        encodeFunctionCall(out, m);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kCopyFail: {
      CopyFail m;
      if (decodeCopyFail(f.payload, m)) {
        encodeCopyFail(out, m.message);
        expectSame(out, whole);
      }
      break;
    }
    case fe::kCopyData:
      encodeCopyData(out, f.payload);
      expectSame(out, whole);
      break;
    case fe::kSync:
    case fe::kFlush:
    case fe::kCopyDone:
    case fe::kTerminate:
      if (decodeEmpty(f.payload)) {
        encodeEmpty(out, f.type);
        expectSame(out, whole);
      }
      break;
    case fe::kPassword: {
      // The same type byte carries a password, a SASLInitialResponse or a SASLResponse.
      std::string_view password;
      if (decodePasswordMessage(f.payload, password)) {
        encodePasswordMessage(out, password);
        expectSame(out, whole);
      }
      SaslInitialResponse sasl;
      if (decodeSaslInitialResponse(f.payload, sasl) && !sasl.data.empty()) {
        out.clear();
        encodeSaslInitialResponse(out, sasl.mechanism, sasl.data);
        expectSame(out, whole);
      }
      break;
    }
    default:
      break;
  }
}

// Returns false when the stream must stop (an error, a cancel request, or incomplete input).
bool startupPhase(std::string_view& buf) {
  for (int packets = 0; packets < 3; ++packets) {
    Frame f;
    std::string error;
    if (nextStartupFrame(buf, kMaxMessage, f, error) != FrameStatus::kReady) {
      return false;
    }
    StartupPacket p;
    bool ok = decodeStartupPacket(f.payload, p);
    buf.remove_prefix(f.size);
    if (!ok || p.kind == StartupKind::kCancel) {
      return false;
    }
    if (p.kind == StartupKind::kStartup) {
      std::string out;
      encodeStartupMessage(out, p.startup);
      expectSame(out, std::string_view(f.payload.data() - 4, f.size));
      (void)p.startup.get("database");
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  if (!startupPhase(buf)) {
    return 0;
  }
  Frame f;
  std::string error;
  while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
    decodeFrontend(f, buf.substr(0, f.size));
    buf.remove_prefix(f.size);
  }
  (void)pendingFrameSize(buf);
  return 0;
}
