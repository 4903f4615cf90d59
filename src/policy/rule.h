// Compiled rules: what Policy::compile produces from each entry of `policies:`, plus the
// built-in guardrails. Internal to the policy module (and its tests); immutable once compiled.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/http_rule.h"
#include "policy/policy.h"
#include "policy/time_window.h"
#include "sql/kind.h"

namespace jg::policy {

// A table pattern such as `crm.*`, `"CRM"."Customers"` or `customers` (any schema). Each part
// is a glob, folded as PostgreSQL folds identifiers.
struct TablePattern {
  std::string schema;  // "*" when the pattern has no schema
  std::string name;
  std::string text;  // as written, for explanations
};

// A column pattern: `ssn`, `customers.ssn` or `crm.customers.ssn`.
struct ColumnPattern {
  std::optional<TablePattern> table;
  std::string column;
  std::string text;
};

enum class Guardrail {
  kNone,
  kCopyProgram,
  kCopyFile,
  kServerFiles,
  kDblink,
  kBackendSignals,
  kRoleChange,
  kAlterSystem,
  kCreateExtension,
  kCatalogWrites,
  kDoBlock,
  kSqlText,
  kParserSettings,
};

struct Rule {
  std::string id;
  std::string reason;
  Effect effect = Effect::kDeny;
  Guardrail guardrail = Guardrail::kNone;  // built-in rules only
  std::string where;                       // "file:line" of the rule, for explanations

  // Identity and resource conditions (empty = any).
  std::vector<std::string> subjects, emails, groups, client_ids, resources;
  // Statement conditions (empty = any).
  bool has_kinds = false;
  sql::KindSet kinds;
  std::vector<TablePattern> tables;
  std::vector<ColumnPattern> columns;
  std::vector<std::string> functions;
  std::optional<TimeWindow> when;
  // HTTP conditions (empty = any); a rule with them never matches SQL.
  HttpConditions http;

  // Modifiers and review.
  std::string role, mask;
  int64_t row_limit = 0;
  bool read_only = false;
  // `catalog: true` (allow rules): reads of pg_catalog and information_schema relations are
  // covered too (catalogRead below); everything else the statement does stays under the rule.
  bool catalog = false;
  std::vector<std::string> unlock;  // guardrail names this allow rule lifts
  ReviewSpec review;
  ResponseLimits response;  // HTTP allow rules

  bool hasStatementConditions() const {
    return has_kinds || !tables.empty() || !columns.empty() || !functions.empty();
  }
  bool hasHttpConditions() const { return http.any(); }
  // Conditions on the request itself (SQL or HTTP), beyond who asks and when.
  bool hasRequestConditions() const { return hasStatementConditions() || hasHttpConditions(); }
};

// Glob match (`*`, `?`, `[...]`) through fnmatch(3).
bool globMatch(const std::string& pattern, const std::string& text);
// Parses a table pattern; nullopt when malformed (unterminated quote, too many parts).
std::optional<TablePattern> parseTablePattern(std::string_view text);
std::optional<ColumnPattern> parseColumnPattern(std::string_view text);

// pg_catalog and information_schema: the schemas `catalog: true` lets a rule read.
bool isCatalogSchema(std::string_view schema);

// The built-in guardrails, in evaluation order.
std::vector<Rule> builtinGuardrails();
// "builtin:session": allows SET/RESET/SHOW, transaction control, DEALLOCATE and cursor FETCH/CLOSE
// in every admitted session.
Rule builtinSessionRule();
// The guardrail name used in `unlock:` ("do-block"), or "" for kNone.
std::string_view guardrailName(Guardrail g);
// False for the guardrails no rule may lift: parser-settings (the gateway's own parse of every
// later statement depends on it).
bool guardrailUnlockable(Guardrail g);

}  // namespace jg::policy
