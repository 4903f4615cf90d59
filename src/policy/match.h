// Internal: matching one compiled rule against a caller and a statement.
//
// Two modes. kAny ("could this statement touch what the rule names?") is used by deny and review
// rules and by guardrails: one matching kind, table, column or function is enough. kCover ("is
// everything this statement does inside what the rule names?") is used by allow rules: every
// kind, every table (each candidate schema of an unqualified name), every column and every
// function must be named by the rule. When `why` is non-null a failed check explains itself.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "policy/rule.h"

namespace jg::policy::detail {

enum class Mode { kAny, kCover };

bool identityMatches(const Rule& r, const identity::Identity& who, std::string_view resource,
                     std::string* why);
bool statementMatches(const Rule& r, const Request& req, Mode mode, std::string* why);
// A SELECT that reads pg_catalog / information_schema relations and no other table, writes
// nothing: what `catalog: true` allows whatever the rule's kinds, tables and columns.
bool catalogRead(const Request& req);
// Whether a built-in guardrail applies to the statement; `what` names the trigger.
bool guardrailMatches(const Rule& r, const Request& req, std::string* what);
// "kind delete; tables crm.customers (write)"
std::string describe(const Request& req);

// Shared by the SQL and HTTP evaluation (evaluate.cc).
bool isGranted(std::span<const std::string> granted, const std::string& id);
Decision denyWith(std::string_view id, std::string_view reason, std::string detail);
void applyModifiers(Decision& d, const Rule& r);
std::string sessionLine(const Binding& b);  // "session: allow by r (role x)"
std::string ruleHead(const Rule& r);        // "[allow] r (file:3): "
std::string unboundWhy(const Rule& r, const identity::Identity& who, std::string_view resource);

// HTTP (http_match.cc). The same two modes: a deny or review rule matches a request that sends
// one value within a query parameter's globs, and a body it cannot read; an allow rule must cover
// every value sent, and no body condition of an allow rule holds on a body that is not JSON.
// Counts the rule's conditions that do not hold; with `why`, all of them, each explained
// ("body /limit is 500, above the maximum 50"); without, it stops at the first.
int httpFailures(const Rule& r, const HttpRequest& req, Mode mode, std::vector<std::string>* why);
bool httpMatches(const Rule& r, const HttpRequest& req, Mode mode);
// GET, HEAD and OPTIONS: the methods a read_only rule allows.
bool isSafeMethod(std::string_view method);
// "POST /collections/docs/points/search" (no query, no body: they may hold secrets).
std::string describeHttp(const HttpFacts& f);

}  // namespace jg::policy::detail
