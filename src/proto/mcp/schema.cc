// The JSON Schema subset of tool input schemas (see schema.h).
#include "proto/mcp/schema.h"

#include <array>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

namespace jg::mcp {
namespace {

namespace json = boost::json;
using Violation = std::optional<std::string>;

// Schema text quoted in messages (enum lists, constants) is cut here.
constexpr size_t kMaxQuoted = 120;

bool isIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) {
    return true;
  }
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::floor(v.get_double()) == v.get_double();
}

double asDouble(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

std::string numberText(const json::value& v) {
  if (!v.is_double()) {
    return json::serialize(v);
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
  return ec == std::errc() ? std::string(buf, end) : json::serialize(v);
}

std::string quoted(const json::value& v) {
  std::string text = json::serialize(v);
  if (text.size() > kMaxQuoted) {
    text.resize(kMaxQuoted);
    text += "...";
  }
  return text;
}

std::string_view typeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
    default:
      return isIntegral(v) ? "integer" : "number";
  }
}

// Whether `v` is of JSON Schema type `name`; nullopt for a name JSON Schema does not define.
std::optional<bool> hasType(std::string_view name, const json::value& v) {
  if (name == "number") {
    return v.is_number();
  }
  if (name == "integer") {
    return v.is_number() && isIntegral(v);
  }
  for (std::string_view plain : {"null", "boolean", "string", "array", "object"}) {
    if (name == plain) {
      return typeName(v) == plain;
    }
  }
  return std::nullopt;
}

