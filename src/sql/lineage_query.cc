// The lineage walker, part two: queries (SELECT, set operations, VALUES), FROM items, CTEs,
// DML with RETURNING, COPY, and the statement-level dispatch.
#include <algorithm>

#include "sql/lineage_tracer.h"
#include "sql/tree_walker.h"
#include "sql/walker.h"

namespace jg::sql::detail {
namespace {

constexpr int kMaxRecursionRounds = 16;

bool sameSources(const std::vector<Cte>& a, const std::vector<Cte>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Cte& x, const Cte& y) {
    return std::equal(x.cols.begin(), x.cols.end(), y.cols.begin(), y.cols.end(),
                      [](const Col& c, const Col& d) { return c.sources == d.sources; });
  });
}

std::vector<OutputColumn> toOutputs(const Cols& cols) {
  std::vector<OutputColumn> out;
  out.reserve(cols.size());
  for (const Col& c : cols) {
    out.push_back(OutputColumn{c.name, c.sources, c.plain, c.expands});
  }
  return out;
}

const json::object* cteNode(const json::value& v) {
  return v.is_object() ? objOf(v.get_object(), "CommonTableExpr") : nullptr;
}

// The name PostgreSQL gives a function in FROM without an alias: the (first) function's.
std::string functionName(const json::object& range_function) {
  const json::array* fns = arrOf(range_function, "functions");
  if (fns == nullptr || fns->empty() || !(*fns)[0].is_object()) {
    return {};
  }
  const json::object* list = objOf((*fns)[0].get_object(), "List");
  const json::array* items = list != nullptr ? arrOf(*list, "items") : nullptr;
  if (items == nullptr || items->empty() || !(*items)[0].is_object()) {
    return {};
  }
  const json::object* fc = objOf((*items)[0].get_object(), "FuncCall");
  return fc != nullptr ? lastString(*fc, "funcname").value_or("") : std::string();
}

bool isStar(const json::array* fields) {
  return fields != nullptr && !fields->empty() && fields->back().is_object() &&
         fields->back().get_object().contains("A_Star");
}

}  // namespace

// A wrapped query node: `{"SelectStmt": {...}}` or a data-modifying statement with RETURNING.
Cols Tracer::query(const json::value& v) {
  std::string_view type;
  const json::object* inner = nullptr;
  if (!v.is_object() || !unwrap(v.get_object(), type, inner)) {
    return {run(everything(), false)};
  }
  if (type == "SelectStmt") {
    return select(*inner);
  }
  if (type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt") {
    return dml(type, *inner);
  }
  SourceIds s = node(type, *inner);
  unite(s, everything());
  return {run(std::move(s), false)};
}

Cols Tracer::select(const json::object& o) {
  size_t mark = ctes_.size();
  withClause(objOf(o, "withClause"));
  Cols out;
  std::string_view op = strOf(o, "op");
  if (!op.empty() && op != "SETOP_NONE") {
    out = setOp(o);
  } else if (const json::array* lists = arrOf(o, "valuesLists")) {
    out = values(*lists);
  } else {
    out = simpleSelect(o);
  }
  ctes_.resize(mark);
  return out;
}

Cols Tracer::setOp(const json::object& o) {
  const json::object* l = objOf(o, "larg");
  const json::object* r = objOf(o, "rarg");
  Cols a = l != nullptr ? select(*l) : Cols{run(everything(), false)};
  Cols b = r != nullptr ? select(*r) : Cols{run(everything(), false)};
  for (std::string_view key : {"sortClause", "limitOffset", "limitCount"}) {
    if (const json::value* v = o.if_contains(key)) {
      expr(*v);  // reads and calls only
    }
  }
  return combineBranches(std::move(a), b);
}

Cols Tracer::values(const json::array& lists) {
  Cols out;
  for (const auto& l : lists) {
    const json::object* list = l.is_object() ? objOf(l.get_object(), "List") : nullptr;
    const json::array* items = list != nullptr ? arrOf(*list, "items") : nullptr;
    for (size_t i = 0; items != nullptr && i < items->size(); ++i) {
      if (out.size() <= i) {
        out.emplace_back().name = "column" + std::to_string(i + 1);
      }
      unite(out[i].sources, expr((*items)[i]));
    }
  }
  return out;
}

