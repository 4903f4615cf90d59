// PostgreSQL wire protocol 3.0: message type codes and decoded message views.
//
// Decoded messages borrow from the buffer they were decoded from (std::string_view members):
// they are valid only while that buffer is unchanged. Nothing here does I/O. See
// https://www.postgresql.org/docs/15/protocol-message-formats.html for the formats.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace jg::pg {

// Protocol version numbers and special request codes carried in the startup packet.
inline constexpr uint32_t kProtocol30 = 196608;  // 3.0
inline constexpr uint32_t kSslRequestCode = 80877103;
inline constexpr uint32_t kGssEncRequestCode = 80877104;
inline constexpr uint32_t kCancelRequestCode = 80877102;

// Frontend (client → server) message types.
namespace fe {
inline constexpr char kQuery = 'Q';
inline constexpr char kParse = 'P';
inline constexpr char kBind = 'B';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kClose = 'C';
inline constexpr char kSync = 'S';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kTerminate = 'X';
inline constexpr char kPassword = 'p';  // also SASLInitialResponse, SASLResponse, GSSResponse
}  // namespace fe

// Backend (server → client) message types.
namespace be {
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
inline constexpr char kDataRow = 'D';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParseComplete = '1';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kNoData = 'n';
inline constexpr char kParameterDescription = 't';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';
}  // namespace be

// Authentication request codes (the int32 after 'R').
enum class AuthCode : int32_t {
  kOk = 0,
  kKerberosV5 = 2,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kGss = 7,
  kGssContinue = 8,
  kSspi = 9,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

// ---- Startup phase (no type byte) ----

struct StartupMessage {
  uint32_t protocol = 0;
  // Parameters in packet order (user, database, application_name, options, ...).
  std::vector<std::pair<std::string_view, std::string_view>> params;
  std::string_view get(std::string_view key) const {
    for (const auto& [k, v] : params) {
      if (k == key) {
        return v;
      }
    }
    return {};
  }
};

struct CancelRequest {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancel };

struct StartupPacket {
  StartupKind kind = StartupKind::kStartup;
  StartupMessage startup;  // when kind == kStartup
  CancelRequest cancel;    // when kind == kCancel
};

// ---- Frontend messages ----

struct Query {
  std::string_view sql;
};

struct Parse {
  std::string_view name;  // "" = unnamed statement
  std::string_view sql;
  std::vector<uint32_t> param_types;
};

struct Bind {
  std::string_view portal;
  std::string_view statement;
  std::vector<int16_t> param_formats;
  // Each parameter value; `null` set when the length was -1.
  struct Value {
    std::string_view bytes;
    bool null = false;
  };
  std::vector<Value> params;
  std::vector<int16_t> result_formats;
};

struct Describe {
  char target = 'S';  // 'S' statement or 'P' portal
  std::string_view name;
};

struct Execute {
  std::string_view portal;
  int32_t max_rows = 0;  // 0 = no limit
};

struct Close {
  char target = 'S';
  std::string_view name;
};

struct FunctionCall {
  uint32_t function_oid = 0;
  std::vector<int16_t> arg_formats;
  std::vector<Bind::Value> args;
  int16_t result_format = 0;
};

struct CopyFail {
  std::string_view message;
};

struct SaslInitialResponse {
  std::string_view mechanism;
  std::string_view data;  // empty when the length was -1
};

// ---- Backend messages ----

struct Authentication {
  AuthCode code = AuthCode::kOk;
  std::string_view md5_salt;                 // 4 bytes, for kMd5Password
  std::vector<std::string_view> mechanisms;  // for kSasl
  std::string_view data;                     // for kSaslContinue / kSaslFinal
};

struct BackendKeyData {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};

struct ReadyForQuery {
  char status = 'I';  // 'I' idle, 'T' in transaction, 'E' failed transaction
};

struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;
  int16_t column = 0;  // attribute number, 0 if not a table column
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;  // 0 text, 1 binary
};

struct RowDescription {
  std::vector<FieldDescription> fields;
};

struct ParameterDescription {
  std::vector<uint32_t> types;
};

struct CommandComplete {
  std::string_view tag;
};

// ErrorResponse and NoticeResponse: (code, value) pairs, e.g. ('S', "ERROR"), ('C', "42501").
struct ErrorFields {
  std::vector<std::pair<char, std::string_view>> fields;
  std::string_view get(char code) const {
    for (const auto& [c, v] : fields) {
      if (c == code) {
        return v;
      }
    }
    return {};
  }
};

struct NotificationResponse {
  int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
};

struct CopyResponse {
  int8_t format = 0;  // overall: 0 text, 1 binary
  std::vector<int16_t> column_formats;
};

struct NegotiateProtocolVersion {
  uint32_t newest_minor = 0;
  std::vector<std::string_view> unrecognized;
};

struct FunctionCallResponse {
  std::string_view value;
  bool null = false;
};

}  // namespace jg::pg
