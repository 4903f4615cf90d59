// Statement: what one SQL statement does, as the PostgreSQL parser sees it.
//
// Produced by the Classifier from libpg_query's parse tree and cached by query text, so a
// Statement is immutable once built and shared (through the owning Classification) by every
// session that sends the same text. Names are as PostgreSQL folds them: unquoted identifiers
// are lower case, quoted identifiers keep their case. Table schemas are NOT resolved here
// (the search_path is per session): see session_context.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "sql/kind.h"
#include "sql/lineage.h"

namespace jg::sql {

struct TableRef {
  std::string schema;  // empty when the query did not qualify the name; "*" = any schema
  std::string name;    // "*" = every table of the schema (DROP SCHEMA, GRANT ... IN SCHEMA)
  bool write = false;  // the statement changes this relation (or its definition)

  std::string qualified() const { return schema.empty() ? name : schema + "." + name; }
  bool operator==(const TableRef&) const = default;
};

// A setting given a value by SET or set_config(). `value` is the constant as PostgreSQL reads it
// (several SET values joined with ", "), or nullopt when the value is not a constant
// (set_config(name, <expression>, ...)). RESET, SET ... TO DEFAULT and SET ... FROM CURRENT give
// no value and are not listed.
struct SettingValue {
  std::string name;  // lower case, as PostgreSQL compares setting names
  std::optional<std::string> value;
  bool operator==(const SettingValue&) const = default;
};

// COPY's options as the server reads them, with PostgreSQL's defaults (text: tab and `\N`; csv:
// comma, empty null string, quote and escape `"`), so the gateway parses COPY data lines exactly
// as they were written.
struct CopyOptions {
  enum class Format { kText, kCsv, kBinary };
  Format format = Format::kText;
  char delimiter = '\t';
  char quote = '"';   // csv only
  char escape = '"';  // csv only; defaults to the quote
  std::string null_string = "\\N";
  bool header = false;               // the first line names the columns
  std::string encoding;              // the ENCODING option, "" when absent
  std::vector<std::string> columns;  // the column list; empty: every column of the table
  // False when an option is not one the server accepts as written (not a constant, a delimiter
  // of more than one byte): the server refuses such a COPY, and the gateway cannot parse it.
  bool readable = true;
  bool operator==(const CopyOptions&) const = default;
};

struct Statement {
  Kind kind = Kind::kUnknown;       // the top-level statement
  Kind explained = Kind::kUnknown;  // for EXPLAIN / PREPARE / DECLARE: the inner statement's kind
  // Every action the statement performs: the kind itself (except the wrappers EXPLAIN without
  // ANALYZE, PREPARE, EXECUTE, DECLARE, which contribute their inner statement or nothing),
  // nested data-modifying CTEs, the DDL of SELECT INTO, the kinds of the built-in functions it
  // calls (function_catalog.h), lock for FOR UPDATE/SHARE. Policy matches on this set.
  KindSet kinds;
  std::string tag;               // the parse-tree node name, e.g. "SelectStmt", "AlterSystemStmt"
  std::vector<TableRef> tables;  // relations referenced (CTE names excluded), in order, unique
  std::vector<std::string> columns;  // column names referenced; "*" for star or whole row
  // Functions called, as written ("pg_catalog.pg_sleep"). A field selection `(x).f` is listed as
  // a call of f too: PostgreSQL runs f(x) when x has no field f, whatever the type of x.
  std::vector<std::string> functions;
  // Settings changed by SET / RESET / set_config(); "*" when the name is not a constant.
  std::vector<std::string> settings;
  std::vector<SettingValue> setting_values;  // the values SET / set_config() give, in order
  // New search_path when this statement sets it: SET/set_config with constant values. A RESET
  // (or SET ... TO DEFAULT, DISCARD ALL, RESET ALL) is signalled by `resets_search_path`.
  std::optional<std::vector<std::string>> search_path;
  bool resets_search_path = false;
  bool search_path_unknown = false;  // set_config('search_path', <not a constant>)
  bool writes = false;               // changes data or schema (any write table, any write kind)
  bool locks = false;                // FOR UPDATE/SHARE or LOCK TABLE
  bool copy_program = false;         // COPY ... PROGRAM
  bool copy_file = false;            // COPY ... to or from a server file
  // PREPARE / EXECUTE / DEALLOCATE target ("" = ALL for DEALLOCATE); the cursor of DECLARE,
  // FETCH, MOVE and CLOSE ("" = CLOSE ALL)
  std::string prepared_name;
  std::optional<CopyOptions> copy;  // COPY: its format and columns
  Lineage lineage;                  // what each output column is computed from (lineage.h)
  std::string text;                 // this statement's own text (trimmed), for audit and errors
  uint64_t fingerprint = 0;  // libpg_query fingerprint of `text` (0 when it could not be computed)
};

// The result of classifying a query string (one or more statements).
struct Classification {
  Status status;           // not ok: the text does not parse (SQLSTATE 42601, the parser's message)
  int error_position = 0;  // 1-based character position of a parse error, 0 when unknown
  std::vector<Statement> statements;
};

}  // namespace jg::sql
