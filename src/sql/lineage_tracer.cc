// The lineage walker, part one: expressions, column references and the name scopes they
// resolve in. Every expression is the union of what its column references, subqueries and
// function calls reach; calls and operators are recorded with the sources of their arguments.
#include "sql/lineage_tracer.h"

#include <algorithm>

#include "sql/function_catalog.h"
#include "sql/walker.h"

namespace jg::sql::detail {
namespace {

constexpr int kMaxDepth = 1000;
constexpr size_t kMaxSources = 4096;

}  // namespace

Rel tableRel(std::string refname, std::string schema, std::string table,
             std::vector<std::string> renamed) {
  Rel r;
  r.refname = std::move(refname);
  r.schema = std::move(schema);
  r.table = std::move(table);
  r.renamed = std::move(renamed);
  return r;
}

Rel derivedRel(std::string refname, Cols cols) {
  Rel r;
  r.refname = std::move(refname);
  r.derived = true;
  r.cols = std::move(cols);
  return r;
}

bool hasRun(const Cols& cols) {
  return std::any_of(cols.begin(), cols.end(), [](const Col& c) { return c.expands; });
}

SourceIds allOf(const Cols& cols) {
  SourceIds all;
  for (const Col& c : cols) {
    unite(all, c.sources);
  }
  return all;
}

Col run(SourceIds sources, bool plain) {
  Col c;
  c.sources = std::move(sources);
  c.plain = plain;
  c.expands = true;
  c.certain = false;
  return c;
}

std::vector<std::string> stringList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = arrOf(o, key)) {
    for (const auto& v : *a) {
      out.emplace_back(stringNode(v));
    }
  }
  return out;
}

Cols renameCols(Cols cols, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size() && i < cols.size(); ++i) {
    if (cols[i].expands) {  // positions past a star are unknown: no name is certain any more
      for (Col& c : cols) {
        c.certain = false;
      }
      return cols;
    }
    cols[i].name = names[i];
    cols[i].certain = true;
  }
  return cols;
}

void namedIn(const Cols& cols, std::string_view name, Ref& r, bool& definite) {
  auto named = [&](const Col& c) { return c.certain && !c.expands && c.name == name; };
  bool exact = std::any_of(cols.begin(), cols.end(), named);
  for (const Col& c : cols) {
    if (exact ? named(c) : !c.certain || c.expands) {
      unite(r.sources, c.sources);
      r.plain = r.plain && c.plain;
      r.found = true;
    }
  }
  definite = definite || exact;
}

std::optional<std::string> lastString(const json::object& o, std::string_view key) {
  const json::array* a = arrOf(o, key);
  if (a == nullptr || a->empty()) {
    return std::nullopt;
  }
  std::string_view s = stringNode(a->back());
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

std::optional<std::string> figureName(const json::value& v) {
  std::string_view type;
  const json::object* o = nullptr;
  if (!v.is_object() || !unwrap(v.get_object(), type, o)) {
    return std::nullopt;
  }
  const json::value* arg = o->if_contains("arg");
  if (type == "ColumnRef") {
    return lastString(*o, "fields");
  }
  if (type == "FuncCall") {
    return lastString(*o, "funcname");
  }
  if (type == "A_Indirection") {
    auto n = lastString(*o, "indirection");
    return n || arg == nullptr ? n : figureName(*arg);
  }
  if (type == "TypeCast") {
    auto n = arg != nullptr ? figureName(*arg) : std::nullopt;
    const json::object* tn = objOf(*o, "typeName");
    return n || tn == nullptr ? n : lastString(*tn, "names");
  }
  if (type == "CoalesceExpr") {
    return "coalesce";
  }
  if (type == "MinMaxExpr") {
    return strOf(*o, "op") == "IS_GREATEST" ? "greatest" : "least";
  }
  return std::nullopt;
}

Cols combineBranches(Cols a, const Cols& b) {
  std::vector<SourceIds> aligned;
  std::vector<bool> unused;
  if (!hasRun(a)) {
    Lineage shape;
    shape.kind = Outputs::kKnown;
    for (const Col& c : b) {
      shape.outputs.push_back(OutputColumn{c.name, c.sources, c.plain, c.expands});
    }
    shape.align(a.size(), aligned, unused);
    for (size_t i = 0; i < a.size(); ++i) {
      unite(a[i].sources, aligned[i]);
      a[i].plain = false;
    }
    return a;
  }
  if (!hasRun(b)) {
    Cols out = combineBranches(b, a);
    for (Col& c : out) {
      c.certain = false;  // the names are the left branch's, whose positions are unknown
    }
    return out;
  }
  SourceIds all = allOf(a);
  unite(all, allOf(b));
  return {run(std::move(all), false)};
}

Tracer::Tracer(Lineage& out, const Statement& st) : out_(out), st_(st) {
  out_.sources.push_back(Source{"*", "*", "*"});
  ids_[out_.sources[0]] = Lineage::kEverything;
}

uint32_t Tracer::intern(Source s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) {
    return it->second;
  }
  if (out_.sources.size() >= kMaxSources) {
    out_.truncated = true;
    return Lineage::kEverything;
  }
  auto id = static_cast<uint32_t>(out_.sources.size());
  out_.sources.push_back(s);
  ids_.emplace(std::move(s), id);
  return id;
}

