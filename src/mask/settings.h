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
//     profiles:                          # selected by a policy's mask_profile
//       strict: { detectors: [...], strategy: hash, columns: [...] }
//
// A profile inherits every key it does not set from the top level. Custom detectors are
// enabled by naming them in `detectors` (or, when `detectors` is absent, always). Plain values;
// thread-compatible.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"

namespace jg::mask {

enum class Strategy { kRedact, kPartial, kHash, kTokenize, kNull };

std::string_view strategyName(Strategy s);
bool parseStrategy(std::string_view name, Strategy& out);

struct ColumnRule {
  std::string schema;  // empty: any schema
  std::string table;
  std::string column;
  Strategy strategy = Strategy::kRedact;
  int keep_last = 4;
  std::string label;  // counters key and redaction text; defaults to the upper-cased column
};

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