Cols Tracer::simpleSelect(const json::object& o) {
  Scope scope;
  scopes_.push_back(&scope);
  Cols star;
  if (const json::array* from = arrOf(o, "fromClause")) {
    for (const auto& item : *from) {
      fromItem(item, scope, star);
    }
  }
  for (std::string_view key : {"whereClause", "groupClause", "havingClause", "windowClause",
                               "sortClause", "limitOffset", "limitCount", "distinctClause"}) {
    if (const json::value* v = o.if_contains(key)) {
      expr(*v);  // reads and calls only
    }
  }
  Cols out = targets(arrOf(o, "targetList"), star);
  scopes_.pop_back();
  return out;
}

Cols Tracer::targets(const json::array* list, const Cols& star) {
  Cols out;
  for (size_t i = 0; list != nullptr && i < list->size(); ++i) {
    const json::value& item = (*list)[i];
    const json::object* rt = item.is_object() ? objOf(item.get_object(), "ResTarget") : nullptr;
    const json::value* val = rt != nullptr ? rt->if_contains("val") : nullptr;
    if (val == nullptr) {
      continue;
    }
    const json::object* ref = val->is_object() ? objOf(val->get_object(), "ColumnRef") : nullptr;
    const json::array* fields = ref != nullptr ? arrOf(*ref, "fields") : nullptr;
    if (isStar(fields)) {
      Cols cols = starTarget(*fields, star);  // `*`, `t.*`: expanded by the server
      unite(out_.read, allOf(cols));
      out.insert(out.end(), cols.begin(), cols.end());
      continue;
    }
    Col col;
    if (ref != nullptr) {
      Ref r = columnRef(*ref);
      unite(out_.read, r.sources);
      col.sources = std::move(r.sources);
      col.plain = r.plain && r.found;
    } else {
      col.sources = expr(*val);
    }
    std::optional<std::string> name =
        rt->contains("name") ? std::optional<std::string>(strOf(*rt, "name")) : figureName(*val);
    col.certain = name.has_value();
    col.name = name.value_or("?column?");
    out.push_back(std::move(col));
  }
  return out;
}

Cols Tracer::starTarget(const json::array& fields, const Cols& star) {
  if (fields.size() == 1) {
    return star;
  }
  std::string_view rel = stringNode(fields[fields.size() - 2]);
  std::string_view schema = fields.size() > 2 ? stringNode(fields[fields.size() - 3]) : "";
  if (auto at = findRel(rel, schema)) {
    return relStar(relAt(*at));
  }
  return {run(starRef(fields).sources, false)};
}

void Tracer::withClause(const json::object* wc) {
  const json::array* ctes = wc != nullptr ? arrOf(*wc, "ctes") : nullptr;
  if (ctes == nullptr) {
    return;
  }
  if (boolOf(*wc, "recursive")) {
    recursiveCtes(*ctes);
    return;
  }
  for (const auto& c : *ctes) {
    const json::object* cte = cteNode(c);
    if (cte == nullptr) {
      continue;
    }
    const json::value* q = cte->if_contains("ctequery");
    Cols cols = q != nullptr ? query(*q) : Cols{run(everything(), false)};
    ctes_.push_back(Cte{std::string(strOf(*cte, "ctename")),
                        renameCols(std::move(cols), stringList(*cte, "aliascolnames"))});
  }
}

// WITH RECURSIVE: every name is in scope from the start, and a CTE may read itself. Sources only
// grow from round to round; the walk stops when a round adds none (or counts every CTE as
// reaching everything after kMaxRecursionRounds).
void Tracer::recursiveCtes(const json::array& ctes) {
  size_t base = ctes_.size();
  for (const auto& c : ctes) {
    if (const json::object* cte = cteNode(c)) {
      ctes_.push_back(Cte{std::string(strOf(*cte, "ctename")), {run({}, false)}});
    }
  }
  for (int round = 0; round < kMaxRecursionRounds; ++round) {
    std::vector<Cte> before(ctes_.begin() + static_cast<std::ptrdiff_t>(base), ctes_.end());
    size_t i = base;
    for (const auto& c : ctes) {
      const json::object* cte = cteNode(c);
      if (cte == nullptr) {
        continue;
      }
      const json::value* q = cte->if_contains("ctequery");
      Cols cols = q != nullptr ? query(*q) : Cols{run(everything(), false)};
      ctes_[i++].cols = renameCols(std::move(cols), stringList(*cte, "aliascolnames"));
    }
    std::vector<Cte> after(ctes_.begin() + static_cast<std::ptrdiff_t>(base), ctes_.end());
    if (sameSources(before, after)) {
      return;
    }
  }
  out_.truncated = true;
  for (size_t i = base; i < ctes_.size(); ++i) {
    ctes_[i].cols = {run(everything(), false)};
  }
}

