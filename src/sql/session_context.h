// SessionContext: the per-session state classification needs — the search_path and the
// SQL-level prepared statements — and the resolver that qualifies table names with it.
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
// The session updates the context when a statement is classified (before the server confirms
// it ran): the union rule above keeps this safe.
//
// One SessionContext per client session; not thread-safe.
#pragma once

#include <map>
#include <memory>
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

class SessionContext {
 public:
  // `default_path` is the server's search_path (PostgreSQL's default is "$user", public).
  explicit SessionContext(std::vector<std::string> default_path = {"$user", "public"},
                          std::string user = {});

  // Fills `out` for `stmt` (reusing out's buffers). REQUIRES: `stmt` outlives `out`.
  void resolve(const Statement& stmt, Resolved& out) const;
  // Records the effects of a statement that is about to run: search_path changes, PREPARE,
  // DEALLOCATE, DISCARD. `owner` keeps a prepared statement's text alive.
  void apply(const Statement& stmt, const std::shared_ptr<const Classification>& owner);

  const std::vector<std::string>& searchPath() const { return path_; }
  // Every schema an unqualified name may resolve to (the union described above).
  const std::vector<std::string>& candidateSchemas() const { return candidates_; }
  bool pathUnknown() const { return path_unknown_; }
  void setUser(std::string user);

 private:
  void setPath(std::vector<std::string> path);
  void qualify(const TableRef& t, std::vector<TableRef>& out) const;

  struct Prepared {
    std::shared_ptr<const Classification> owner;
    const Statement* stmt = nullptr;
    std::vector<TableRef> tables;
  };
  std::vector<std::string> default_path_;
  std::vector<std::string> path_;
  std::vector<std::string> candidates_;
  std::string user_;
  bool path_unknown_ = false;
  std::map<std::string, Prepared, std::less<>> prepared_;
};

}  // namespace jg::sql
