// The built-in function catalogue: what a call of a PostgreSQL pg_catalog function does, as far
// as access policy is concerned.
//
// A SELECT can change data or the server through the functions it calls: nextval advances a
// sequence, pg_notify wakes listeners, pg_advisory_lock takes a lock, query_to_xml runs SQL text
// the gateway never parsed. The catalogue groups such functions into families, one statement
// kind each (sql-text, sequence, large-object, notify, lock, set, signal, server-files,
// server-admin, maintenance); a call adds its family's kind to the statement, so a rule that
// allows only `select` no longer allows `SELECT nextval('s')`. A function may be in two families
// (lo_import reads a server file into a large object).
//
// A call is looked up when PostgreSQL could resolve it to pg_catalog: an unqualified name
// (pg_catalog is searched first unless the search_path names it later; then the catalogue is
// stricter than the server, never laxer) or a name qualified with pg_catalog. Names are compared
// as the parser folded them: unquoted names are lower case, and a quoted "NEXTVAL" is another
// function. User-defined functions, functions of other schemas (extensions, SECURITY DEFINER
// wrappers) are not in the catalogue: rules name those with `functions:` conditions.
//
// Completeness is checked, not hoped for: every volatile pg_catalog function of PostgreSQL 15
// (tests/policy/pg15_volatile_functions.txt, compared with a live server by
// tests/e2e/test_policy_functions.py) is either in a family or in the reviewed list of functions
// without a side effect policy must see (function_catalog.cc, with the reason for each group);
// function_catalog_test.cc fails on a function that is in neither.
//
// Immutable tables; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "sql/kind.h"

namespace jg::sql {

struct FunctionFamily {
  Kind kind;                                    // what a call adds to its statement
  std::span<const std::string_view> functions;  // pg_catalog base names, lower case
};

// Every family, in a fixed order (for documentation and tests).
std::span<const FunctionFamily> functionFamilies();

// The kinds of the pg_catalog function `name` (the union over its families); empty when the
// function is not in the catalogue.
KindSet builtinFunctionKinds(std::string_view name);

// The kinds a call adds to its statement: builtinFunctionKinds(name) when `schema` is empty
// (unqualified) or "pg_catalog", else nothing. `schema` and `name` as the parser folded them.
KindSet builtinCallKinds(std::string_view schema, std::string_view name);

// The pg_catalog functions reviewed as having no side effect policy must see (clock_timestamp,
// currval, trigger functions PostgreSQL refuses to call directly, ...), as pg_proc spells them.
std::span<const std::string_view> reviewedFunctions();

}  // namespace jg::sql