std::optional<Cols> Tracer::cte(std::string_view name) const {
  for (size_t i = ctes_.size(); i-- > 0;) {
    if (ctes_[i].name == name) {
      return ctes_[i].cols;
    }
  }
  return std::nullopt;
}

void Tracer::fromItem(const json::value& v, Scope& scope, Cols& star) {
  std::string_view type;
  const json::object* o = nullptr;
  if (!v.is_object() || !unwrap(v.get_object(), type, o)) {
    return;
  }
  if (type == "RangeVar") {
    rangeVar(*o, scope, star);
  } else if (type == "RangeSubselect") {
    rangeSubselect(*o, scope, star);
  } else if (type == "JoinExpr") {
    joinExpr(*o, scope, star);
  } else if (type == "RangeTableSample") {
    if (const json::value* rel = o->if_contains("relation")) {
      fromItem(*rel, scope, star);
    }
    if (const json::value* args = o->if_contains("args")) {
      expr(*args);
    }
  } else {
    // A function in FROM (always LATERAL), XMLTABLE, or an item this walker does not model:
    // columns of unknown number, each from everything its expressions reach.
    SourceIds s = members(*o);
    if (type != "RangeFunction" && type != "RangeTableFunc") {
      unite(s, everything());
    }
    const json::object* alias = objOf(*o, "alias");
    std::string name(alias != nullptr ? strOf(*alias, "aliasname") : "");
    if (name.empty() && type == "RangeFunction") {
      name = functionName(*o);
    }
    derivedItem(std::move(name), {run(std::move(s), false)}, scope, star);
  }
}

void Tracer::rangeVar(const json::object& o, Scope& scope, Cols& star) {
  std::string_view schema = strOf(o, "schemaname");
  std::string_view relname = strOf(o, "relname");
  const json::object* alias = objOf(o, "alias");
  std::string refname(alias != nullptr ? strOf(*alias, "aliasname") : relname);
  std::vector<std::string> colnames =
      alias != nullptr ? stringList(*alias, "colnames") : std::vector<std::string>{};
  if (schema.empty()) {
    if (std::optional<Cols> cols = cte(relname)) {
      derivedItem(std::move(refname), renameCols(std::move(*cols), colnames), scope, star);
      return;
    }
  }
  Rel rel =
      tableRel(std::move(refname), std::string(schema), std::string(relname), std::move(colnames));
  Cols cols = relStar(rel);
  star.insert(star.end(), cols.begin(), cols.end());
  scope.rels.push_back(std::move(rel));
}

void Tracer::rangeSubselect(const json::object& o, Scope& scope, Cols& star) {
  bool lateral = boolOf(o, "lateral");
  scope.hidden = !lateral;  // a non-LATERAL subquery cannot see its siblings
  Cols cols = o.contains("subquery") ? query(o.at("subquery")) : Cols{run(everything(), false)};
  scope.hidden = false;
  const json::object* alias = objOf(o, "alias");
  std::string refname(alias != nullptr ? strOf(*alias, "aliasname") : "");
  if (alias != nullptr) {
    cols = renameCols(std::move(cols), stringList(*alias, "colnames"));
  }
  derivedItem(std::move(refname), std::move(cols), scope, star);
}

void Tracer::derivedItem(std::string refname, Cols cols, Scope& scope, Cols& star) {
  star.insert(star.end(), cols.begin(), cols.end());
  scope.rels.push_back(derivedRel(std::move(refname), std::move(cols)));
}

void Tracer::joinExpr(const json::object& o, Scope& scope, Cols& star) {
  Cols l, r;
  if (const json::value* v = o.if_contains("larg")) {
    fromItem(*v, scope, l);
  }
  if (const json::value* v = o.if_contains("rarg")) {
    fromItem(*v, scope, r);
  }
  if (const json::value* q = o.if_contains("quals")) {
    expr(*q);
  }
  Cols joined = joinColumns(l, r, o);
  if (const json::object* alias = objOf(o, "alias")) {
    Cols named = renameCols(joined, stringList(*alias, "colnames"));
    scope.rels.push_back(derivedRel(std::string(strOf(*alias, "aliasname")), std::move(named)));
  }
  star.insert(star.end(), joined.begin(), joined.end());
}

