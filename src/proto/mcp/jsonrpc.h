// JSON-RPC 2.0 messages as MCP uses them: strict decoding, compact encoding, and the MCP
// protocol versions jitgate speaks.
//
// Sans-I/O: bodies come in as text or Boost.JSON values and go out as text. A refused message
// is an RpcError carrying the JSON-RPC error to answer with; nothing throws. Bodies are bounded
// by the caller; nesting depth is bounded here (kMaxDepth) so a hostile body cannot blow the
// stack. All functions are pure and thread-safe; a Message is a plain value.
#pragma once

#include <boost/json/value.hpp>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jg::mcp {

// JSON-RPC 2.0 codes, and jitgate's own in the server range (-32000..-32099).
inline constexpr int kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601,
                     kInvalidParams = -32602, kInternalError = -32603;
inline constexpr int kDenied = -32001, kReviewRequired = -32002, kBudgetExceeded = -32003,
                     kToolChanged = -32004, kUpstreamError = -32005, kUnrecorded = -32006;

// The deepest nesting of arrays and objects parseBody accepts.
inline constexpr size_t kMaxDepth = 64;

struct Message {
  enum class Kind { kRequest, kNotification, kResult, kError };
  Kind kind = Kind::kRequest;
  boost::json::value id{};          // string or integer; null for notifications
  std::string method{};             // requests and notifications
  boost::json::value params{};      // object, array or null
  boost::json::value result{};      // kResult
  int error_code = 0;               // kError
  std::string error_message{};      // kError
  boost::json::value error_data{};  // kError (null if absent)
  // tools/call: params.name ("" otherwise or when absent/not a string). The view points into
  // params and lives as long as this message is not modified.
  std::string_view tool() const;
  // tools/call: params.arguments (null pointer when absent).
  const boost::json::value* arguments() const;
  bool isRequest() const { return kind == Kind::kRequest; }
};

// A refused message: the JSON-RPC error to answer with (id is null when it could not be read).
struct RpcError {
  int code = kInvalidRequest;
  std::string message{};
  boost::json::value id{};
};

// One JSON-RPC message from a JSON value (strict: "jsonrpc":"2.0", method a string, id a string
// or integer (not null, not fractional, not bool), params an object or array if present, a
// response has exactly one of result/error, error.code an integer and error.message a string).
// Members other than those JSON-RPC defines are ignored. A response with a null id (a server's
// answer to a message it could not read) is accepted as kError only.
[[nodiscard]] std::variant<Message, RpcError> fromJson(const boost::json::value& v);

// A whole HTTP body: one message, or (allow_batch) a non-empty array of messages. Malformed JSON
// is kParseError; an array when !allow_batch is kInvalidRequest with a message saying that
// batches are not part of the negotiated protocol version; an empty array is kInvalidRequest.
// In a batch, the first invalid member refuses the whole body (its id, when readable, is the
// RpcError's id). Text must be UTF-8. A key repeated in one object keeps its last value, as
// JSON.parse, Python and Go read it; a proxy that forwards what it decided on should still send
// toJson's text rather than the bytes it received.
struct Parsed {
  std::vector<Message> messages{};
  bool batch = false;
};
[[nodiscard]] std::variant<Parsed, RpcError> parseBody(std::string_view body, bool allow_batch);

// Serializers (compact JSON text).
std::string resultText(const boost::json::value& id, const boost::json::value& result);
std::string errorText(const boost::json::value& id, int code, std::string_view message,
                      const boost::json::value& data = nullptr);
std::string requestText(const boost::json::value& id, std::string_view method,
                        const boost::json::value& params);
std::string notificationText(std::string_view method, const boost::json::value& params);
// The inverse of fromJson: fromJson(toJson(m)) gives back m.
boost::json::value toJson(const Message& m);

// The MCP protocol versions jitgate speaks, newest first.
std::span<const std::string_view> supportedVersions();
// The version to answer an initialize with: the client's if supported, else the latest.
std::string_view negotiateVersion(std::string_view requested);
// Whether a version allows JSON-RPC batches: only 2025-03-26 (which added them; 2025-06-18
// removed them again, and the earlier versions never had them).
bool versionAllowsBatch(std::string_view version);

}  // namespace jg::mcp
