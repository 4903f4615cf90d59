// Masking configuration: which detectors run, what happens to a match, which columns are masked
// whatever their content, and where the keyed-hash key lives.
//
//   masking:
//     key_file: /etc/jitgate/mask.key    # HMAC key for hash/tokenize (never inline)
//     on_error: fail_closed              # the only mode; anything else is rejected
//     detectors: [email, phone, credit_card]   # default: every built-in; [] disables
//     strategy: redact                   # what a detector match becomes
//     keep_last: 4                       # for partial
//     custom:
//       - { name: employee_id, label: EMPLOYEE_ID, pattern: 'EMP-\d{6}',
//           validator: luhn, context: [employee, staff], caseless: false }
//     columns:
//       - { table: crm.customers, column: email, strategy: tokenize }
//       - { schema: crm, table: customers, column: card, strategy: partial, keep_last: 4 }
//       - { table: crm.customers, column: note, strategy: redact,
//           through_expressions: refuse,        # or mask (default): see below
//           functions: [lower, upper, length, "="] }
//     profiles:                          # selected by a policy's mask_profile
//       strict: { detectors: [...], strategy: hash, columns: [...] }
//
// A column rule also covers values computed from its column (lower(note), a UNION, to_json(row):
// sql/lineage.h). `through_expressions: mask` applies the rule's strategy to the whole computed
// value; `refuse` refuses the statement instead. `functions`, when present, lists the functions
// and operators a statement may apply to the column (anywhere: result, WHERE, ORDER BY); any other
// is refused. With several rules on one value the strictest strategy wins (strictness()).
//
// A profile inherits every key it does not set from the top level. Custom detectors are
// enabled by naming them in `detectors` (or, when `detectors` is absent, always). Plain values;
// thread-compatible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"

namespace jg::mask {

enum class Strategy { kRedact, kPartial, kHash, kTokenize, kNull };

std::string_view strategyName(Strategy s);
bool parseStrategy(std::string_view name, Strategy& out);

// What a column rule does to a value computed from its column (not the column itself).
enum class ThroughExpressions { kMask, kRefuse };

struct ColumnRule {
  std::string schema;  // empty: any schema
  std::string table;
  std::string column;
  Strategy strategy = Strategy::kRedact;
  int keep_last = 4;
  std::string label;  // counters key and redaction text; defaults to the upper-cased column
  ThroughExpressions through_expressions = ThroughExpressions::kMask;
  // The functions and operators statements may apply to the column, as the parser folds names
  // (`lower`, `||`, `~~` for LIKE); absent: any.
  std::optional<std::vector<std::string>> functions = std::nullopt;

  bool allows(std::string_view function) const;
};

// How much of a value a strategy hides: null (4) > redact (3) > hash = tokenize (2) > partial (1).
int strictness(Strategy s);
// The stricter of two rules (either may be null); on a tie, `a`.
const ColumnRule* stricter(const ColumnRule* a, const ColumnRule* b);

struct CustomDetector {
  std::string name;
  std::string label;
  std::string pattern;    // Vectorscan syntax
  std::string validator;  // optional: a name from validatorByName()
  std::vector<std::string> context;
  bool caseless = false;
};

struct ProfileSettings {
  std::vector<std::string> detectors;  // built-in or custom names
  Strategy detector_strategy = Strategy::kRedact;
  int keep_last = 4;
  std::vector<ColumnRule> columns;
};

struct Settings {
  ProfileSettings defaults;
  std::map<std::string, ProfileSettings> profiles;
  std::vector<CustomDetector> custom;
  std::string key_file;

  // True when some profile hashes or tokenizes (a key is then required).
  bool needsKey() const;
};

Settings parseSettings(const config::Node& section, config::Errors& errors);

}  // namespace jg::mask
