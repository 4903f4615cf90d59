// Internal: the walker behind traceLineage (tree_walker.h), split over lineage_tracer.cc
// (expressions, column references, name scopes) and lineage_query.cc (queries, FROM items, CTEs,
// DML). Not thread-safe; one tracer per statement.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/lineage.h"
#include "sql/statement.h"

namespace jg::sql::detail {

namespace json = boost::json;

// A column of a query, subquery, CTE or FROM item while walking.
struct Col {
  std::string name;
  SourceIds sources;
  bool plain = false;
  bool expands = false;  // an unexpanded star: zero or more columns
  bool certain = true;   // `name` is the name PostgreSQL gives the column
};
using Cols = std::vector<Col>;

// A FROM item (or a DML target) that names can refer to.
struct Rel {
  std::string refname;
  std::string schema, table;         // a table, when !derived
  bool derived = false;              // a subquery, CTE, function or join alias
  std::vector<std::string> renamed;  // a table's alias column names: which columns is unknown
  Cols cols;                         // derived: its columns
  SourceIds written;                 // INSERT: what any column of the new rows may hold
  std::map<std::string, SourceIds, std::less<>> set;  // UPDATE / ON CONFLICT: SET col = ...
};

struct Scope {
  std::vector<Rel> rels;
  bool hidden = false;  // not visible from a non-LATERAL subquery of its own FROM clause
};

struct Cte {
  std::string name;
  Cols cols;
};

// A resolved column reference.
struct Ref {
  SourceIds sources;
  bool plain = true;
  bool found = false;  // some FROM item may hold it
};

// A FROM item that is a table, and one that is derived (subquery, CTE, function, join alias).
Rel tableRel(std::string refname, std::string schema, std::string table,
             std::vector<std::string> renamed);
Rel derivedRel(std::string refname, Cols cols);
bool hasRun(const Cols& cols);
SourceIds allOf(const Cols& cols);
Col run(SourceIds sources, bool plain);
std::vector<std::string> stringList(const json::object& o, std::string_view key);
Cols renameCols(Cols cols, const std::vector<std::string>& names);
// What `name` reaches in a derived column list; `definite` when a column certainly has it.
void namedIn(const Cols& cols, std::string_view name, Ref& r, bool& definite);
std::optional<std::string> lastString(const json::object& o, std::string_view key);
// PostgreSQL's name for a target without an alias (FigureColname), when it is certain.
std::optional<std::string> figureName(const json::value& v);
// Output i of a set operation comes from output i of both branches.
Cols combineBranches(Cols a, const Cols& b);

class Tracer {
 public:
  Tracer(Lineage& out, const Statement& st);
  void statement(std::string_view type, const json::object& o);

 private:
  struct Depth {
    explicit Depth(int& d) : d_(++d) {}
    ~Depth() { --d_; }
    int& d_;
  };
  using RelAt = std::pair<size_t, size_t>;  // scope index, rel index

  // lineage_tracer.cc: expressions and names.
  uint32_t intern(Source s);
  SourceIds one(std::string_view schema, std::string_view table, std::string_view column);
  SourceIds everything() const { return {Lineage::kEverything}; }
  SourceIds expr(const json::value& v);
  SourceIds node(std::string_view type, const json::object& o);
  SourceIds members(const json::object& o);
  SourceIds funcCall(const json::object& o);
  SourceIds aExpr(const json::object& o);
  SourceIds subLink(const json::object& o);
  void call(std::string name, const SourceIds& sources);
  Ref columnRef(const json::object& o);
  Ref starRef(const json::array& fields);
  Ref qualifiedRef(const json::array& fields);
  Ref lookup(std::string_view name);
  void contribute(const Rel& rel, std::string_view name, Ref& r, bool& definite);
  std::optional<RelAt> findRel(std::string_view refname, std::string_view schema = {}) const;
  const Rel& relAt(RelAt at) const { return scopes_[at.first]->rels[at.second]; }
  SourceIds wholeRow(const Rel& rel);
  SourceIds wholeScope();
  Cols relStar(const Rel& rel);

  // lineage_query.cc: queries, FROM items, CTEs, DML.
  Cols query(const json::value& v);
  Cols select(const json::object& o);
  Cols setOp(const json::object& o);
  Cols simpleSelect(const json::object& o);
  Cols values(const json::array& lists);
  Cols targets(const json::array* list, const Cols& star);
  Cols starTarget(const json::array& fields, const Cols& star);
  void withClause(const json::object* wc);
  void recursiveCtes(const json::array& ctes);
  std::optional<Cols> cte(std::string_view name) const;
  void fromItem(const json::value& v, Scope& scope, Cols& star);
  void rangeVar(const json::object& o, Scope& scope, Cols& star);
  void rangeSubselect(const json::object& o, Scope& scope, Cols& star);
  void joinExpr(const json::object& o, Scope& scope, Cols& star);
  void derivedItem(std::string refname, Cols cols, Scope& scope, Cols& star);
  Cols joinColumns(const Cols& l, const Cols& r, const json::object& o);
  Cols dml(std::string_view type, const json::object& o);
  size_t dmlTarget(std::string_view type, const json::object& o, Scope& scope);
  void updateSet(const json::array* list, Scope& scope, size_t target);
  Cols copyColumns(const json::object& o);
  void utility(const json::object& o);

  Lineage& out_;
  const Statement& st_;
  std::map<Source, uint32_t> ids_;
  std::map<std::string, size_t, std::less<>> call_index_;
  std::vector<Scope*> scopes_;  // enclosing queries, innermost last
  std::vector<Cte> ctes_;       // CTEs in scope, innermost last
  int depth_ = 0;
};

}  // namespace jg::sql::detail
