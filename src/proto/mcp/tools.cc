// Tool results, fingerprints and pins (see tools.h).
#include "proto/mcp/tools.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <utility>

namespace jg::mcp {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 6> kFingerprintKeys = {
    "name", "title", "description", "inputSchema", "outputSchema", "annotations"};

void appendCanonical(const json::value& v, std::string& out);

void appendObject(const json::object& o, std::string& out) {
  std::vector<const json::key_value_pair*> members;
  members.reserve(o.size());
  for (const json::key_value_pair& kv : o) {
    members.push_back(&kv);
  }
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  out.push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out += json::serialize(json::string(members[i]->key()));
    out.push_back(':');
    appendCanonical(members[i]->value(), out);
  }
  out.push_back('}');
}

void appendCanonical(const json::value& v, std::string& out) {
  if (const json::object* o = v.if_object()) {
    appendObject(*o, out);
    return;
  }
  if (const json::array* a = v.if_array()) {
    out.push_back('[');
    for (size_t i = 0; i < a->size(); ++i) {
      if (i > 0) {
        out.push_back(',');
      }
      appendCanonical((*a)[i], out);
    }
    out.push_back(']');
    return;
  }
  if (v.is_double() && !std::isfinite(v.get_double())) {
    out += v.get_double() > 0 ? "1e999" : "-1e999";  // serialize() would write "Infinity"
    return;
  }
  out += json::serialize(v);
}

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xF]);
  }
  return hex;
}

std::string_view toolName(const json::value& tool) {
  const json::object* o = tool.if_object();
  const json::value* name = o != nullptr ? o->if_contains("name") : nullptr;
  if (name == nullptr || !name->is_string()) {
    return {};
  }
  return {name->get_string().data(), name->get_string().size()};
}

}  // namespace

boost::json::object toolResult(std::string text, boost::json::value structured, bool is_error) {
  json::object result{
      {"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}}};
  if (!structured.is_null()) {
    result["structuredContent"] = std::move(structured);
  }
  if (is_error) {
    result["isError"] = true;
  }
  return result;
}

std::string canonicalJson(const boost::json::value& v) {
  std::string out;
  appendCanonical(v, out);
  return out;
}

std::string toolFingerprint(const boost::json::object& tool) {
  json::object picked;
  for (std::string_view key : kFingerprintKeys) {
    if (const json::value* v = tool.if_contains(key)) {
      picked[key] = *v;
    }
  }
  return sha256Hex(canonicalJson(picked));
}

std::vector<ToolPins::Change> ToolPins::observe(const boost::json::array& tools) {
  std::vector<Change> changes;
  for (const json::value& tool : tools) {
    std::string_view name = toolName(tool);
    if (name.empty()) {
      continue;
    }
    std::string fingerprint = toolFingerprint(tool.get_object());
    auto it = pins_.find(name);
    if (it == pins_.end()) {
      pins_.emplace(std::string(name), Pin{.fingerprint = std::move(fingerprint)});
      continue;
    }
    if (it->second.fingerprint != fingerprint) {
      it->second.changed = true;
      changes.push_back(
          Change{.name = std::string(name), .was = it->second.fingerprint, .now = fingerprint});
    }
  }
  return changes;
}

bool ToolPins::pinned(std::string_view name) const {
  return pins_.find(name) != pins_.end();
}

bool ToolPins::trusted(std::string_view name) const {
  auto it = pins_.find(name);
  return it != pins_.end() && !it->second.changed;
}

size_t ToolPins::size() const {
  return pins_.size();
}

std::vector<std::string> filterTools(boost::json::array& tools,
                                     const std::function<bool(std::string_view)>& keep) {
  std::vector<std::string> removed;
  json::array kept;
  kept.reserve(tools.size());
  for (json::value& tool : tools) {
    std::string_view name = toolName(tool);
    if (!name.empty() && keep(name)) {
      kept.push_back(std::move(tool));
    } else {
      removed.emplace_back(name);
    }
  }
  tools = std::move(kept);
  return removed;
}

}  // namespace jg::mcp
