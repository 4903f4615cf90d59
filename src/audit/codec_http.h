// Record encoding of the HTTP events (http_request, http_response, http_body,
// http_response_end) and of mcp_message (docs/audit-format.md), used by codec.cc's encodeEvent and
// decodeEvent.
//
// Free text a client controls (the query string, header values, the request body) passes through
// the HTTP scrubbers (redact.h) and the recorder's redactor; response bodies are recorded as
// sent (already masked). Bodies that are not valid UTF-8 are stored as base64 (`body_b64`).
// Sealed fields go through the caller's seal function, so every raw payload takes the one
// sealing path of RawSealer. Internal to the audit module. Stateless; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string_view>

#include "audit/event.h"
#include "audit/json_writer.h"
#include "audit/redact.h"

namespace jg::audit::http_codec {

// Seals `raw` as field `key` of a record of type `type` (the AAD names both) and writes it.
using SealFn = std::function<void(std::string_view type, std::string_view key, const RawBytes&)>;

void write(JsonWriter& w, const HttpRequestEvent& e, const Redactor& redact);
void write(JsonWriter& w, const HttpResponseEvent& e, const Redactor& redact, const SealFn& seal);
void write(JsonWriter& w, const HttpBodyEvent& e, const SealFn& seal);
void write(JsonWriter& w, const HttpResponseEndEvent& e);
void write(JsonWriter& w, const McpMessageEvent& e, const Redactor& redact, const SealFn& seal);

// Decodes an http_* or mcp_message record; nullopt when `type` is neither.
std::optional<EventBody> decode(std::string_view type, const boost::json::object& o);

}  // namespace jg::audit::http_codec
