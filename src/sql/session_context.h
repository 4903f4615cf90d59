// SessionContext: the per-session state classification needs — the search_path, the SQL-level
// prepared statements and cursors — and the resolver that qualifies table names with it.
//
// Name resolution without catalog access. PostgreSQL looks an unqualified name up along the
// search_path and takes the first schema that holds it; the gateway cannot see which schemas hold
// which tables, so it reports an unqualified name as *every* schema it could resolve to:
//   - every schema that has been on this session's search_path since it started (the union, not
//     only the current path: a SET that the server rejected or a transaction rolled back cannot
//     desynchronise the gateway from the server in an unsafe direction);
//   - pg_catalog for names starting with "pg_" (every catalog relation is named pg_*);
//   - pg_temp is not a candidate (a temporary table holds only what the session wrote), and
//     "$user" is one only when the session's upstream user name is known.
// When the path became unknown (set_config with a non-constant value) unqualified names resolve
// to schema "*", which only rules on every schema can allow.
// The session applies a statement's effects once the statement is allowed to run (before the
// server confirms it ran): the union rule above keeps this safe, and a refused statement leaves
// no trace. A prepared statement (EXECUTE) is resolved with the candidates at execution, since
// PostgreSQL analyses it again when the search_path changes; `generation()` changes whenever the
// candidates grow, so a caller can tell that a decision taken earlier must be taken again.
// FETCH and MOVE are resolved as the query of their cursor (DECLARE) when `decideFetch` is on.
// The numbers of SQL-level prepared statements and cursors are bounded: `full()` tells that a
// statement would create one more than the limit, and the caller refuses it (never forgets one).
//
// One SessionContext per client session; not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/statement.h"

namespace jg::sql {

// A statement ready for policy: what it is and the tables it touches, schema-qualified.
struct Resolved {
  const Statement* stmt = nullptr;     // for EXECUTE: the prepared statement's inner statement
  std::vector<TableRef> tables;        // every table with a schema (see above)
  bool known = true;                   // false: EXECUTE of a statement the session never prepared
  const Statement* execute = nullptr;  // the EXECUTE itself when `stmt` is the prepared one
};

// Splits a search_path setting as PostgreSQL does (a comma-separated list of identifiers,
// unquoted ones folded to lower case); nullopt when it is not such a list.
std::optional<std::vector<std::string>> parseSearchPath(std::string_view text);

// True when `name` names UTF8 as PostgreSQL compares encoding names (letters and digits only,
// case-insensitive): "UTF8", "utf-8", "Unicode".
bool isUtf8Encoding(std::string_view name);

class SessionContext {
 public:
  // `default_path` is the server's search_path (PostgreSQL's default is "$user", public).
  explicit SessionContext(std::vector<std::string> default_path = {"$user", "public"},
                          std::string user = {});

  // Fills `out` for `stmt` (reusing out's buffers). REQUIRES: `stmt` outlives `out`.
  void resolve(const Statement& stmt, Resolved& out) const;
  // Records the effects of a statement that is about to run: search_path changes, PREPARE,
  // DEALLOCATE, DECLARE, CLOSE, DISCARD. `owner` keeps a prepared statement's text alive.
  void apply(const Statement& stmt, const std::shared_ptr<const Classification>& owner);
  // apply() for every statement of `c` (a batch allowed to run).
  void applyAll(const std::shared_ptr<const Classification>& c);
  // True when `stmt` would create a prepared statement or cursor past the limit.
  bool full(const Statement& stmt) const;
  void setLimit(size_t max_named) { max_named_ = max_named; }
  // Resolve FETCH/MOVE as their cursor's query (time-dependent policies decide each fetch).
  void setDecideFetch(bool on) { decide_fetch_ = on; }
  // True when the session prepared `name` with SQL PREPARE / declared cursor `name`.
  bool hasPrepared(std::string_view name) const { return prepared_.contains(name); }
  bool hasCursor(std::string_view name) const { return cursors_.contains(name); }
  // Changes whenever an unqualified name may resolve to a schema it could not resolve to before.
  uint64_t generation() const { return generation_; }

  const std::vector<std::string>& searchPath() const { return path_; }
  // Every schema an unqualified name may resolve to (the union described above).
  const std::vector<std::string>& candidateSchemas() const { return candidates_; }
  bool pathUnknown() const { return path_unknown_; }
  void setUser(std::string user);
  // Appends every schema-qualified table `t` may name (the candidates above; `t` itself when it
  // has a schema), without duplicates.
  void qualify(const TableRef& t, std::vector<TableRef>& out) const;
  // The PREPARE (`cursor` false) or DECLARE (`cursor` true) statement the session holds under
  // `name`, or null. It lives as long as `*owner` (when given) or until the next apply().
  const Statement* named(bool cursor, std::string_view name,
                         std::shared_ptr<const Classification>* owner = nullptr) const;

 private:
  void setPath(std::vector<std::string> path);

  struct Prepared {
    std::shared_ptr<const Classification> owner;
    const Statement* stmt = nullptr;
  };
  using Named = std::map<std::string, Prepared, std::less<>>;
  void resolveNamed(const Named& names, const Statement& stmt, Resolved& out) const;
  std::vector<std::string> default_path_;
  std::vector<std::string> path_;
  std::vector<std::string> candidates_;
  std::string user_;
  bool path_unknown_ = false;
  bool decide_fetch_ = false;
  uint64_t generation_ = 0;
  size_t max_named_ = 10000;
  Named prepared_;
  Named cursors_;
};

}  // namespace jg::sql
