// Internal: matching one compiled rule against a caller and a statement.
//
// Two modes. kAny ("could this statement touch what the rule names?") is used by deny and review
// rules and by guardrails: one matching kind, table, column or function is enough. kCover ("is
// everything this statement does inside what the rule names?") is used by allow rules: every
// kind, every table (each candidate schema of an unqualified name), every column and every
// function must be named by the rule. When `why` is non-null a failed check explains itself.
#pragma once

#include <string>

#include "policy/rule.h"

namespace jg::policy::detail {

enum class Mode { kAny, kCover };

bool identityMatches(const Rule& r, const identity::Identity& who, std::string_view resource,
                     std::string* why);
bool statementMatches(const Rule& r, const Request& req, Mode mode, std::string* why);
// Whether a built-in guardrail applies to the statement; `what` names the trigger.
bool guardrailMatches(const Rule& r, const Request& req, std::string* what);
// "kind delete; tables crm.customers (write)"
std::string describe(const Request& req);

}  // namespace jg::policy::detail