namespace {

// The columns a NATURAL join merges: the names both sides certainly have, in the left side's
// order; nullopt when a side has columns of unknown name.
std::optional<std::vector<std::string>> naturalColumns(const Cols& l, const Cols& r) {
  auto unsure = [](const Col& c) { return c.expands || !c.certain; };
  if (std::any_of(l.begin(), l.end(), unsure) || std::any_of(r.begin(), r.end(), unsure)) {
    return std::nullopt;
  }
  std::vector<std::string> merged;
  for (const Col& c : l) {
    if (std::any_of(r.begin(), r.end(), [&](const Col& d) { return d.name == c.name; })) {
      merged.push_back(c.name);
    }
  }
  return merged;
}

}  // namespace

// The columns `*` gives for a join: the merged USING (or NATURAL) columns first, then the left
// item's other columns, then the right item's. When which columns merge is unknown, one run: a
// merged column of an inner or one-sided join is one side's, so the run is as plain as they are.
Cols Tracer::joinColumns(const Cols& l, const Cols& r, const json::object& o) {
  std::vector<std::string> merged = stringList(o, "usingClause");
  if (boolOf(o, "isNatural")) {
    std::optional<std::vector<std::string>> natural = naturalColumns(l, r);
    if (!natural) {
      auto plain = [](const Col& c) { return c.plain; };
      SourceIds all = allOf(l);
      unite(all, allOf(r));
      return {run(std::move(all), std::all_of(l.begin(), l.end(), plain) &&
                                      std::all_of(r.begin(), r.end(), plain))};
    }
    merged.insert(merged.end(), natural->begin(), natural->end());
  }
  Cols out;
  for (const std::string& name : merged) {
    Ref ref;
    bool definite = false;
    namedIn(l, name, ref, definite);
    namedIn(r, name, ref, definite);
    Col& col = out.emplace_back();
    col.name = name;
    col.sources = std::move(ref.sources);
    col.plain = ref.plain && ref.found;  // the server reports one side's column, or none (FULL)
  }
  for (const Cols* side : {&l, &r}) {
    for (const Col& c : *side) {
      bool gone = c.certain && !c.expands &&
                  std::find(merged.begin(), merged.end(), c.name) != merged.end();
      if (!gone) {
        out.push_back(c);
      }
    }
  }
  return out;
}

Cols Tracer::dml(std::string_view type, const json::object& o) {
  size_t mark = ctes_.size();
  withClause(objOf(o, "withClause"));
  Scope scope;
  scopes_.push_back(&scope);
  size_t target = dmlTarget(type, o, scope);
  if (type == "UpdateStmt") {
    updateSet(arrOf(o, "targetList"), scope, target);
  }
  for (std::string_view key : {"whereClause", "joinCondition", "mergeWhenClauses"}) {
    if (const json::value* v = o.if_contains(key)) {
      expr(*v);
    }
  }
  Cols out;
  if (const json::array* ret = arrOf(o, "returningList")) {
    out = targets(ret, relStar(scope.rels[target]));
  }
  scopes_.pop_back();
  ctes_.resize(mark);
  return out;
}

// Puts the target of a DML statement (and its FROM / USING items) in scope; returns the
// target's index. The rows INSERT writes hold what its query returns.
size_t Tracer::dmlTarget(std::string_view type, const json::object& o, Scope& scope) {
  Cols inserted;
  if (type == "InsertStmt" && o.contains("selectStmt")) {
    inserted = query(o.at("selectStmt"));  // before the target is in scope: it cannot see it
  }
  Cols ignored;
  if (const json::value* rel = o.if_contains("relation")) {
    const json::object& r = rel->get_object();
    rangeVar(r.contains("RangeVar") ? r.at("RangeVar").get_object() : r, scope, ignored);
  }
  if (scope.rels.empty()) {
    scope.rels.push_back(derivedRel({}, {run(everything(), false)}));
  }
  size_t target = scope.rels.size() - 1;
  scope.rels[target].written = allOf(inserted);
  for (std::string_view key : {"fromClause", "usingClause"}) {
    if (const json::array* items = arrOf(o, key)) {
      for (const auto& item : *items) {
        fromItem(item, scope, ignored);
      }
    }
  }
  if (const json::value* src = o.if_contains("sourceRelation")) {
    fromItem(*src, scope, ignored);
  }
  if (const json::object* conflict = objOf(o, "onConflictClause")) {
    scope.rels.push_back(derivedRel("excluded", {run(allOf(inserted), false)}));
    updateSet(arrOf(*conflict, "targetList"), scope, target);
    for (std::string_view key : {"whereClause", "infer"}) {
      if (const json::value* v = conflict->if_contains(key)) {
        expr(*v);
      }
    }
  }
  return target;
}

