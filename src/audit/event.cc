#include "audit/event.h"

#include "audit/codec.h"
#include "audit/crypto.h"
#include "core/random.h"

namespace jg::audit {

RawBytes RawBytes::plain(std::string bytes) {
  RawBytes r;
  r.state_ = State::kPlain;
  r.bytes_ = std::move(bytes);
  return r;
}

RawBytes RawBytes::sealedFrom(std::string sealed) {
  RawBytes r;
  r.state_ = State::kSealed;
  r.bytes_ = std::move(sealed);
  return r;
}

Principal Principal::from(const identity::Identity& id) {
  Principal p;
  p.issuer = id.issuer;
  p.subject = id.subject;
  p.email = id.email;
  p.name = id.name;
  p.client_id = id.client_id;
  p.groups = id.groups;
  p.service_account = id.service_account;
  return p;
}

std::string sha256Hex(std::string_view data) {
  Hash h = sha256(data);
  return toHex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

void StatementEvent::setParams(const std::vector<std::optional<std::string>>& values) {
  param_digests.clear();
  param_digests.reserve(values.size());
  for (const auto& v : values) {
    param_digests.push_back(v ? sha256Hex(*v) : std::string());
  }
  params = RawBytes::plain(paramsToJson(values));
}

void ResultRowsEvent::setRawRows(const std::vector<Row>& raw) {
  raw_rows = RawBytes::plain(rowsToJson(raw));
}

void ResultRowsEvent::setChangedRawRows(const RawRows& raw) {
  raw_rows = RawBytes::plain(rawRowsToJson(raw));
}

void ResultEvent::setChangedRawRows(const RawRows& raw) {
  raw_rows = RawBytes::plain(rawRowsToJson(raw));
}

std::string_view typeName(const EventBody& body) {
  static constexpr std::string_view kNames[] = {
      "connect",      "auth",          "statement", "result_start",
      "result_rows",  "result_end",    "error",     "cancel",
      "session_end",  "replay",        "access",    "result",
      "http_request", "http_response", "http_body", "http_response_end",
      "mcp_message"};
  static_assert(std::size(kNames) == std::variant_size_v<EventBody>);
  return kNames[body.index()];
}

}  // namespace jg::audit
