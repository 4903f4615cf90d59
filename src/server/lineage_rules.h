// Lineage rules: which masking column rules the columns a statement computes from reach, for one
// session.
//
// A statement's lineage (sql/lineage.h) names its sources as the query wrote them; this module
// matches them against mask::ColumnRules, resolving unqualified table names with the session's
// schema candidates exactly as policy does (SessionContext::qualify: every schema the name may
// resolve to counts). A source for every column of a table (`t.*`) reaches every rule on t; the
// source "everything" reaches every rule. Used by the result masker (per result column, per COPY
// column, for error text) and at decision time (function allowlists, `through_expressions:
// refuse`), and by `jitgate policy explain`.
//
// Pure functions of their arguments; thread-compatible.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "mask/settings.h"
#include "sql/session_context.h"

namespace jg::server {

// What a set of sources reaches.
struct Reach {
  const mask::ColumnRule* strictest = nullptr;  // null: no rule
  const mask::ColumnRule* refusing = nullptr;   // a rule with through_expressions: refuse
};

// True when source `s` may be a column rule `r` covers.
bool reaches(const mask::ColumnRule& r, const sql::Source& s, const sql::SessionContext& ctx);

Reach reach(std::span<const mask::ColumnRule> rules, const sql::Lineage& lineage,
            const sql::SourceIds& ids, const sql::SessionContext& ctx);

// "crm.customers.note" (or "customers.note" for a rule on any schema).
std::string ruleColumn(const mask::ColumnRule& r);

// The checks made before a statement runs: every function or operator applied to a column under
// a rule with a `functions` list is in that list, and no output PostgreSQL will not report as a
// plain column is computed from a column whose rule refuses expressions. OK, or a 42501 error
// that names the function or output column and the rule's column. `st` is the statement that
// produces rows (for EXECUTE and FETCH: the prepared statement or cursor, resolved by the caller).
Status checkStatement(std::span<const mask::ColumnRule> rules, const sql::Statement& st,
                      const sql::SessionContext& ctx);

// The statement that defines the rows `st` returns: for EXECUTE the prepared statement, for FETCH
// the cursor's DECLARE, else `st` itself; null when the session holds no such statement.
// `owner`, when given, receives what keeps a prepared statement or cursor alive.
const sql::Statement* rowSource(const sql::Statement& st, const sql::SessionContext& ctx,
                                std::shared_ptr<const sql::Classification>* owner = nullptr);

// Document ids the WHERE clauses of `sql` name on the documents table `schema.table` (id column
// `id_column`; sql/where_keys.h), with parameter $n taken from `params`. An unqualified table
// name counts when any schema it may resolve to in `ctx` is `schema`, as for policy.
std::vector<std::string> whereDocuments(std::string_view sql,
                                        const std::vector<std::optional<std::string>>& params,
                                        std::string_view schema, std::string_view table,
                                        std::string_view id_column, const sql::SessionContext& ctx);

// The columns of a table a `*` stands for, found in the catalog.
struct StarColumns {
  size_t output = 0;  // the lineage output (an expanding entry) they replace
  std::string schema, table;
  std::vector<std::string> columns;  // in attnum order
};

// `l` with each given star replaced by one plain output per column of its table.
sql::Lineage expandStars(const sql::Lineage& l, const std::vector<StarColumns>& stars);

}  // namespace jg::server