// SET col = expr: RETURNING shows the new value. A target that is not a table (a CTE name)
// keeps what it reaches already.
void Tracer::updateSet(const json::array* list, Scope& scope, size_t target) {
  for (size_t i = 0; list != nullptr && i < list->size(); ++i) {
    const json::value& item = (*list)[i];
    const json::object* rt = item.is_object() ? objOf(item.get_object(), "ResTarget") : nullptr;
    if (rt == nullptr) {
      continue;
    }
    SourceIds s = rt->contains("val") ? expr(rt->at("val")) : SourceIds{};
    Rel& rel = scope.rels[target];
    if (rel.derived) {
      unite(rel.cols[0].sources, s);
    } else {
      unite(rel.set[std::string(strOf(*rt, "name"))], s);
    }
  }
}

// COPY t (a, b): those columns; COPY t: every column, in the table's order; COPY (query).
Cols Tracer::copyColumns(const json::object& o) {
  if (const json::value* q = o.if_contains("query")) {
    return query(*q);
  }
  const json::object* rel = objOf(o, "relation");
  if (rel == nullptr) {
    return {run(everything(), false)};
  }
  std::string_view schema = strOf(*rel, "schemaname");
  std::string_view table = strOf(*rel, "relname");
  std::vector<std::string> names = stringList(o, "attlist");
  if (names.empty()) {
    return {run(one(schema, table, "*"), true)};
  }
  Cols out;
  for (std::string& n : names) {
    SourceIds s = one(schema, table, n);
    Col& col = out.emplace_back();
    col.name = std::move(n);
    col.sources = std::move(s);
    col.plain = true;
  }
  return out;
}

// Any other statement: its column references are read (ALTER TABLE ... USING note::int reads
// note), resolved against the tables the statement names.
void Tracer::utility(const json::object& o) {
  Scope scope;
  for (const TableRef& t : st_.tables) {
    if (t.name != "*") {
      scope.rels.push_back(tableRel(t.name, t.schema, t.name, {}));
    }
  }
  scopes_.push_back(&scope);
  members(o);
  scopes_.pop_back();
}

void Tracer::statement(std::string_view type, const json::object& o) {
  auto known = [&](Cols cols) {
    out_.kind = Outputs::kKnown;
    out_.outputs = toOutputs(cols);
  };
  if (type == "SelectStmt") {
    known(select(o));
  } else if (type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" ||
             type == "MergeStmt") {
    Cols cols = dml(type, o);
    if (o.contains("returningList")) {
      known(std::move(cols));
    }
  } else if (type == "CopyStmt" && !boolOf(o, "is_from")) {
    known(copyColumns(o));
  } else if ((type == "DeclareCursorStmt" || type == "PrepareStmt") && o.contains("query")) {
    known(query(o.at("query")));  // what FETCH / EXECUTE will return
  } else if (type == "ExplainStmt" && o.contains("query")) {
    query(o.at("query"));  // reads and calls (EXPLAIN ANALYZE runs it); a plan holds no values
  } else {
    utility(o);
    bool rows = type == "FetchStmt" || type == "ExecuteStmt" || type == "CallStmt" ||
                st_.kind == Kind::kOther || st_.kind == Kind::kUnknown;
    out_.kind = rows ? Outputs::kOpaque : Outputs::kNone;
  }
}

void traceLineage(const json::object& stmt, Statement& out) {
  Tracer t(out.lineage, out);
  std::string_view type;
  const json::object* inner = nullptr;
  if (unwrap(stmt, type, inner)) {
    t.statement(type, *inner);
  } else {
    out.lineage.kind = Outputs::kOpaque;
  }
}

}  // namespace jg::sql::detail
