// Bind parameter values as people read them: a value sent in binary format is decoded by its
// type into PostgreSQL's text form (int2/4/8, float4/8, bool, text types, json/jsonb, uuid,
// numeric, date, timestamp[tz], oid), bytea as \x hex, and a type this code does not decode as
// \x hex with a note saying so. Used to record parameters in the audit log. Stateless;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jg::pg {

struct ParamText {
  std::string text;  // the value in text form
  std::string note;  // "" for a text-format value; else how it was decoded
};

// `format` is the value's format code (0 text, 1 binary); `type_oid` its parameter type from the
// Parse or ParameterDescription (0 when unspecified).
ParamText paramText(std::string_view bytes, int16_t format, uint32_t type_oid);

// The format code of parameter `i` under a Bind's format list (none: all text; one: all alike).
int16_t paramFormat(const std::vector<int16_t>& formats, size_t i);

}  // namespace jg::pg
