// `jitgate policy explain --json`: the explanation as one JSON object, for scripts and editors.
// The text explanation (cmd_policy.cc) and this one are computed the same way; only the
// rendering differs. Main thread only.
//
// {"identity": {...}, "resource": "kb",
//  "statements": [{"text", "kind", "does", "writes", "locks", "tables": [{"name", "write"}],
//                  "columns", "functions", "rules": ["..."], "decision": {...},
//                  "masking": {"ok", "error"?, "outputs": [{"name", "sources", "plain", "rule"?,
//                  "strategy"?, "refuses_expressions"}]}}],
//  "whole_string": {...decision} (several statements), "parse_error" (does not parse),
//  "request": {"method", "path", "query", "body_bytes", "rules", "decision"} (--http),
//  "allowed": bool}
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/node.h"
#include "identity/identity.h"
#include "mask/settings.h"
#include "policy/policy.h"

namespace jg::cli {

struct ExplainOptions {
  std::string config_file, as, resource, sql, search_path, at, http, body;
  std::vector<std::string> granted;
  bool json = false;
};

// The column rules of the masking profile a decision selects (none without a masking section).
std::vector<mask::ColumnRule> profileRules(const config::Node& root, std::string_view profile);

// Prints the JSON explanation; returns the exit status (0 allowed, 1 denied or review, 2 bad
// --http request).
int runExplainJson(const ExplainOptions& o, const config::Node& root, const policy::Policy& policy,
                   const identity::Identity& who, std::chrono::system_clock::time_point now,
                   const std::vector<std::string>& search_path);

}  // namespace jg::cli
