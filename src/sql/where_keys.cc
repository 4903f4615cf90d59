#include "sql/where_keys.h"

#include <pg_query.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>

namespace jg::sql {
namespace {

namespace json = boost::json;

const json::object* obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}
const json::array* arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}
std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}
// The `sval` of a {"String": {...}} node.
std::string stringNode(const json::value& v) {
  const json::object* s = v.is_object() ? obj(v.get_object(), "String") : nullptr;
  return s != nullptr ? str(*s, "sval") : std::string();
}

struct Scope {
  std::map<std::string, TableRef> by_name;  // alias or relation name → relation
  std::vector<TableRef> all;
};

void addFrom(const json::value& item, Scope& scope) {
  if (!item.is_object()) {
    return;
  }
  const json::object& o = item.get_object();
  if (const json::object* rv = obj(o, "RangeVar")) {
    TableRef t{str(*rv, "schemaname"), str(*rv, "relname")};
    const json::object* alias = obj(*rv, "alias");
    scope.by_name[alias != nullptr ? str(*alias, "aliasname") : t.name] = t;
    scope.all.push_back(t);
  } else if (const json::object* j = obj(o, "JoinExpr")) {
    for (const char* side : {"larg", "rarg"}) {
      if (const json::value* v = j->if_contains(side)) {
        addFrom(*v, scope);
      }
    }
  }
}

class Finder {
 public:
  Finder(std::string_view column, std::vector<KeyFilter>& out) : column_(column), out_(out) {}

  // Walks every node; statements with a FROM (or a target relation) and a WHERE are examined.
  void walk(const json::value& v) {
    if (v.is_array()) {
      for (const auto& e : v.get_array()) {
        walk(e);
      }
      return;
    }
    if (!v.is_object()) {
      return;
    }
    const json::object& o = v.get_object();
    for (const char* stmt : {"SelectStmt", "UpdateStmt", "DeleteStmt"}) {
      if (const json::object* s = obj(o, stmt)) {
        statement(*s);
      }
    }
    for (const auto& kv : o) {
      walk(kv.value());
    }
  }

 private:
  void statement(const json::object& s) {
    const json::value* where = s.if_contains("whereClause");
    if (where == nullptr) {
      return;
    }
    Scope scope;
    if (const json::array* from = arr(s, "fromClause")) {
      for (const auto& item : *from) {
        addFrom(item, scope);
      }
    }
    if (const json::object* rel = obj(s, "relation")) {  // UPDATE / DELETE target
      addFrom(json::object{{"RangeVar", *rel}}, scope);
    }
    predicate(*where, scope);
  }

  void predicate(const json::value& v, const Scope& scope) {
    if (!v.is_object()) {
      return;
    }
    const json::object& o = v.get_object();
    if (const json::object* b = obj(o, "BoolExpr")) {
      if (str(*b, "boolop") == "NOT_EXPR") {
        return;
      }
      if (const json::array* args = arr(*b, "args")) {
        for (const auto& a : *args) {
          predicate(a, scope);
        }
      }
      return;
    }
    const json::object* e = obj(o, "A_Expr");
    if (e == nullptr) {
      return;
    }
    std::string kind = str(*e, "kind");
    const json::array* name = arr(*e, "name");
    bool eq = name != nullptr && name->size() == 1 && stringNode((*name)[0]) == "=";
    const json::value* l = e->if_contains("lexpr");
    const json::value* r = e->if_contains("rexpr");
    if (l == nullptr || r == nullptr || !eq || (kind != "AEXPR_OP" && kind != "AEXPR_IN")) {
      return;
    }
    std::vector<TableRef> tables = columnTables(*l, scope);
    const json::value* other = r;
    if (tables.empty() && kind == "AEXPR_OP") {
      tables = columnTables(*r, scope);
      other = l;
    }
    if (tables.empty()) {
      return;
    }
    KeyFilter f;
    if (kind == "AEXPR_IN" && other->is_object() && obj(other->get_object(), "List")) {
      if (const json::array* items = arr(*obj(other->get_object(), "List"), "items")) {
        for (const auto& item : *items) {
          operand(item, f);
        }
      }
    } else {
      operand(*other, f);
    }
    if (f.values.empty() && f.params.empty()) {
      return;
    }
    for (auto& t : tables) {
      KeyFilter each = f;
      each.table = t;
      out_.push_back(std::move(each));
    }
  }

  // The relations a column reference to column_ may read; empty when `v` is not one.
  std::vector<TableRef> columnTables(const json::value& v, const Scope& scope) const {
    const json::object* ref = v.is_object() ? obj(v.get_object(), "ColumnRef") : nullptr;
    const json::array* fields = ref != nullptr ? arr(*ref, "fields") : nullptr;
    if (fields == nullptr || fields->empty() || stringNode(fields->back()) != column_) {
      return {};
    }
    if (fields->size() == 1) {
      return scope.all;
    }
    std::string qualifier = stringNode((*fields)[fields->size() - 2]);
    if (fields->size() == 3) {
      return {TableRef{stringNode((*fields)[0]), qualifier}};
    }
    auto it = scope.by_name.find(qualifier);
    return it != scope.by_name.end() ? std::vector<TableRef>{it->second} : std::vector<TableRef>{};
  }

  // A constant or parameter, through casts.
  static void operand(const json::value& v, KeyFilter& f) {
    if (!v.is_object()) {
      return;
    }
    const json::object& o = v.get_object();
    if (const json::object* cast = obj(o, "TypeCast")) {
      if (const json::value* arg = cast->if_contains("arg")) {
        operand(*arg, f);
      }
    } else if (const json::object* p = obj(o, "ParamRef")) {
      const json::value* n = p->if_contains("number");
      if (n != nullptr && n->is_int64()) {
        f.params.push_back(static_cast<int>(n->get_int64()));
      }
    } else if (const json::object* c = obj(o, "A_Const")) {
      if (const json::object* i = obj(*c, "ival")) {
        const json::value* n = i->if_contains("ival");
        f.values.push_back(n != nullptr && n->is_int64() ? std::to_string(n->get_int64()) : "0");
      } else if (const json::object* s = obj(*c, "sval")) {
        f.values.push_back(str(*s, "sval"));
      } else if (const json::object* fl = obj(*c, "fval")) {
        f.values.push_back(str(*fl, "fval"));
      }
    }
  }

  std::string column_;
  std::vector<KeyFilter>& out_;
};

}  // namespace

std::vector<KeyFilter> whereKeyFilters(std::string_view sql, std::string_view column) {
  std::vector<KeyFilter> out;
  std::string text(sql);
  if (column.empty() || text.find('\0') != std::string::npos) {
    return out;
  }
  PgQueryParseResult r = pg_query_parse(text.c_str());
  if (r.error == nullptr && r.parse_tree != nullptr) {
    json::error_code ec;
    json::value tree = json::parse(r.parse_tree, ec);
    if (!ec) {
      Finder(column, out).walk(tree);
    }
  }
  pg_query_free_parse_result(r);
  return out;
}

std::vector<std::string> keyValues(const std::vector<KeyFilter>& filters,
                                   const std::vector<std::optional<std::string>>& params) {
  std::vector<std::string> out;
  auto add = [&](const std::string& v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) {
      out.push_back(v);
    }
  };
  for (const auto& f : filters) {
    for (const auto& v : f.values) {
      add(v);
    }
    for (int n : f.params) {
      if (n >= 1 && static_cast<size_t>(n) <= params.size() && params[n - 1]) {
        add(*params[n - 1]);
      }
    }
  }
  return out;
}

}  // namespace jg::sql
