#include "audit/event.h"

#include <openssl/evp.h>

#include "audit/codec.h"
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
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return toHex(std::string_view(reinterpret_cast<const char*>(md), len));
}

void StatementEvent::setParams(const std::vector<std::optional<std::string>>& values) {
  param_digests.clear();
  for (const auto& v : values) {
    param_digests.push_back(v ? sha256Hex(*v) : std::string());
  }
  params = RawBytes::plain(rowsToJson({Row(values.begin(), values.end())}));
}

void ResultRowsEvent::setRawRows(const std::vector<Row>& raw) {
  raw_rows = RawBytes::plain(rowsToJson(raw));
}

std::string_view typeName(const EventBody& body) {
  static constexpr std::string_view kNames[] = {
      "connect", "auth",   "statement",   "result_start", "result_rows", "result_end",
      "error",   "cancel", "session_end", "replay",       "access"};
  return kNames[body.index()];
}

}  // namespace jg::audit