// JSON equality as JSON Schema defines it: numbers by value, objects regardless of key order.
bool jsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int64() && b.is_int64()) {
      return a.get_int64() == b.get_int64();
    }
    if (!a.is_double() && !b.is_double()) {
      return a == b;  // int64 against uint64: Boost.JSON compares the values
    }
    return asDouble(a) == asDouble(b);
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  if (a.is_array()) {
    const json::array &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) {
      return false;
    }
    for (size_t i = 0; i < x.size(); ++i) {
      if (!jsonEqual(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  if (a.is_object()) {
    const json::object &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) {
      return false;
    }
    for (const json::key_value_pair& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !jsonEqual(kv.value(), *other)) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

size_t codePoints(const json::string& s) {
  size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return n;
}

std::string childPointer(const std::string& ptr, std::string_view key) {
  std::string out = ptr + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Violation fail(const std::string& ptr, std::string what) {
  return (ptr.empty() ? std::string("(root)") : ptr) + ": " + what;
}

// A non-negative integer keyword (minLength, maxItems...); false when malformed.
bool readCount(const json::object& s, std::string_view key, std::optional<uint64_t>& out) {
  const json::value* v = s.if_contains(key);
  if (v == nullptr) {
    return true;
  }
  if (!v->is_number() || !isIntegral(*v) || asDouble(*v) < 0) {
    return false;
  }
  if (!v->is_double()) {
    out = v->to_number<uint64_t>();
  } else if (v->get_double() >= 18446744073709551616.0) {  // 2^64: beyond any count
    out = std::numeric_limits<uint64_t>::max();
  } else {
    out = static_cast<uint64_t>(v->get_double());
  }
  return true;
}

// A $ref inside the same document: "#" followed by a JSON pointer.
const json::value* resolve(const json::value& root, std::string_view ref) {
  if (ref.empty() || ref[0] != '#') {
    return nullptr;
  }
  ref.remove_prefix(1);
  const json::value* at = &root;
  while (!ref.empty()) {
    if (ref[0] != '/') {
      return nullptr;
    }
    ref.remove_prefix(1);
    size_t end = std::min(ref.find('/'), ref.size());
    std::string token;
    for (size_t i = 0; i < end; ++i) {
      if (ref[i] == '~' && i + 1 < end && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
        token.push_back(ref[++i] == '0' ? '~' : '/');
      } else {
        token.push_back(ref[i]);
      }
    }
    ref.remove_prefix(end);
    const json::object* o = at->if_object();
    at = o != nullptr ? o->if_contains(token) : nullptr;
    if (at == nullptr) {
      return nullptr;
    }
  }
  return at;
}

// Applies a schema to an instance. Errors of the schema itself (malformed keywords, unknown
// types, unresolved $ref, the depth and step bounds) are also kept aside: one found anywhere,
// even under `not` or in an anyOf alternative, makes the whole validation fail.
class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  // The first error of the schema itself met during check().
  const Violation& schemaFailure() const { return schema_failure_; }

  Violation check(const json::value& schema, const json::value& v, const std::string& ptr,
                  size_t depth) const {
    if (schema_failure_) {
      return schema_failure_;  // the outcome is decided: stop walking
    }
    if (++steps_ > kMaxSchemaSteps) {
      return schemaError(ptr, "checking the arguments takes more than " +
                                  std::to_string(kMaxSchemaSteps) + " schema steps");
    }
    if (depth > kMaxSchemaDepth) {
      return schemaError(
          ptr, "the schema nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (schema.is_bool()) {
      return schema.get_bool() ? Violation() : fail(ptr, "no value is allowed here");
    }
    const json::object* s = schema.if_object();
    if (s == nullptr) {
      return schemaError(ptr, "the schema is neither an object nor a boolean");
    }
    Violation r = checkType(*s, v, ptr);
    if (!r) {
      r = checkValue(*s, v, ptr);
    }
    if (!r) {
      r = checkNumber(*s, v, ptr);
    }
    if (!r) {
      r = checkString(*s, v, ptr);
    }
    if (!r) {
      r = checkArray(*s, v, ptr, depth);
    }
    if (!r) {
      r = checkObject(*s, v, ptr, depth);
    }
    if (!r) {
      r = checkCombinators(*s, v, ptr, depth);
    }
    if (!r) {
      r = checkRef(*s, v, ptr, depth);
    }
    return r;
  }

 private:
  Violation checkType(const json::object& s, const json::value& v, const std::string& ptr) const {
    const json::value* type = s.if_contains("type");
    if (type == nullptr) {
      return std::nullopt;
    }
    json::array names = type->is_array() ? type->get_array() : json::array{*type};
    std::string expected;
    for (const json::value& name : names) {
      if (!name.is_string()) {
        return malformed(ptr, "type");
      }
      std::string_view n(name.get_string().data(), name.get_string().size());
      std::optional<bool> matches = hasType(n, v);
      if (!matches) {
        return schemaError(ptr, "the schema names an unknown type \"" + std::string(n) + "\"");
      }
      if (*matches) {
        return std::nullopt;
      }
      expected += (expected.empty() ? "" : " or ") + std::string(n);
    }
    if (names.empty()) {
      return malformed(ptr, "type");
    }
    return fail(ptr, "expected " + expected + ", got " + std::string(typeName(v)));
  }

  // enum and const. The instance itself is not quoted: it may be a secret.
  Violation checkValue(const json::object& s, const json::value& v, const std::string& ptr) const {
    if (const json::value* e = s.if_contains("enum")) {
      if (!e->is_array()) {
        return malformed(ptr, "enum");
      }
      bool found = false;
      for (const json::value& option : e->get_array()) {
        found = found || jsonEqual(option, v);
      }
      if (!found) {
        return fail(ptr, "the value is not one of the allowed values " + quoted(*e));
      }
    }
    if (const json::value* c = s.if_contains("const"); c != nullptr && !jsonEqual(*c, v)) {
      return fail(ptr, "the value is not the constant " + quoted(*c));
    }
    return std::nullopt;
  }

  Violation checkNumber(const json::object& s, const json::value& v, const std::string& ptr) const {
    if (!v.is_number()) {
      return std::nullopt;
    }
    struct Bound {
      std::string_view keyword;
      bool (*ok)(double, double);
      std::string_view what;
    };
    static constexpr std::array<Bound, 4> kBounds = {{
        {"minimum", [](double x, double b) { return x >= b; }, "is below the minimum"},
        {"maximum", [](double x, double b) { return x <= b; }, "is above the maximum"},
        {"exclusiveMinimum", [](double x, double b) { return x > b; },
         "is not above the exclusive minimum"},
        {"exclusiveMaximum", [](double x, double b) { return x < b; },
         "is not below the exclusive maximum"},
    }};
    for (const Bound& bound : kBounds) {
      const json::value* b = s.if_contains(bound.keyword);
      if (b == nullptr) {
        continue;
      }
      if (!b->is_number()) {
        return malformed(ptr, bound.keyword);
      }
      if (!bound.ok(asDouble(v), asDouble(*b))) {
        return fail(ptr, numberText(v) + " " + std::string(bound.what) + " " + numberText(*b));
      }
    }
    return std::nullopt;
  }

  Violation checkString(const json::object& s, const json::value& v, const std::string& ptr) const {
    std::optional<uint64_t> min, max;
    if (!readCount(s, "minLength", min)) {
      return malformed(ptr, "minLength");
    }
    if (!readCount(s, "maxLength", max)) {
      return malformed(ptr, "maxLength");
    }
    if (!v.is_string()) {
      return std::nullopt;
    }
    size_t n = codePoints(v.get_string());
    if (min && n < *min) {
      return fail(ptr, "length " + std::to_string(n) + " is below the minimum length " +
                           std::to_string(*min));
    }
    if (max && n > *max) {
      return fail(ptr, "length " + std::to_string(n) + " is above the maximum length " +
                           std::to_string(*max));
    }
    return std::nullopt;
  }

  Violation checkArray(const json::object& s, const json::value& v, const std::string& ptr,
                       size_t depth) const {
    std::optional<uint64_t> min, max;
    if (!readCount(s, "minItems", min)) {
      return malformed(ptr, "minItems");
    }
    if (!readCount(s, "maxItems", max)) {
      return malformed(ptr, "maxItems");
    }
    const json::value* items = s.if_contains("items");
    if (items != nullptr && !items->is_object() && !items->is_bool()) {
      return malformed(ptr, "items");
    }
    const json::array* a = v.if_array();
    if (a == nullptr) {
      return std::nullopt;
    }
    if (min && a->size() < *min) {
      return fail(ptr, std::to_string(a->size()) + " items are fewer than the minimum " +
                           std::to_string(*min));
    }
    if (max && a->size() > *max) {
      return fail(ptr, std::to_string(a->size()) + " items are more than the maximum " +
                           std::to_string(*max));
    }
    for (size_t i = 0; items != nullptr && i < a->size(); ++i) {
      if (Violation r = check(*items, (*a)[i], ptr + "/" + std::to_string(i), depth + 1)) {
        return r;
      }
    }
    return std::nullopt;
  }

  Violation checkObject(const json::object& s, const json::value& v, const std::string& ptr,
                        size_t depth) const {
    const json::value* required = s.if_contains("required");
    const json::value* properties = s.if_contains("properties");
    const json::value* additional = s.if_contains("additionalProperties");
    if (required != nullptr && !required->is_array()) {
      return malformed(ptr, "required");
    }
    if (properties != nullptr && !properties->is_object()) {
      return malformed(ptr, "properties");
    }
    if (additional != nullptr && !additional->is_object() && !additional->is_bool()) {
      return malformed(ptr, "additionalProperties");
    }
    const json::object* o = v.if_object();
    if (o == nullptr) {
      return std::nullopt;
    }
    static const json::array kNone;
    for (const json::value& name : required != nullptr ? required->get_array() : kNone) {
      if (!name.is_string()) {
        return malformed(ptr, "required");
      }
      if (!o->contains(name.get_string())) {
        return fail(ptr, "the required property " + json::serialize(name) + " is missing");
      }
    }
    return checkMembers(*o, properties, additional, ptr, depth);
  }

  // Each member against its properties schema, or else additionalProperties.
  Violation checkMembers(const json::object& o, const json::value* properties,
                         const json::value* additional, const std::string& ptr,
                         size_t depth) const {
    for (const json::key_value_pair& member : o) {
      const json::value* sub =
          properties != nullptr ? properties->get_object().if_contains(member.key()) : nullptr;
      if (sub == nullptr) {
        sub = additional;
      }
      if (sub == nullptr) {
        continue;
      }
      std::string child = childPointer(ptr, member.key());
      if (sub->is_bool() && !sub->get_bool() && sub == additional) {
        return fail(child, "the property is not allowed");
      }
      if (Violation r = check(*sub, member.value(), child, depth + 1)) {
        return r;
      }
    }
    return std::nullopt;
  }

  Violation checkCombinators(const json::object& s, const json::value& v, const std::string& ptr,
                             size_t depth) const {
    for (std::string_view keyword : {"allOf", "anyOf", "oneOf"}) {
      const json::value* list = s.if_contains(keyword);
      if (list == nullptr) {
        continue;
      }
      if (!list->is_array() || list->get_array().empty()) {
        return malformed(ptr, keyword);
      }
      if (Violation r = checkList(keyword, list->get_array(), v, ptr, depth)) {
        return r;
      }
    }
    if (const json::value* n = s.if_contains("not")) {
      if (!n->is_object() && !n->is_bool()) {
        return malformed(ptr, "not");
      }
      if (!check(*n, v, ptr, depth + 1)) {
        return fail(ptr, "the value matches the schema in not");
      }
    }
    return std::nullopt;
  }

  Violation checkList(std::string_view keyword, const json::array& list, const json::value& v,
                      const std::string& ptr, size_t depth) const {
    size_t matches = 0;
    Violation first;
    for (const json::value& sub : list) {
      Violation r = check(sub, v, ptr, depth + 1);
      if (r && keyword == "allOf") {
        return r;
      }
      if (!r && keyword == "anyOf") {
        return std::nullopt;
      }
      matches += !r;
      if (r && !first) {
        first = std::move(r);
      }
    }
    if (keyword == "allOf" || matches == 1) {
      return std::nullopt;
    }
    if (matches == 0) {
      return fail(ptr, "the value matches none of the schemas in " + std::string(keyword) +
                           " (the first says \"" + *first + "\")");
    }
    return fail(ptr, "the value matches " + std::to_string(matches) +
                         " of the schemas in oneOf, not exactly one");
  }

  Violation checkRef(const json::object& s, const json::value& v, const std::string& ptr,
                     size_t depth) const {
    const json::value* ref = s.if_contains("$ref");
    if (ref == nullptr) {
      return std::nullopt;
    }
    if (!ref->is_string()) {
      return malformed(ptr, "$ref");
    }
    std::string_view target(ref->get_string().data(), ref->get_string().size());
    const json::value* resolved = resolve(root_, target);
    if (resolved == nullptr) {
      return schemaError(ptr, "the schema's $ref " + quoted(*ref) + " does not resolve");
    }
    return check(*resolved, v, ptr, depth + 1);
  }

  Violation schemaError(const std::string& ptr, std::string what) const {
    Violation v = fail(ptr, std::move(what));
    if (!schema_failure_) {
      schema_failure_ = v;
    }
    return v;
  }

  Violation malformed(const std::string& ptr, std::string_view keyword) const {
    return schemaError(ptr, "the schema's " + std::string(keyword) + " is malformed");
  }

  const json::value& root_;
  mutable Violation schema_failure_;
  mutable size_t steps_ = 0;  // schema applications so far, against kMaxSchemaSteps
};

}  // namespace

std::optional<std::string> validateArguments(const boost::json::value& schema,
                                             const boost::json::value& instance) {
  Validator validator(schema);
  Violation r = validator.check(schema, instance, "", 0);
  return validator.schemaFailure() ? validator.schemaFailure() : r;
}

}  // namespace jg::mcp