SourceIds Tracer::one(std::string_view schema, std::string_view table, std::string_view column) {
  return {intern(Source{std::string(schema), std::string(table), std::string(column)})};
}

SourceIds Tracer::expr(const json::value& v) {
  SourceIds out;
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      unite(out, expr(e));
    }
    return out;
  }
  if (!v.is_object()) {
    return out;
  }
  std::string_view type;
  const json::object* inner = nullptr;
  if (unwrap(v.get_object(), type, inner)) {
    return node(type, *inner);
  }
  return members(v.get_object());
}

SourceIds Tracer::members(const json::object& o) {
  SourceIds out;
  for (const auto& kv : o) {
    const json::value& v = kv.value();
    std::string_view type;
    const json::object* inner = nullptr;
    bool bare = v.is_object() && !unwrap(v.get_object(), type, inner);
    if (bare && (kv.key() == "larg" || kv.key() == "rarg")) {
      unite(out, allOf(select(v.get_object())));  // the branches of a set operation
    } else if (bare && kv.key() == "funccall") {
      unite(out, funcCall(v.get_object()));  // CALL's procedure
    } else {
      unite(out, expr(v));
    }
  }
  return out;
}

SourceIds Tracer::node(std::string_view type, const json::object& o) {
  Depth depth(depth_);
  if (depth_ > kMaxDepth) {
    out_.truncated = true;
    return everything();
  }
  if (type == "ColumnRef") {
    Ref r = columnRef(o);
    unite(out_.read, r.sources);
    return r.sources;
  }
  if (type == "SubLink") {
    return subLink(o);
  }
  if (type == "SelectStmt" || type == "InsertStmt" || type == "UpdateStmt" ||
      type == "DeleteStmt" || type == "MergeStmt") {
    return allOf(type == "SelectStmt" ? select(o) : dml(type, o));
  }
  if (type == "FuncCall") {
    return funcCall(o);
  }
  if (type == "A_Expr") {
    return aExpr(o);
  }
  if (type == "RangeVar") {
    return {};  // a relation a utility statement names, not a value
  }
  SourceIds s = members(o);
  if (type == "CoalesceExpr") {
    call("coalesce", s);
  } else if (type == "MinMaxExpr") {
    call(strOf(o, "op") == "IS_GREATEST" ? "greatest" : "least", s);
  }
  return s;
}

void Tracer::call(std::string name, const SourceIds& sources) {
  if (sources.empty()) {
    return;
  }
  auto it = call_index_.find(name);
  if (it == call_index_.end()) {
    call_index_.emplace(name, out_.calls.size());
    out_.calls.push_back(Call{std::move(name), sources});
    return;
  }
  unite(out_.calls[it->second].sources, sources);
}

SourceIds Tracer::funcCall(const json::object& o) {
  std::string_view schema, base;
  if (const json::array* parts = arrOf(o, "funcname")) {
    for (size_t i = 0; i < parts->size(); ++i) {
      if (i + 2 == parts->size()) {
        schema = stringNode((*parts)[i]);
      }
      base = stringNode((*parts)[i]);
    }
  }
  SourceIds s;
  for (std::string_view key : {"args", "agg_order", "agg_filter", "over"}) {
    if (const json::value* v = o.if_contains(key)) {
      unite(s, expr(*v));
    }
  }
  if (builtinCallKinds(schema, base).has(Kind::kSqlText)) {
    unite(s, everything());  // runs SQL text the gateway never parsed
  }
  call(std::string(base), s);
  return s;
}

SourceIds Tracer::aExpr(const json::object& o) {
  SourceIds s;
  for (std::string_view key : {"lexpr", "rexpr"}) {
    if (const json::value* v = o.if_contains(key)) {
      unite(s, expr(*v));
    }
  }
  bool nullif = strOf(o, "kind") == "AEXPR_NULLIF";
  call(nullif ? std::string("nullif") : lower(lastString(o, "name").value_or("")), s);
  return s;
}

SourceIds Tracer::subLink(const json::object& o) {
  SourceIds s;
  if (const json::value* t = o.if_contains("testexpr")) {
    s = expr(*t);
  }
  if (const json::value* q = o.if_contains("subselect")) {
    unite(s, allOf(query(*q)));
  }
  std::optional<std::string> op = lastString(o, "operName");
  if (op || strOf(o, "subLinkType") == "ANY_SUBLINK") {
    call(op.value_or("="), s);  // `x IN (SELECT ...)` is = ANY
  }
  return s;
}

