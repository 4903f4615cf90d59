// The values a statement's WHERE clauses compare one column with: "which documents did this
// query ask for", when the result does not return the id column (`select chunk_id, body from
// chunks where doc_id = 3`).
//
// Finds, in every SELECT, UPDATE and DELETE of the text (subqueries and CTEs included), the
// predicates `col = constant`, `constant = col`, `col = $n`, `col IN (constants or $n)` under
// AND / OR (not under NOT), for the column name given, and names the table each one reads: the
// qualifier's relation (alias or name), or for an unqualified column every relation of that
// FROM clause (PostgreSQL would refuse the query were the name ambiguous). Constants are given
// in text form; casts around them are looked through. Parses the text with libpg_query.
// Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sql/statement.h"

namespace jg::sql {

struct KeyFilter {
  TableRef table{};                   // as written: schema empty when unqualified
  std::vector<std::string> values{};  // constants, as text
  std::vector<int> params{};          // parameter numbers ($1 → 1)
};

// Empty when the text does not parse or names no such predicate.
std::vector<KeyFilter> whereKeyFilters(std::string_view sql, std::string_view column);

// The values of `filters`, with parameter $n taken from `params[n - 1]` (nullopt: NULL, none).
std::vector<std::string> keyValues(const std::vector<KeyFilter>& filters,
                                   const std::vector<std::optional<std::string>>& params);

}  // namespace jg::sql
