// Record encoding: Event <-> the compact JSON object stored in the log (docs/audit-format.md).
//
// Encoding writes the JSON directly (JsonWriter, no DOM), seals RawBytes fields with the
// segment's AES-256-GCM key (or drops them when raw payloads are off) and passes free-text
// fields through the redactor. Decoding returns events whose RawBytes are still sealed;
// RawOpener decrypts them for `replay --raw`. The AAD of a sealed field is
// "<session id>\0<record type>\0<field name>", so a ciphertext cannot be moved to another
// session or field without failing authentication (raw rows of a `result` record use the type
// "result_rows", the record they stand for). Stateless; thread-safe.
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
// verifier directly). Returns kNotFound for system records. A `result` record decodes to a
// ResultEvent.
Result<Event> decodeEvent(const boost::json::object& record);

// The events a record stands for: a ResultEvent becomes its result_start, result_rows and
// result_end; any other event is returned as is.
std::vector<Event> splitEvent(Event event);
// The same for stored records: a `result` record becomes the three records it stands for
// (each with its ts, sid and stmt; result_end's `rows` is the row count); others are copied.
std::vector<boost::json::object> splitRecord(const boost::json::object& record);

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

// Raw rows and parameters are stored, once opened, as a JSON array of rows / values. In raw
// rows (format 2) an entry may be null: masking left that row as sent, so the raw row is the
// sent row at the same index; rawRowsView() resolves that against the sent rows.
std::string rowsToJson(const std::vector<Row>& rows);
std::string rawRowsToJson(const RawRows& rows);
// Bind parameters: a one-row array.
std::string paramsToJson(const std::vector<std::optional<std::string>>& values);
Result<std::vector<Row>> rowsFromJson(std::string_view json);
// The rows before masking, given the opened raw rows and the rows as sent.
Result<std::vector<Row>> rawRowsView(std::string_view raw_json, const std::vector<Row>& sent);

// `s` if it is valid UTF-8, else a copy with each invalid byte replaced by U+FFFD. Text that a
// client or server controls goes through this before it is recorded: a JSON record must stay
// parseable whatever bytes a peer sent.
std::string toValidUtf8(std::string_view s);

int64_t toMicros(std::chrono::system_clock::time_point t);
// Saturates at the clock's range (about the years 1678 to 2262): a record's `ts` is read, never
// trusted to fit.
std::chrono::system_clock::time_point fromMicros(int64_t us);

}  // namespace jg::audit
