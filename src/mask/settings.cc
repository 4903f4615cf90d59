#include "mask/settings.h"

#include <hs/hs.h>

#include <algorithm>
#include <cctype>

#include "mask/detectors.h"
#include "mask/validators.h"

namespace jg::mask {
namespace {

constexpr std::string_view kStrategyNames[] = {"redact", "partial", "hash", "tokenize", "null"};

// Items of a sequence node; a missing node has none, anything else is an error.
size_t items(const config::Node& n, config::Errors& errors) {
  if (!n.defined()) {
    return 0;
  }
  if (!n.isSequence()) {
    errors.add(n, "expected a list");
    return 0;
  }
  return n.size();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Strategy strategyAt(const config::Node& node, config::Errors& errors, Strategy def) {
  // `strategy: null` is YAML's null, not a missing key.
  if (node.raw().IsDefined() && node.raw().IsNull()) {
    return Strategy::kNull;
  }
  if (!node.defined()) {
    return def;
  }
  Strategy s = def;
  if (!parseStrategy(node.str(errors), s)) {
    errors.add(node, "unknown strategy (redact, partial, hash, tokenize, null)");
  }
  return s;
}

// Reports a pattern Vectorscan cannot compile where it was written.
void checkPattern(const config::Node& node, const std::string& pattern, unsigned flags,
                  config::Errors& errors) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(pattern.c_str(), flags, &info, &err) != HS_SUCCESS) {
    errors.add(node, std::string("invalid pattern: ") + (err ? err->message : "unknown error"));
    hs_free_compile_error(err);
    return;
  }
  if (info->min_width == 0) {
    errors.add(node, "pattern can match the empty string");
  }
  free(info);  // allocated by Vectorscan's default allocator (malloc)
}

CustomDetector parseCustom(const config::Node& n, config::Errors& errors) {
  n.checkKeys(errors, {"name", "label", "pattern", "validator", "context", "caseless"});
  CustomDetector d;
  d.name = n["name"].requiredStr(errors);
  d.label = upper(n["label"].str(errors, d.name));
  d.pattern = n["pattern"].requiredStr(errors);
  d.validator = n["validator"].str(errors);
  d.context = n["context"].strings(errors);
  d.caseless = n["caseless"].boolean(errors, false);
  if (!d.validator.empty() && validatorByName(d.validator) == nullptr) {
    errors.add(n["validator"],
               "unknown validator (luhn, card, iban, ssn, ipv4, ipv6, email, phone)");
  }
  if (findBuiltinDetector(d.name) != nullptr) {
    errors.add(n["name"], "a built-in detector already has this name");
  }
  if (!d.pattern.empty()) {
    checkPattern(n["pattern"], d.pattern, d.caseless ? HS_FLAG_CASELESS : 0, errors);
  }
  return d;
}

ColumnRule parseColumn(const config::Node& n, const ProfileSettings& base, config::Errors& errors) {
  n.checkKeys(errors, {"schema", "table", "column", "strategy", "keep_last", "label",
                       "through_expressions", "functions"});
  ColumnRule r;
  r.schema = n["schema"].str(errors);
  r.table = n["table"].requiredStr(errors);
  if (size_t dot = r.table.find('.'); dot != std::string::npos && r.schema.empty()) {
    r.schema = r.table.substr(0, dot);
    r.table = r.table.substr(dot + 1);
  }
  r.column = n["column"].requiredStr(errors);
  r.strategy = strategyAt(n["strategy"], errors, Strategy::kRedact);
  r.keep_last = static_cast<int>(n["keep_last"].integer(errors, base.keep_last, 0, 64));
  r.label = upper(n["label"].str(errors, r.column));
  r.through_expressions =
      n["through_expressions"].oneOf(errors, {"mask", "refuse"}, "mask") == "refuse"
          ? ThroughExpressions::kRefuse
          : ThroughExpressions::kMask;
  if (n.has("functions")) {
    r.functions = n["functions"].strings(errors);
  }
  return r;
}

void parseProfile(const config::Node& n, const ProfileSettings& base, ProfileSettings& p,
                  config::Errors& errors) {
  p = base;
  if (n.has("detectors")) {
    p.detectors = n["detectors"].strings(errors);
  }
  p.detector_strategy = strategyAt(n["strategy"], errors, base.detector_strategy);
  p.keep_last = static_cast<int>(n["keep_last"].integer(errors, base.keep_last, 0, 64));
  if (n.has("columns")) {
    p.columns.clear();
    config::Node cols = n["columns"];
    for (size_t i = 0, n_cols = items(cols, errors); i < n_cols; ++i) {
      p.columns.push_back(parseColumn(cols.at(i), p, errors));
    }
  }
}

void checkDetectorNames(const config::Node& n, const ProfileSettings& p,
                        const std::vector<CustomDetector>& custom, config::Errors& errors) {
  for (const std::string& name : p.detectors) {
    bool known = findBuiltinDetector(name) != nullptr ||
                 std::any_of(custom.begin(), custom.end(),
                             [&](const CustomDetector& c) { return c.name == name; });
    if (!known) {
      errors.add(n["detectors"], "unknown detector '" + name + "'");
    }
  }
}

}  // namespace

