// Field helpers shared by the record encoders and decoders of codec.cc and codec_http.cc:
// lenient readers (a missing or mistyped field reads as empty/zero, as docs/audit-format.md
// requires) and writers for the composite fields (string lists, masked counts). Internal to the
// audit module. Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "audit/json_writer.h"

namespace jg::audit::fields {

std::string getStr(const boost::json::object& o, std::string_view key);
uint64_t getU64(const boost::json::object& o, std::string_view key);
bool getBool(const boost::json::object& o, std::string_view key);
std::vector<std::string> getStrings(const boost::json::object& o, std::string_view key);
// A sealed field: base64 in the record, RawBytes in sealed state (empty when absent or bad).
RawBytes getSealed(const boost::json::object& o, std::string_view key);
// The "masked" object: {label: count}.
std::map<std::string, uint64_t> maskedFrom(const boost::json::object& o);

void writeStrings(JsonWriter& w, std::string_view key, const std::vector<std::string>& v);
void writeMasked(JsonWriter& w, const std::map<std::string, uint64_t>& masked);

}  // namespace jg::audit::fields
