// JSON-RPC 2.0 decoding and encoding (see jsonrpc.h).
#include "proto/mcp/jsonrpc.h"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <string>

namespace jg::mcp {
namespace {

namespace json = boost::json;

// The versions of @modelcontextprotocol/sdk 1.32.2 (SUPPORTED_PROTOCOL_VERSIONS), newest first.
constexpr std::array<std::string_view, 5> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                       "2024-11-05", "2024-10-07"};

bool isInteger(const json::value& v) {
  return v.is_int64() || v.is_uint64();
}

bool validId(const json::value& v) {
  return v.is_string() || isInteger(v);
}

RpcError refuse(int code, std::string message, const json::value* id = nullptr) {
  RpcError e{.code = code, .message = std::move(message)};
  if (id != nullptr && validId(*id)) {
    e.id = *id;
  }
  return e;
}

std::variant<Message, RpcError> requestFromJson(const json::object& o, const json::value* id) {
  const json::value* method = o.if_contains("method");
  if (!method->is_string()) {
    return refuse(kInvalidRequest, "method must be a string", id);
  }
  if (o.contains("result") || o.contains("error")) {
    return refuse(kInvalidRequest, "a request cannot carry a result or an error", id);
  }
  Message m{.kind = id != nullptr ? Message::Kind::kRequest : Message::Kind::kNotification,
            .method = std::string(method->get_string())};
  if (id != nullptr) {
    if (!validId(*id)) {
      return refuse(kInvalidRequest, "id must be a string or an integer");
    }
    m.id = *id;
  }
  if (const json::value* params = o.if_contains("params"); params != nullptr) {
    if (!params->is_object() && !params->is_array()) {
      return refuse(kInvalidRequest, "params must be an object or an array", id);
    }
    m.params = *params;
  }
  return m;
}

std::variant<Message, RpcError> errorFromJson(const json::value& error, const json::value& id) {
  const json::object* e = error.if_object();
  if (e == nullptr) {
    return refuse(kInvalidRequest, "error must be an object", &id);
  }
  const json::value* code = e->if_contains("code");
  const json::value* message = e->if_contains("message");
  if (code == nullptr || !code->is_int64() || code->get_int64() < INT32_MIN ||
      code->get_int64() > INT32_MAX) {
    return refuse(kInvalidRequest, "error.code must be an integer", &id);
  }
  if (message == nullptr || !message->is_string()) {
    return refuse(kInvalidRequest, "error.message must be a string", &id);
  }
  Message m{.kind = Message::Kind::kError,
            .id = id,
            .error_code = static_cast<int>(code->get_int64()),
            .error_message = std::string(message->get_string())};
  if (const json::value* data = e->if_contains("data"); data != nullptr) {
    m.error_data = *data;
  }
  return m;
}

std::variant<Message, RpcError> responseFromJson(const json::object& o) {
  const json::value* id = o.if_contains("id");
  const json::value* result = o.if_contains("result");
  const json::value* error = o.if_contains("error");
  if (id == nullptr) {
    return refuse(kInvalidRequest, "a message needs a method or an id");
  }
  if ((result == nullptr) == (error == nullptr)) {
    return refuse(kInvalidRequest, "a response carries exactly one of result and error", id);
  }
  if (error != nullptr && (validId(*id) || id->is_null())) {
    return errorFromJson(*error, *id);
  }
  if (!validId(*id)) {
    return refuse(kInvalidRequest, "id must be a string or an integer");
  }
  return Message{.kind = Message::Kind::kResult, .id = *id, .result = *result};
}

std::string text(const json::object& o) {
  return json::serialize(o);
}

}  // namespace

std::string_view Message::tool() const {
  if (method != "tools/call" || !params.is_object()) {
    return {};
  }
  const json::value* name = params.get_object().if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return {};
  }
  const json::string& s = name->get_string();
  return {s.data(), s.size()};
}

const boost::json::value* Message::arguments() const {
  if (method != "tools/call" || !params.is_object()) {
    return nullptr;
  }
  return params.get_object().if_contains("arguments");
}

