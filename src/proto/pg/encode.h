// Encoders: typed messages to bytes, appended to a caller-owned std::string.
//
// MessageBuilder writes one message at a time: begin() reserves the length, the body is written
// through the ByteWriter, end() patches the length. Failures (an embedded NUL in a C string, a
// count that does not fit in int16) set a sticky failure bit; check ok() once after a batch.
// The free functions below build the messages the gateway itself originates. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "proto/pg/decode.h"  // DataRowReader::Cell
#include "proto/pg/messages.h"

namespace jg::pg {

class MessageBuilder {
 public:
  explicit MessageBuilder(std::string& out) : w_(out) {}
  // type == 0 starts an untyped (startup-phase) packet.
  void begin(char type);
  void end();
  ByteWriter& w() { return w_; }
  bool ok() const { return w_.ok(); }

 private:
  ByteWriter w_;
  size_t start_ = 0;
  bool open_ = false;
};

// Startup phase.
void encodeStartupMessage(std::string& out, const StartupMessage& m);
void encodeSslRequest(std::string& out);
void encodeGssEncRequest(std::string& out);
void encodeCancelRequest(std::string& out, const CancelRequest& m);

// Frontend.
void encodeQuery(std::string& out, std::string_view sql);
void encodeParse(std::string& out, const Parse& m);
void encodeBind(std::string& out, const Bind& m);
void encodeDescribe(std::string& out, const Describe& m);
void encodeExecute(std::string& out, const Execute& m);
void encodeClose(std::string& out, const Close& m);
void encodeFunctionCall(std::string& out, const FunctionCall& m);
void encodeEmpty(std::string& out, char type);                 // Sync, Flush, CopyDone, Terminate
void encodeCopyData(std::string& out, std::string_view data);  // 'd' in both directions
void encodeCopyFail(std::string& out, std::string_view message);
void encodePasswordMessage(std::string& out, std::string_view password);
void encodeSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data);
void encodeSaslResponse(std::string& out, std::string_view data);

// Backend.
void encodeAuthentication(std::string& out, const Authentication& m);
void encodeBackendKeyData(std::string& out, const BackendKeyData& m);
void encodeParameterStatus(std::string& out, std::string_view name, std::string_view value);
void encodeReadyForQuery(std::string& out, char status);
void encodeRowDescription(std::string& out, const RowDescription& m);
void encodeParameterDescription(std::string& out, const ParameterDescription& m);
void encodeDataRow(std::string& out, const std::vector<DataRowReader::Cell>& cells);
void encodeCommandComplete(std::string& out, std::string_view tag);
void encodeErrorFields(std::string& out, char type, const ErrorFields& m);  // 'E' or 'N'
void encodeNotificationResponse(std::string& out, const NotificationResponse& m);
void encodeCopyResponse(std::string& out, char type, const CopyResponse& m);
void encodeNegotiateProtocolVersion(std::string& out, const NegotiateProtocolVersion& m);
void encodeFunctionCallResponse(std::string& out, const FunctionCallResponse& m);

// An ErrorResponse ('E') or NoticeResponse ('N') the gateway originates.
// severity: "ERROR", "FATAL", "NOTICE", ...; `detail` and `hint` may be empty.
void encodeError(std::string& out, std::string_view severity, std::string_view sqlstate,
                 std::string_view message, std::string_view detail = {}, std::string_view hint = {},
                 char type = be::kErrorResponse);

}  // namespace jg::pg
