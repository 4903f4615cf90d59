#include "sql/tree_walker.h"

#include "sql/function_catalog.h"
#include "sql/walker.h"

namespace jg::sql::detail {

void Walker::value(const json::value& v, bool write) {
  if (v.is_object()) {
    object(v.get_object(), write);
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      value(e, write);
    }
  }
}

void Walker::object(const json::object& o, bool write) {
  std::string_view type;
  const json::object* inner = nullptr;
  if (unwrap(o, type, inner)) {
    node(type, *inner, write);
    return;
  }
  if (o.contains("relname")) {  // an unwrapped RangeVar (a typed field such as `relation`)
    rangeVar(o, write);
    return;
  }
  fields(o, write, {});
}

// Walks the members of a node; a few typed members hold unwrapped nodes and are dispatched by
// their field name.
void Walker::fields(const json::object& o, bool write,
                    std::initializer_list<std::string_view> skip) {
  for (const auto& kv : o) {
    std::string_view key = kv.key();
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) {
      continue;
    }
    const json::value& v = kv.value();
    std::string_view type;
    const json::object* inner = nullptr;
    if (v.is_object() && !unwrap(v.get_object(), type, inner)) {
      if (key == "larg" || key == "rarg") {
        select(v.get_object());
        continue;
      }
      if (key == "intoClause" || key == "into") {
        node("IntoClause", v.get_object(), write);
        continue;
      }
      if (key == "withClause") {  // handled by withScope; only reached for unexpected parents
        withScope(v.get_object(), [] {});
        continue;
      }
      if (key == "funccall") {
        funcCall(v.get_object());
        continue;
      }
    }
    value(v, write);
  }
}

void Walker::node(std::string_view type, const json::object& o, bool write) {
  if (type == "RangeVar") {
    rangeVar(o, write);
  } else if (type == "SelectStmt") {
    select(o);
  } else if (type == "InsertStmt") {
    modify(Kind::kInsert, o);
  } else if (type == "UpdateStmt") {
    modify(Kind::kUpdate, o);
  } else if (type == "DeleteStmt") {
    modify(Kind::kDelete, o);
  } else if (type == "MergeStmt") {
    modify(Kind::kMerge, o);
  } else if (type == "FuncCall") {
    funcCall(o);
  } else if (type == "ColumnRef") {
    columnRef(o);
  } else if (type == "IntoClause") {
    if (const json::object* rel = objOf(o, "rel")) {
      rangeVar(*rel, true);
    }
    addKind(Kind::kDdl);
    fields(o, false, {"rel"});
  } else if (type == "LockingClause") {
    st_.locks = true;
    addKind(Kind::kLock);  // FOR UPDATE/SHARE locks rows like LOCK TABLE locks tables
    fields(o, false, {});
  } else if (type == "A_Indirection") {
    fieldSelections(o);
    fields(o, write, {});
  } else if (type == "MergeWhenClause") {
    targetNames(o, "targetList");
    fields(o, false, {});
  } else {
    fields(o, write, {});
  }
}

void Walker::rangeVar(const json::object& o, bool write) {
  std::string schema(strOf(o, "schemaname"));
  std::string name(strOf(o, "relname"));
  if (const json::object* alias = objOf(o, "alias")) {
    aliases_.emplace_back(strOf(*alias, "aliasname"));
  }
  aliases_.push_back(name);
  if (schema.empty() && !write && std::find(ctes_.begin(), ctes_.end(), name) != ctes_.end()) {
    return;  // a reference to a CTE in scope, not a table
  }
  table(std::move(schema), std::move(name), write);
}

void Walker::table(std::string schema, std::string name, bool write) {
  write = write && !plan_only_;
  if (write) {
    st_.writes = true;
  }
  for (auto& t : st_.tables) {
    if (t.schema == schema && t.name == name) {
      t.write = t.write || write;
      return;
    }
  }
  st_.tables.push_back(TableRef{std::move(schema), std::move(name), write});
}

void Walker::nameList(const json::value& items, bool write) {
  std::vector<std::string_view> parts;
  const json::array* arr = nullptr;
  if (items.is_object()) {
    if (const json::object* l = objOf(items.get_object(), "List")) {
      arr = arrOf(*l, "items");
    } else if (auto s = stringNode(items); !s.empty()) {
      parts.push_back(s);
    }
  }
  if (arr != nullptr) {
    for (const auto& it : *arr) {
      parts.push_back(stringNode(it));
    }
  }
  if (parts.size() == 1) {
    table("", std::string(parts[0]), write);
  } else if (parts.size() >= 2) {
    table(std::string(parts[parts.size() - 2]), std::string(parts.back()), write);
  }
}