// `x`, `t.x`, `s.t.x`, `t.*`, and a bare `t` that names a FROM item (a whole-row reference).
Ref Tracer::columnRef(const json::object& o) {
  const json::array* fields = arrOf(o, "fields");
  if (fields == nullptr || fields->empty()) {
    return Ref{everything(), false, true};
  }
  const json::value& last = fields->back();
  if (last.is_object() && last.get_object().contains("A_Star")) {
    return starRef(*fields);
  }
  if (fields->size() > 1) {
    return qualifiedRef(*fields);
  }
  std::string_view name = stringNode(last);
  Ref r = lookup(name);
  if (auto at = findRel(name)) {
    unite(r.sources, wholeRow(relAt(*at)));
    r.plain = false;
    r.found = true;
  }
  return r;
}

Ref Tracer::starRef(const json::array& fields) {
  if (fields.size() == 1) {
    return Ref{wholeScope(), false, true};
  }
  std::string_view rel = stringNode(fields[fields.size() - 2]);
  std::string_view schema = fields.size() > 2 ? stringNode(fields[fields.size() - 3]) : "";
  if (auto at = findRel(rel, schema)) {
    return Ref{wholeRow(relAt(*at)), false, true};
  }
  Ref r = lookup(rel);  // a composite column's fields
  r.plain = false;
  return r;
}

// `t.x` is column x of FROM item t, or field x of a composite column t; `s.t.x` is column x of
// table s.t, or field x of column t of item s, or a field of a field of column s. Every reading
// that could hold counts.
Ref Tracer::qualifiedRef(const json::array& fields) {
  size_t n = fields.size();
  Ref r;
  bool definite = false;
  if (auto at = findRel(stringNode(fields[n - 2]), n > 2 ? stringNode(fields[n - 3]) : "")) {
    contribute(relAt(*at), stringNode(fields[n - 1]), r, definite);
  }
  if (n > 2) {
    if (auto at = findRel(stringNode(fields[0]))) {
      contribute(relAt(*at), stringNode(fields[1]), r, definite);
      r.plain = false;
    }
  }
  if (!r.found) {
    Ref c = lookup(stringNode(fields[0]));  // field selection from a composite column
    unite(r.sources, c.sources);
    r.found = c.found;
    r.plain = false;
  }
  return r;
}

// An unqualified name: every FROM item of the innermost scope may hold it, and the enclosing
// scopes' items too unless a derived item of an inner scope certainly holds it.
Ref Tracer::lookup(std::string_view name) {
  Ref r;
  for (size_t i = scopes_.size(); i-- > 0;) {
    if (scopes_[i]->hidden) {
      continue;
    }
    bool definite = false;
    for (const Rel& rel : scopes_[i]->rels) {
      contribute(rel, name, r, definite);
    }
    if (definite) {
      break;
    }
  }
  r.plain = r.plain && r.found;
  return r;
}

void Tracer::contribute(const Rel& rel, std::string_view name, Ref& r, bool& definite) {
  if (rel.derived) {
    namedIn(rel.cols, name, r, definite);
    return;
  }
  bool renamed = std::find(rel.renamed.begin(), rel.renamed.end(), name) != rel.renamed.end();
  unite(r.sources, one(rel.schema, rel.table, renamed ? "*" : name));
  r.found = true;
  r.plain = r.plain && !renamed;
  if (auto it = rel.set.find(name); it != rel.set.end() || !rel.written.empty()) {
    unite(r.sources, rel.written);
    if (it != rel.set.end()) {
      unite(r.sources, it->second);
    }
    r.plain = false;  // RETURNING shows what the statement wrote, not the table's column
  }
}

std::optional<Tracer::RelAt> Tracer::findRel(std::string_view refname,
                                             std::string_view schema) const {
  for (size_t i = scopes_.size(); i-- > 0;) {
    if (scopes_[i]->hidden) {
      continue;
    }
    const auto& rels = scopes_[i]->rels;
    for (size_t j = 0; j < rels.size(); ++j) {
      if (rels[j].refname == refname && (schema.empty() || rels[j].schema == schema)) {
        return RelAt{i, j};
      }
    }
  }
  return std::nullopt;
}

SourceIds Tracer::wholeRow(const Rel& rel) {
  if (rel.derived) {
    return allOf(rel.cols);
  }
  SourceIds s = one(rel.schema, rel.table, "*");
  unite(s, rel.written);
  for (const auto& [col, src] : rel.set) {
    unite(s, src);
  }
  return s;
}

SourceIds Tracer::wholeScope() {
  SourceIds s;
  for (size_t i = scopes_.size(); i-- > 0;) {
    if (!scopes_[i]->hidden) {
      for (const Rel& rel : scopes_[i]->rels) {
        unite(s, wholeRow(rel));
      }
      break;
    }
  }
  return s;
}

Cols Tracer::relStar(const Rel& rel) {
  if (rel.derived) {
    return rel.cols;
  }
  SourceIds s = wholeRow(rel);
  return {run(s, rel.written.empty() && rel.set.empty())};
}

}  // namespace jg::sql::detail
