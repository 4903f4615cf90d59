// Column plans: how each result column is masked, decided once per RowDescription column from
// its type OID, its format code and the column rule (if any), so the per-row work is a switch.
//
// The type rules:
//  - text format: every type. Text-like types are masked in place. A non-text type (int8,
//    timestamp, inet, ...) whose value a detector matches becomes NULL — never a string the
//    client would fail to decode as that type. A column rule on a non-text type produces a
//    string; output_type_oid is then 25 (text) and the session must announce that type in the
//    RowDescription it forwards.
//  - binary format: text-like types (text, varchar, bpchar, name, json, xml, jsonb with its
//    version byte) are masked in place. A non-text type under a column rule becomes NULL.
//    Detectors also look at binary int2/int4/int8 (a card number stored as bigint). Every
//    other value (records, tsvector, bytea, arrays of other types, user-defined types) is
//    scanned as raw bytes — text inside them is contiguous — and becomes NULL on a match.
//  - bytea in text format is scanned once decoded from hex.
//  - arrays of text-like types in both formats are masked element by element.
//  - json/jsonb are masked inside string values (and keys; numbers a detector matches become
//    strings) and stay valid JSON.
// Plain values; thread-compatible.
#pragma once

#include <cstdint>

#include "mask/engine.h"
#include "mask/settings.h"

namespace jg::mask {

namespace oid {
inline constexpr uint32_t kBool = 16, kBytea = 17, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
                          kText = 25, kJson = 114, kXml = 142, kJsonArray = 199, kNameArray = 1003,
                          kBpcharArray = 1014, kVarcharArray = 1015, kTextArray = 1009,
                          kBpchar = 1042, kVarchar = 1043, kJsonb = 3802, kJsonbArray = 3807;
}  // namespace oid

enum class Action { kNone, kDetect, kRule };

enum class ValueKind {
  kText,         // text-like bytes (either format; also type OID 0 = unknown, e.g. COPY)
  kJson,         // json text (json in either format, jsonb in text format)
  kJsonbBinary,  // version byte 1 + json text
  kTextArray,    // array of text-like elements, text format
  kBinaryArray,  // array of text-like elements, binary format
  kOtherText,    // non-text type, text format
  kOtherBinary,  // non-text type, binary format
};

struct ColumnPlan {
  const Profile* profile = nullptr;
  Action action = Action::kNone;
  const ColumnRule* rule = nullptr;
  uint32_t type_oid = 0;
  int16_t format = 0;  // 0 text, 1 binary
  ValueKind kind = ValueKind::kText;
  uint32_t element_oid = 0;  // arrays
  bool element_json = false;
  // The type the client must be told in RowDescription (differs from type_oid only as
  // described above).
  uint32_t output_type_oid = 0;
};

// True for the text-like scalar types masked in place in binary format.
bool isTextLike(uint32_t type_oid);
// The element type of the arrays of text-like types we mask, or 0.
uint32_t textArrayElement(uint32_t array_oid);

// REQUIRES: `profile` and `rule` (if not null) outlive the plan.
ColumnPlan planColumn(const Profile& profile, uint32_t type_oid, int16_t format,
                      const ColumnRule* rule);

}  // namespace jg::mask
