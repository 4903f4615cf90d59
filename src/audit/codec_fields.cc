#include "audit/codec_fields.h"

#include "audit/crypto.h"

namespace jg::audit {
namespace json = boost::json;
namespace fields {

std::string getStr(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return (v && v->is_string()) ? std::string(v->as_string()) : std::string();
}
uint64_t getU64(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (v && v->is_uint64()) {
    return v->as_uint64();
  }
  return (v && v->is_int64() && v->as_int64() >= 0) ? static_cast<uint64_t>(v->as_int64()) : 0;
}
std::vector<std::string> getStrings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (v && v->is_array()) {
    for (const auto& x : v->as_array()) {
      if (x.is_string()) {
        out.emplace_back(x.as_string());
      }
    }
  }
  return out;
}
RawBytes getSealed(const json::object& o, std::string_view key) {
  std::string b64 = getStr(o, key);
  if (b64.empty()) {
    return {};
  }
  auto raw = base64Decode(b64);
  return raw ? RawBytes::sealedFrom(std::move(*raw)) : RawBytes();
}

void writeStrings(JsonWriter& w, std::string_view key, const std::vector<std::string>& v) {
  w.key(key);
  w.beginArray();
  for (const auto& s : v) {
    w.str(s);
  }
  w.endArray();
}

bool getBool(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

void writeMasked(JsonWriter& w, const std::map<std::string, uint64_t>& masked) {
  w.key("masked");
  w.beginObject();
  for (const auto& [label, n] : masked) {
    w.fieldU64(label, n);
  }
  w.endObject();
}

std::map<std::string, uint64_t> maskedFrom(const json::object& o) {
  std::map<std::string, uint64_t> out;
  if (auto* m = o.if_contains("masked"); m && m->is_object()) {
    for (const auto& kv : m->as_object()) {
      out[std::string(kv.key())] = kv.value().is_uint64()  ? kv.value().as_uint64()
                                   : kv.value().is_int64() ? kv.value().as_int64()
                                                           : 0;
    }
  }
  return out;
}

}  // namespace fields

}  // namespace jg::audit
