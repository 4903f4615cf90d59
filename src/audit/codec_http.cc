#include "audit/codec_http.h"

#include "audit/codec_fields.h"
#include "audit/crypto.h"

namespace jg::audit::http_codec {
namespace json = boost::json;
using namespace fields;  // NOLINT(google-build-using-namespace)

namespace {

// A body: `body` when the bytes are valid UTF-8, else `body_b64`. Empty bodies are omitted.
void writeBody(JsonWriter& w, std::string_view body) {
  if (body.empty()) {
    return;
  }
  if (validUtf8(body)) {
    w.field("body", body);
  } else {
    w.field("body_b64", base64Encode(body));
  }
}

std::string bodyFrom(const json::object& o) {
  if (auto* v = o.if_contains("body"); v && v->is_string()) {
    return std::string(v->as_string());
  }
  auto bytes = base64Decode(getStr(o, "body_b64"));
  return bytes ? std::move(*bytes) : std::string();
}

// Headers as [[name, value], ...]; values are scrubbed by name, then by the redactor.
void writeHeaders(JsonWriter& w, const Headers& headers, const Redactor& redact) {
  if (headers.empty()) {
    return;
  }
  w.key("headers");
  w.beginArray();
  for (const auto& [name, value] : headers) {
    w.beginArray();
    w.str(name);
    w.str(redact(scrubHeaderValue(name, value)));
    w.endArray();
  }
  w.endArray();
}

Headers headersFrom(const json::object& o) {
  Headers out;
  auto* v = o.if_contains("headers");
  if (v == nullptr || !v->is_array()) {
    return out;
  }
  for (const auto& h : v->as_array()) {
    if (h.is_array() && h.as_array().size() == 2 && h.as_array()[0].is_string() &&
        h.as_array()[1].is_string()) {
      out.emplace_back(std::string(h.as_array()[0].as_string()),
                       std::string(h.as_array()[1].as_string()));
    }
  }
  return out;
}

// The completion fields shared by a complete http_response and http_response_end.
void writeCompletion(JsonWriter& w, uint64_t bytes, const std::map<std::string, uint64_t>& masked,
                     std::string_view outcome, bool unmasked_binary) {
  w.fieldU64("bytes", bytes);
  writeMasked(w, masked);
  w.fieldIfSet("outcome", outcome);
  if (unmasked_binary) {
    w.key("unmasked_binary");
    w.boolean(true);
  }
}

HttpRequestEvent requestFrom(const json::object& o) {
  HttpRequestEvent e;
  e.request_id = getU64(o, "req");
  e.method = getStr(o, "method");
  e.path = getStr(o, "path");
  e.query = getStr(o, "query");
  e.route = getStr(o, "route");
  e.headers = headersFrom(o);
  e.body = bodyFrom(o);
  e.body_bytes = getU64(o, "body_bytes");
  e.body_digest = getStr(o, "body_digest");
  e.decision = getStr(o, "decision");
  e.rule_id = getStr(o, "rule");
  e.reason = getStr(o, "reason");
  e.review_id = getStr(o, "review");
  e.grant_id = getStr(o, "grant");
  e.approval_id = getStr(o, "approval");
  e.rpc_method = getStr(o, "rpc_method");
  e.tool = getStr(o, "tool");
  e.rpc_id = getStr(o, "rpc_id");
  return e;
}

McpMessageEvent mcpMessageFrom(const json::object& o) {
  return McpMessageEvent{.request_id = getU64(o, "req"),
                         .direction = getStr(o, "direction"),
                         .rpc_method = getStr(o, "rpc_method"),
                         .rpc_id = getStr(o, "rpc_id"),
                         .tool = getStr(o, "tool"),
                         .body = bodyFrom(o),
                         .raw_body = getSealed(o, "raw_body"),
                         .decision = getStr(o, "decision"),
                         .rule_id = getStr(o, "rule"),
                         .reason = getStr(o, "reason"),
                         .document_ids = getStrings(o, "documents")};
}

HttpResponseEvent responseFrom(const json::object& o) {
  HttpResponseEvent e;
  e.request_id = getU64(o, "req");
  e.status = static_cast<int>(getU64(o, "status"));
  e.headers = headersFrom(o);
  e.content_type = getStr(o, "content_type");
  e.body = bodyFrom(o);
  e.raw_body = getSealed(o, "raw_body");
  e.document_ids = getStrings(o, "documents");
  e.complete = getBool(o, "complete");
  e.bytes = getU64(o, "bytes");
  e.masked_values = maskedFrom(o);
  e.outcome = getStr(o, "outcome");
  e.unmasked_binary = getBool(o, "unmasked_binary");
  return e;
}

}  // namespace

void write(JsonWriter& w, const HttpRequestEvent& e, const Redactor& redact) {
  w.fieldU64("req", e.request_id);
  w.fieldIfSet("method", e.method);
  w.field("path", e.path);
  w.fieldIfSet("query", redact(scrubQuery(e.query)));
  w.fieldIfSet("route", e.route);
  writeHeaders(w, e.headers, redact);
  writeBody(w, e.body.empty() ? std::string() : redact(e.body));
  w.fieldU64IfSet("body_bytes", e.body_bytes);
  w.fieldIfSet("body_digest", e.body_digest);
  w.fieldIfSet("decision", e.decision);
  w.fieldIfSet("rule", e.rule_id);
  w.fieldIfSet("reason", e.reason.empty() ? std::string() : redact(e.reason));
  w.fieldIfSet("review", e.review_id);
  w.fieldIfSet("grant", e.grant_id);
  w.fieldIfSet("approval", e.approval_id);
  w.fieldIfSet("rpc_method", e.rpc_method);
  w.fieldIfSet("tool", e.tool);
  w.fieldIfSet("rpc_id", e.rpc_id);
}

void write(JsonWriter& w, const HttpResponseEvent& e, const Redactor& redact, const SealFn& seal) {
  w.fieldU64("req", e.request_id);
  w.key("status");
  w.i64(e.status);
  writeHeaders(w, e.headers, redact);
  w.fieldIfSet("content_type", e.content_type);
  writeBody(w, e.body);
  seal("http_response", "raw_body", e.raw_body);
  if (!e.document_ids.empty()) {
    writeStrings(w, "documents", e.document_ids);
  }
  if (e.complete) {
    w.key("complete");
    w.boolean(true);
    writeCompletion(w, e.bytes, e.masked_values, e.outcome, e.unmasked_binary);
  }
}

void write(JsonWriter& w, const HttpBodyEvent& e, const SealFn& seal) {
  w.fieldU64("req", e.request_id);
  writeBody(w, e.body);
  seal("http_body", "raw_body", e.raw_body);
  if (!e.document_ids.empty()) {
    writeStrings(w, "documents", e.document_ids);
  }
}

void write(JsonWriter& w, const HttpResponseEndEvent& e) {
  w.fieldU64("req", e.request_id);
  writeCompletion(w, e.bytes, e.masked_values, e.outcome, e.unmasked_binary);
}

void write(JsonWriter& w, const McpMessageEvent& e, const Redactor& redact, const SealFn& seal) {
  w.fieldU64IfSet("req", e.request_id);
  w.fieldIfSet("direction", e.direction);
  w.fieldIfSet("rpc_method", e.rpc_method);
  w.fieldIfSet("rpc_id", e.rpc_id);
  w.fieldIfSet("tool", e.tool);
  // A message from the client is free text it controls (scrubbed, like a request body); one to
  // the client is recorded as sent (already masked).
  writeBody(w, e.direction == "client" && !e.body.empty() ? redact(e.body) : e.body);
  seal("mcp_message", "raw_body", e.raw_body);
  w.fieldIfSet("decision", e.decision);
  w.fieldIfSet("rule", e.rule_id);
  w.fieldIfSet("reason", e.reason.empty() ? std::string() : redact(e.reason));
  if (!e.document_ids.empty()) {
    writeStrings(w, "documents", e.document_ids);
  }
}

std::optional<EventBody> decode(std::string_view type, const json::object& o) {
  if (type == "http_request") {
    return EventBody(requestFrom(o));
  }
  if (type == "http_response") {
    return EventBody(responseFrom(o));
  }
  if (type == "http_body") {
    return EventBody(HttpBodyEvent{.request_id = getU64(o, "req"),
                                   .body = bodyFrom(o),
                                   .raw_body = getSealed(o, "raw_body"),
                                   .document_ids = getStrings(o, "documents")});
  }
  if (type == "http_response_end") {
    return EventBody(HttpResponseEndEvent{.request_id = getU64(o, "req"),
                                          .bytes = getU64(o, "bytes"),
                                          .masked_values = maskedFrom(o),
                                          .outcome = getStr(o, "outcome"),
                                          .unmasked_binary = getBool(o, "unmasked_binary")});
  }
  if (type == "mcp_message") {
    return EventBody(mcpMessageFrom(o));
  }
  return std::nullopt;
}

}  // namespace jg::audit::http_codec