// Runs `body` with the CTE names of o's WITH clause in scope. A non-recursive CTE sees only the
// CTEs before it (so `WITH customers AS (SELECT * FROM customers)` reads the real table); a
// recursive WITH puts every name in scope first.
void Walker::withScope(const json::object& o, const std::function<void()>& body) {
  size_t mark = ctes_.size();
  const json::object* wc = objOf(o, "withClause");
  if (wc == nullptr && o.contains("ctes")) {
    wc = &o;
  }
  if (wc != nullptr) {
    const json::array* ctes = arrOf(*wc, "ctes");
    bool recursive = boolOf(*wc, "recursive");
    if (ctes != nullptr && recursive) {
      for (const auto& c : *ctes) {
        if (const json::object* cte =
                c.is_object() ? objOf(c.get_object(), "CommonTableExpr") : nullptr) {
          ctes_.emplace_back(strOf(*cte, "ctename"));
        }
      }
    }
    if (ctes != nullptr) {
      for (const auto& c : *ctes) {
        const json::object* cte =
            c.is_object() ? objOf(c.get_object(), "CommonTableExpr") : nullptr;
        if (cte == nullptr) {
          value(c, false);
          continue;
        }
        fields(*cte, false, {"ctename"});
        if (!recursive) {
          ctes_.emplace_back(strOf(*cte, "ctename"));
        }
      }
    }
  }
  body();
  ctes_.resize(mark);
}

void Walker::select(const json::object& o) {
  addKind(Kind::kSelect);
  withScope(o, [&] { fields(o, false, {"withClause"}); });
}

void Walker::modify(Kind k, const json::object& o) {
  addKind(k);
  withScope(o, [&] {
    if (const json::object* rel = objOf(o, "relation")) {
      rangeVar(*rel, true);
    }
    if (k == Kind::kInsert) {
      targetNames(o, "cols");
    } else if (k == Kind::kUpdate) {
      targetNames(o, "targetList");
    }
    fields(o, false, {"withClause", "relation"});
  });
}

// Column names of an INSERT column list or an UPDATE SET list (ResTarget.name).
void Walker::targetNames(const json::object& o, std::string_view key) {
  const json::array* list = arrOf(o, key);
  if (list == nullptr) {
    return;
  }
  for (const auto& item : *list) {
    if (!item.is_object()) {
      continue;
    }
    if (const json::object* rt = objOf(item.get_object(), "ResTarget")) {
      if (auto n = strOf(*rt, "name"); !n.empty()) {
        addColumn(n);
      }
    }
  }
}

void Walker::addColumn(std::string_view c) {
  addUnique(st_.columns, std::string(c));
}

void Walker::funcCall(const json::object& o) {
  std::string name;
  std::string_view schema, base;
  if (const json::array* parts = arrOf(o, "funcname")) {
    for (size_t i = 0; i < parts->size(); ++i) {
      std::string_view part = stringNode((*parts)[i]);
      name += (i ? "." : "") + std::string(part);
      if (i + 2 == parts->size()) {
        schema = part;  // [catalog.]schema.name: the schema is the part before the name
      }
      base = part;
    }
  }
  if (lower(base) == "set_config") {  // in any schema: the settings a statement changes matter
    setConfig(o);
  }
  call(schema, base);
  addUnique(st_.functions, std::move(name));
  fields(o, false, {"funcname"});
}

void Walker::call(std::string_view schema, std::string_view name) {
  KindSet kinds = builtinCallKinds(schema, name);
  if (!kinds.empty() && !plan_only_) {
    st_.kinds.add(kinds);
  }
}

// PostgreSQL reads `(x).f` as the function call f(x) when x has no field f — for any type of x:
// `SELECT ('s'::regclass).nextval` advances s. The name is reported as a function call.
void Walker::fieldSelections(const json::object& o) {
  if (const json::array* ind = arrOf(o, "indirection")) {
    for (const auto& i : *ind) {
      if (std::string_view f = stringNode(i); !f.empty()) {
        call("", f);
        addUnique(st_.functions, std::string(f));
      }
    }
  }
}

// set_config(setting, value, is_local): the setting, its value when constant, and the
// search_path it sets.
void Walker::setConfig(const json::object& o) {
  addKind(Kind::kSet);
  const json::array* args = arrOf(o, "args");
  std::optional<std::string_view> setting;
  std::optional<std::string> val;
  if (args != nullptr && args->size() >= 2) {
    setting = stringConst((*args)[0]);
    val = constText((*args)[1]);
  }
  std::string s = setting ? lower(*setting) : "*";
  if (s == "search_path" || s == "*") {
    if (val && setting) {
      st_.search_path = splitIdentifierList(*val);
      st_.search_path_unknown = !st_.search_path.has_value();
    } else {
      st_.search_path_unknown = true;
    }
  }
  if (setting) {
    st_.setting_values.push_back(SettingValue{s, std::move(val)});
  }
  addUnique(st_.settings, std::move(s));
}

void Walker::columnRef(const json::object& o) {
  const json::array* fields = arrOf(o, "fields");
  if (fields == nullptr || fields->empty()) {
    return;
  }
  const json::value& last = fields->back();
  if (last.is_object() && last.get_object().contains("A_Star")) {
    addColumn("*");
    return;
  }
  std::string_view name = stringNode(last);
  if (fields->size() == 1) {
    bare_refs_.emplace_back(name);
  }
  addColumn(name);
}

}  // namespace jg::sql::detail
