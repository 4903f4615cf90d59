// Record encoding: Event <-> the compact JSON object stored in the log (docs/audit-format.md).
//
// Encoding seals RawBytes fields with the segment's AES-256-GCM key (or drops them when raw
// payloads are off) and passes free-text fields through the redactor. Decoding returns events
// whose RawBytes are still sealed; RawOpener decrypts them for `replay --raw`. The AAD of a
// sealed field is "<session id>\0<record type>\0<field name>", so a ciphertext cannot be moved
// to another session or field without failing authentication. Stateless; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>

#include "audit/crypto.h"
#include "audit/event.h"
#include "audit/redact.h"

namespace jg::audit {

// Seals (or drops) raw payloads. The only code that reads RawBytes plaintext.
class RawSealer {
 public:
  // `key` empty means raw payloads are off: RawBytes fields are omitted from records.
  explicit RawSealer(std::optional<AeadKey> key) : key_(std::move(key)) {}
  bool enabled() const { return key_.has_value(); }
  const std::string& keyId() const;
  // Returns base64(sealed), or nullopt when disabled or empty.
  Result<std::optional<std::string>> seal(const RawBytes& raw, std::string_view aad) const;

 private:
  std::optional<AeadKey> key_;
};

std::string rawAad(std::string_view session_id, std::string_view type, std::string_view field);

// Serializes an event to its record bytes. `time` must already be set.
Result<std::string> encodeEvent(const Event& event, const RawSealer& sealer,
                                const Redactor& redact);

// Parses an event record (not a system record: segment_start and checkpoint are read by the
// verifier directly). Returns kNotFound for system records.
Result<Event> decodeEvent(const boost::json::object& record);

// Decrypts sealed fields with keys chosen by key id.
class RawOpener {
 public:
  void addKey(AeadKey key) { keys_.emplace(key.id(), std::move(key)); }
  bool hasKey(const std::string& id) const { return keys_.count(id) != 0; }
  Result<std::string> open(const RawBytes& raw, const std::string& key_id,
                           std::string_view aad) const;

 private:
  std::map<std::string, AeadKey> keys_;
};

// Raw rows and parameters are stored, once opened, as a JSON array of rows / values.
std::string rowsToJson(const std::vector<Row>& rows);
Result<std::vector<Row>> rowsFromJson(std::string_view json);

// `s` if it is valid UTF-8, else a copy with each invalid byte replaced by U+FFFD. Text that a
// client or server controls goes through this before it is recorded: a JSON record must stay
// parseable whatever bytes a peer sent.
std::string toValidUtf8(std::string_view s);

int64_t toMicros(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point fromMicros(int64_t us);

}  // namespace jg::audit
