// Decoders: one function per message, payload in, typed view out.
//
// Each takes the payload of one framed message (see framer.h) and returns false when the payload
// is malformed: a field runs past the end, a count is negative or larger than the payload could
// hold, or bytes are left over. Validate-then-read: nothing is partially trusted. Results borrow
// from `payload`. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "proto/pg/messages.h"

namespace jg::pg {

// Startup phase.
[[nodiscard]] bool decodeStartupPacket(std::string_view payload, StartupPacket& out);

// Frontend messages.
[[nodiscard]] bool decodeQuery(std::string_view payload, Query& out);
[[nodiscard]] bool decodeParse(std::string_view payload, Parse& out);
[[nodiscard]] bool decodeBind(std::string_view payload, Bind& out);
[[nodiscard]] bool decodeDescribe(std::string_view payload, Describe& out);
[[nodiscard]] bool decodeExecute(std::string_view payload, Execute& out);
[[nodiscard]] bool decodeClose(std::string_view payload, Close& out);
[[nodiscard]] bool decodeFunctionCall(std::string_view payload, FunctionCall& out);
[[nodiscard]] bool decodeCopyFail(std::string_view payload, CopyFail& out);
// 'p' during cleartext/md5 authentication: the password (NUL-terminated).
[[nodiscard]] bool decodePasswordMessage(std::string_view payload, std::string_view& password);
[[nodiscard]] bool decodeSaslInitialResponse(std::string_view payload, SaslInitialResponse& out);
// Sync, Flush, CopyDone and Terminate have empty payloads.
[[nodiscard]] bool decodeEmpty(std::string_view payload);

// Backend messages.
[[nodiscard]] bool decodeAuthentication(std::string_view payload, Authentication& out);
[[nodiscard]] bool decodeBackendKeyData(std::string_view payload, BackendKeyData& out);
[[nodiscard]] bool decodeParameterStatus(std::string_view payload, ParameterStatus& out);
[[nodiscard]] bool decodeReadyForQuery(std::string_view payload, ReadyForQuery& out);
[[nodiscard]] bool decodeRowDescription(std::string_view payload, RowDescription& out);
[[nodiscard]] bool decodeParameterDescription(std::string_view payload, ParameterDescription& out);
[[nodiscard]] bool decodeCommandComplete(std::string_view payload, CommandComplete& out);
[[nodiscard]] bool decodeErrorFields(std::string_view payload, ErrorFields& out);
[[nodiscard]] bool decodeNotificationResponse(std::string_view payload, NotificationResponse& out);
[[nodiscard]] bool decodeCopyResponse(std::string_view payload, CopyResponse& out);
[[nodiscard]] bool decodeNegotiateProtocolVersion(std::string_view payload,
                                                  NegotiateProtocolVersion& out);
[[nodiscard]] bool decodeFunctionCallResponse(std::string_view payload, FunctionCallResponse& out);

// DataRow: iterates cells without allocating. Usage:
//   DataRowReader r(payload); if (!r.valid()) ...; DataRowReader::Cell c; while (r.next(c)) ...
//   if (!r.ok()) malformed.
class DataRowReader {
 public:
  struct Cell {
    std::string_view bytes;
    bool null = false;
  };
  explicit DataRowReader(std::string_view payload);
  bool valid() const { return valid_; }
  int16_t columns() const { return columns_; }
  // Returns false at the end or on a malformed cell (then ok() is false).
  bool next(Cell& out);
  // True when every cell so far was well-formed and, after the last, nothing was left over.
  bool ok() const { return valid_; }

 private:
  std::string_view payload_;
  size_t pos_ = 0;
  int16_t columns_ = 0;
  int16_t read_ = 0;
  bool valid_ = false;
};

}  // namespace jg::pg