std::variant<Message, RpcError> fromJson(const boost::json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) {
    return refuse(kInvalidRequest, "a JSON-RPC message must be an object");
  }
  const json::value* id = o->if_contains("id");
  const json::value* version = o->if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return refuse(kInvalidRequest, "jsonrpc must be \"2.0\"", id);
  }
  if (o->contains("method")) {
    return requestFromJson(*o, id);
  }
  return responseFromJson(*o);
}

namespace {

bool allFinite(const json::value& v) {
  if (v.is_double()) {
    return std::isfinite(v.get_double());
  }
  if (const json::array* a = v.if_array()) {
    return std::all_of(a->begin(), a->end(), [](const json::value& e) { return allFinite(e); });
  }
  if (const json::object* o = v.if_object()) {
    return std::all_of(o->begin(), o->end(),
                       [](const json::key_value_pair& kv) { return allFinite(kv.value()); });
  }
  return true;
}

}  // namespace

std::variant<Parsed, RpcError> parseBody(std::string_view body, bool allow_batch) {
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) {
    return refuse(kParseError, "the body is not valid JSON: " + ec.message());
  }
  if (!allFinite(v)) {
    // 1e400 parses to infinity, which no JSON text can carry on: refused, not passed on altered.
    return refuse(kParseError, "the body holds a number beyond the range of a double");
  }
  Parsed parsed;
  if (!v.is_array()) {
    auto one = fromJson(v);
    if (auto* e = std::get_if<RpcError>(&one)) {
      return std::move(*e);
    }
    parsed.messages.push_back(std::move(std::get<Message>(one)));
    return parsed;
  }
  if (!allow_batch) {
    return refuse(kInvalidRequest,
                  "JSON-RPC batches are not part of the negotiated MCP protocol version");
  }
  const json::array& items = v.get_array();
  if (items.empty()) {
    return refuse(kInvalidRequest, "an empty batch is not a valid request");
  }
  parsed.batch = true;
  parsed.messages.reserve(items.size());
  for (const json::value& item : items) {
    auto one = fromJson(item);
    if (auto* e = std::get_if<RpcError>(&one)) {
      return std::move(*e);
    }
    parsed.messages.push_back(std::move(std::get<Message>(one)));
  }
  return parsed;
}

std::string resultText(const boost::json::value& id, const boost::json::value& result) {
  return text({{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

std::string errorText(const boost::json::value& id, int code, std::string_view message,
                      const boost::json::value& data) {
  json::object error{{"code", code}, {"message", message}};
  if (!data.is_null()) {
    error["data"] = data;
  }
  return text({{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
}

std::string requestText(const boost::json::value& id, std::string_view method,
                        const boost::json::value& params) {
  json::object o{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) {
    o["params"] = params;
  }
  return text(o);
}

std::string notificationText(std::string_view method, const boost::json::value& params) {
  json::object o{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) {
    o["params"] = params;
  }
  return text(o);
}

boost::json::value toJson(const Message& m) {
  json::object o{{"jsonrpc", "2.0"}};
  switch (m.kind) {
    case Message::Kind::kRequest:
    case Message::Kind::kNotification:
      if (m.kind == Message::Kind::kRequest) {
        o["id"] = m.id;
      }
      o["method"] = m.method;
      if (!m.params.is_null()) {
        o["params"] = m.params;
      }
      break;
    case Message::Kind::kResult:
      o["id"] = m.id;
      o["result"] = m.result;
      break;
    case Message::Kind::kError: {
      o["id"] = m.id;
      json::object error{{"code", m.error_code}, {"message", m.error_message}};
      if (!m.error_data.is_null()) {
        error["data"] = m.error_data;
      }
      o["error"] = std::move(error);
      break;
    }
  }
  return o;
}

std::span<const std::string_view> supportedVersions() {
  return kVersions;
}

std::string_view negotiateVersion(std::string_view requested) {
  for (std::string_view v : kVersions) {
    if (v == requested) {
      return v;
    }
  }
  return kVersions.front();
}

bool versionAllowsBatch(std::string_view version) {
  return version == "2025-03-26";
}

}  // namespace jg::mcp