std::string_view strategyName(Strategy s) {
  return kStrategyNames[static_cast<int>(s)];
}

bool parseStrategy(std::string_view name, Strategy& out) {
  for (size_t i = 0; i < std::size(kStrategyNames); ++i) {
    if (kStrategyNames[i] == name) {
      out = static_cast<Strategy>(i);
      return true;
    }
  }
  return false;
}

bool ColumnRule::allows(std::string_view function) const {
  return !functions ||
         std::find(functions->begin(), functions->end(), function) != functions->end();
}

int strictness(Strategy s) {
  switch (s) {
    case Strategy::kNull:
      return 4;
    case Strategy::kRedact:
      return 3;
    case Strategy::kHash:
    case Strategy::kTokenize:
      return 2;
    case Strategy::kPartial:
      return 1;
  }
  return 4;
}

const ColumnRule* stricter(const ColumnRule* a, const ColumnRule* b) {
  if (a == nullptr || b == nullptr) {
    return a != nullptr ? a : b;
  }
  return strictness(b->strategy) > strictness(a->strategy) ? b : a;
}

bool Settings::needsKey() const {
  auto uses = [](const ProfileSettings& p) {
    if (p.detector_strategy == Strategy::kHash || p.detector_strategy == Strategy::kTokenize) {
      return true;
    }
    return std::any_of(p.columns.begin(), p.columns.end(), [](const ColumnRule& r) {
      return r.strategy == Strategy::kHash || r.strategy == Strategy::kTokenize;
    });
  };
  if (uses(defaults)) {
    return true;
  }
  return std::any_of(profiles.begin(), profiles.end(),
                     [&](const auto& kv) { return uses(kv.second); });
}

Settings parseSettings(const config::Node& section, config::Errors& errors) {
  Settings s;
  if (!section.defined()) {
    s.defaults.detectors = builtinDetectorNames();
    return s;
  }
  section.checkKeys(errors, {"key_file", "on_error", "detectors", "strategy", "keep_last", "custom",
                             "columns", "profiles"});
  section["on_error"].oneOf(errors, {"fail_closed"}, "fail_closed");
  s.key_file = section["key_file"].path(errors);
  config::Node custom = section["custom"];
  for (size_t i = 0, n = items(custom, errors); i < n; ++i) {
    s.custom.push_back(parseCustom(custom.at(i), errors));
  }
  ProfileSettings root;
  root.detectors = builtinDetectorNames();
  for (const CustomDetector& c : s.custom) {
    root.detectors.push_back(c.name);
  }
  parseProfile(section, root, s.defaults, errors);
  checkDetectorNames(section, s.defaults, s.custom, errors);
  config::Node profiles = section["profiles"];
  for (const std::string& name : profiles.keys()) {
    config::Node p = profiles[name];
    p.checkKeys(errors, {"detectors", "strategy", "keep_last", "columns"});
    parseProfile(p, s.defaults, s.profiles[name], errors);
    checkDetectorNames(p, s.profiles[name], s.custom, errors);
  }
  if (s.needsKey() && s.key_file.empty()) {
    errors.add(section, "hash and tokenize need key_file");
  }
  return s;
}

}  // namespace jg::mask
