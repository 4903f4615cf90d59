// Internal: turns one statement of libpg_query's JSON parse tree into a Statement.
//
// The walker knows the statements and clauses that matter for access decisions (targets of
// writes, CTE scopes, INTO clauses, locking clauses, COPY options, SET) and walks every other
// node generically, so a relation or function call nested anywhere is still reported (as a read).
// Not thread-safe; one walker per statement.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/statement.h"

namespace jg::sql::detail {

// Fills `out` from the `stmt` member of one RawStmt: `{"SelectStmt": {...}}`.
void classifyStatement(const boost::json::object& stmt, Statement& out);

// Fills `out.lineage` from the same node (lineage.h). REQUIRES: classifyStatement filled `out`
// (utility statements resolve their column references against `out.tables`).
void traceLineage(const boost::json::object& stmt, Statement& out);

// Splits a search_path value as PostgreSQL does (comma-separated identifiers; unquoted ones are
// folded to lower case, double-quoted ones keep their case, "" inside quotes is a quote).
std::optional<std::vector<std::string>> splitIdentifierList(std::string_view text);

}  // namespace jg::sql::detail
