// Lineage: which table columns each output column of a statement is computed from, read from
// the parse tree alone (no catalog access).
//
// PostgreSQL names the source of a result column (RowDescription table OID + attribute number)
// only when the column is a plain column reference; `lower(note)`, `note || ''`, `max(note)`, a
// UNION, `row_to_json(t)` all arrive with table OID 0. The lineage fills that gap: for every
// output column of a statement that returns rows (SELECT, VALUES, INSERT/UPDATE/DELETE ...
// RETURNING, COPY, and the queries of DECLARE and PREPARE) it lists the columns the value may be
// computed from, through any expression, function call, operator, cast, aggregate, window
// function, CASE, subquery and CTE; output i of a set operation comes from output i of every
// branch.
//
// Sources are *possible* sources, never fewer than the real ones:
//  - an unqualified name counts for every table of its scope that could have it (the catalog is
//    not visible), and for the tables of enclosing queries too unless a subquery or CTE of the
//    scope certainly has it (it may be an outer reference);
//  - a whole-row reference (`t`, `t.*` inside an expression, `row_to_json(t)`) and a `*` that
//    is not expanded count for every column of the table (Source::column "*");
//  - the values INSERT and UPDATE write count for the rows RETURNING returns;
//  - a function that runs SQL text (query_to_xml, ...) and any construct the walker does not
//    model count for every column of every table (Source "*"."*"."*").
// Not seen: views (a view's column is its own source), user-defined functions that read tables
// themselves, data copied into another table and read back later (see docs/masking.md).
//
// Names are as the parser folded them; table schemas are not resolved here (the search_path is
// per session: SessionContext::qualify). Plain values, built once per classification and shared
// read-only with the Statement; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace jg::sql {

struct Source {
  std::string schema;  // as written; empty = unqualified; "*" = any schema
  std::string table;   // "*" = any table
  std::string column;  // "*" = every column of the table

  bool everything() const { return table == "*"; }
  std::string qualified() const;
  bool operator==(const Source&) const = default;
  auto operator<=>(const Source&) const = default;
};

using SourceIds = std::vector<uint32_t>;  // sorted, unique indices into Lineage::sources

struct OutputColumn {
  std::string name;   // the column name PostgreSQL gives it, when the walker knows it
  SourceIds sources;  // what its value may be computed from (empty: constants, parameters)
  // A plain column reference, which PostgreSQL reports in RowDescription (table OID and
  // attribute number): the reported column is then the exact source.
  bool plain = false;
  // An unexpanded `*` or `t.*` target: zero or more output columns, each from `sources`.
  bool expands = false;
};

// A function or operator applied to values computed from columns.
struct Call {
  std::string name;  // function base name as folded (`lower`), or operator symbol (`||`, `~~`)
  SourceIds sources;
};

enum class Outputs {
  kNone,    // the statement returns no table data (utility statements, DML without RETURNING)
  kKnown,   // `outputs` describe the rows it returns
  kOpaque,  // it returns rows the walker cannot see into (FETCH, EXECUTE, CALL): any source
};

struct Lineage {
  Outputs kind = Outputs::kNone;
  std::vector<Source> sources;        // interned; index 0 is always "*"."*"."*"
  std::vector<OutputColumn> outputs;  // for kKnown, in target-list order
  SourceIds read;                     // every column the statement reads, anywhere in it
  std::vector<Call> calls;            // one per name, with the union of its argument sources
  bool truncated = false;  // nesting too deep to follow: the deep part counts as everything

  static constexpr uint32_t kEverything = 0;

  // The sources of each of `n` result columns, and whether each is a plain column reference.
  // `outputs` holds expanding entries of unknown width: entries before the first and after the
  // last one map one to one from either end, and every column in between gets the union of the
  // entries it may come from. A shape that cannot fit `n` gives every column the union of all.
  // kOpaque gives every column kEverything; kNone gives none any source.
  void align(size_t n, std::vector<SourceIds>& sources, std::vector<bool>& plain) const;
};

// Adds `b` to the sorted set `a`.
void unite(SourceIds& a, const SourceIds& b);

}  // namespace jg::sql
