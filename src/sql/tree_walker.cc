#include "sql/tree_walker.h"

#include <algorithm>
#include <cctype>
#include <functional>

namespace jg::sql::detail {

namespace json = boost::json;

namespace {

std::string_view strOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v != nullptr && v->is_string()) {
    return v->get_string();
  }
  return {};
}

bool boolOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::object* objOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* arrOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

// A wrapped node is `{"TypeName": {...}}`: one key starting with an upper-case letter.
bool unwrap(const json::object& o, std::string_view& type, const json::object*& inner) {
  if (o.size() != 1) {
    return false;
  }
  const auto& kv = *o.begin();
  if (kv.key().empty() || !std::isupper(static_cast<unsigned char>(kv.key()[0])) ||
      !kv.value().is_object()) {
    return false;
  }
  type = kv.key();
  inner = &kv.value().get_object();
  return true;
}

// The sval of a {"String": {"sval": ...}} node.
std::string_view stringNode(const json::value& v) {
  if (!v.is_object()) {
    return {};
  }
  const json::object* s = objOf(v.get_object(), "String");
  return s != nullptr ? strOf(*s, "sval") : std::string_view{};
}

// The string value of an A_Const node, if it is a string constant.
std::optional<std::string_view> stringConst(const json::value& v) {
  if (!v.is_object()) {
    return std::nullopt;
  }
  const json::object* c = objOf(v.get_object(), "A_Const");
  if (c == nullptr) {
    return std::nullopt;
  }
  const json::object* s = objOf(*c, "sval");
  if (s == nullptr) {
    return std::nullopt;
  }
  return strOf(*s, "sval");
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

class Walker {
 public:
  explicit Walker(Statement& st) : st_(st) {}

  void top(std::string_view type, const json::object& o);
  void finish();

 private:
  void value(const json::value& v, bool write);
  void object(const json::object& o, bool write);
  void node(std::string_view type, const json::object& o, bool write);
  void fields(const json::object& o, bool write, std::initializer_list<std::string_view> skip);
  void rangeVar(const json::object& o, bool write);
  void table(std::string schema, std::string name, bool write);
  void nameList(const json::value& items, bool write);  // ["s","t"] String list → table
  void addKind(Kind k) {
    if (!plan_only_) {
      st_.kinds.add(k);
    }
  }
  void select(const json::object& o);
  void modify(Kind k, const json::object& o);
  void withScope(const json::object& o, const std::function<void()>& body);
  void funcCall(const json::object& o);
  void columnRef(const json::object& o);
  void targetNames(const json::object& o, std::string_view key);
  void copy(const json::object& o);
  void explain(const json::object& o);
  void variableSet(const json::object& o);
  void ddl(const json::object& o);
  void dropStmt(const json::object& o);
  void grant(const json::object& o);
  void addColumn(std::string_view c);
  void addUnique(std::vector<std::string>& v, std::string s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) {
      v.push_back(std::move(s));
    }
  }

  Statement& st_;
  std::vector<std::string> ctes_;       // CTE names in scope
  std::vector<std::string> aliases_;    // relation names and aliases, to spot whole-row refs
  std::vector<std::string> bare_refs_;  // single-field column refs
  bool plan_only_ = false;              // inside EXPLAIN without ANALYZE: nothing runs
};

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
    fields(o, false, {});
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
  if (const json::array* parts = arrOf(o, "funcname")) {
    for (const auto& p : *parts) {
      if (!name.empty()) {
        name += '.';
      }
      name += stringNode(p);
    }
  }
  std::string_view base = name;
  if (auto dot = base.rfind('.'); dot != std::string_view::npos) {
    base = base.substr(dot + 1);
  }
  if (lower(base) == "set_config") {
    addKind(Kind::kSet);
    const json::array* args = arrOf(o, "args");
    std::optional<std::string_view> setting, val;
    if (args != nullptr && args->size() >= 2) {
      setting = stringConst((*args)[0]);
      val = stringConst((*args)[1]);
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
    addUnique(st_.settings, std::move(s));
  }
  addUnique(st_.functions, std::move(name));
  fields(o, false, {"funcname"});
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

void Walker::copy(const json::object& o) {
  bool from = boolOf(o, "is_from");
  st_.kind = from ? Kind::kCopyIn : Kind::kCopyOut;
  addKind(st_.kind);
  st_.copy_program = boolOf(o, "is_program");
  st_.copy_file = !st_.copy_program && o.contains("filename");
  if (const json::object* rel = objOf(o, "relation")) {
    rangeVar(*rel, from);
  }
  if (const json::array* cols = arrOf(o, "attlist")) {
    for (const auto& c : *cols) {
      addColumn(stringNode(c));
    }
  } else if (o.contains("relation")) {
    addColumn("*");
  }
  fields(o, false, {"relation", "attlist"});
}

void Walker::explain(const json::object& o) {
  bool analyze = false;
  if (const json::array* opts = arrOf(o, "options")) {
    for (const auto& d : *opts) {
      const json::object* def = d.is_object() ? objOf(d.get_object(), "DefElem") : nullptr;
      if (def == nullptr || strOf(*def, "defname") != "analyze") {
        continue;
      }
      analyze = true;  // EXPLAIN (ANALYZE false) is the only way to turn it off again
      if (const json::object* arg = objOf(*def, "arg")) {
        if (const json::object* s = objOf(*arg, "String")) {
          std::string v = lower(strOf(*s, "sval"));
          analyze = !(v == "false" || v == "off" || v == "0" || v == "no");
        } else if (const json::object* b = objOf(*arg, "Boolean")) {
          analyze = boolOf(*b, "boolval");
        }
      }
    }
  }
  st_.kind = Kind::kExplain;
  st_.kinds.add(Kind::kExplain);
  if (const json::object* q = objOf(o, "query")) {
    std::string_view type;
    const json::object* inner = nullptr;
    if (unwrap(*q, type, inner)) {
      Statement probe;
      Walker w(probe);
      w.top(type, *inner);
      st_.explained = probe.kind;
      if (probe.kind == Kind::kExecute && analyze) {
        // Runs a prepared statement this classification cannot see: never allowed by a rule.
        st_.kinds.add(Kind::kUnknown);
        st_.prepared_name = probe.prepared_name;
      }
    }
    bool saved = plan_only_;
    plan_only_ = !analyze;
    value(*q, false);
    plan_only_ = saved;
  }
}

void Walker::variableSet(const json::object& o) {
  std::string_view kind = strOf(o, "kind");
  std::string name = lower(strOf(o, "name"));
  bool reset = kind == "VAR_RESET" || kind == "VAR_RESET_ALL";
  st_.kind = reset ? Kind::kReset : Kind::kSet;
  addKind(st_.kind);
  if (kind == "VAR_RESET_ALL") {
    name = "all";
  }
  if (!name.empty()) {
    addUnique(st_.settings, name);
  }
  if (name == "search_path") {
    if (kind == "VAR_SET_VALUE") {
      std::vector<std::string> path;
      if (const json::array* args = arrOf(o, "args")) {
        for (const auto& a : *args) {
          if (auto s = stringConst(a)) {
            path.emplace_back(*s);
          } else {
            st_.search_path_unknown = true;
          }
        }
      }
      st_.search_path = std::move(path);
    } else if (kind != "VAR_SET_CURRENT") {
      st_.resets_search_path = true;  // RESET, SET ... TO DEFAULT
    } else {
      st_.search_path_unknown = true;  // SET ... FROM CURRENT
    }
  } else if (name == "all") {
    st_.resets_search_path = true;
  }
  fields(o, false, {});
}

void Walker::dropStmt(const json::object& o) {
  std::string_view type = strOf(o, "removeType");
  const json::array* objects = arrOf(o, "objects");
  if (objects == nullptr) {
    return;
  }
  bool relation = type == "OBJECT_TABLE" || type == "OBJECT_VIEW" || type == "OBJECT_MATVIEW" ||
                  type == "OBJECT_FOREIGN_TABLE" || type == "OBJECT_SEQUENCE" ||
                  type == "OBJECT_INDEX";
  for (const auto& obj : *objects) {
    if (relation) {
      nameList(obj, true);
    } else if (type == "OBJECT_SCHEMA") {
      table(std::string(stringNode(obj)), "*", true);
    }
  }
  fields(o, false, {"objects"});
}

void Walker::grant(const json::object& o) {
  if (strOf(o, "targtype") == "ACL_TARGET_ALL_IN_SCHEMA") {
    if (const json::array* objects = arrOf(o, "objects")) {
      for (const auto& obj : *objects) {
        table(std::string(stringNode(obj)), "*", true);
      }
    }
    fields(o, false, {"objects"});
    return;
  }
  fields(o, true, {});
}

// Schema changes: the relations a DDL statement names are written; a query inside it (CREATE
// VIEW ... AS, CREATE TABLE ... AS) is read.
void Walker::ddl(const json::object& o) {
  for (const auto& kv : o) {
    bool query = kv.key() == "query";
    if (kv.key() == "into" && kv.value().is_object()) {
      node("IntoClause", kv.value().get_object(), true);
    } else if (kv.key() == "object" && strOf(o, "objtype") == "OBJECT_TABLE") {
      nameList(kv.value(), true);
    } else {
      value(kv.value(), !query);
    }
  }
}

void Walker::top(std::string_view type, const json::object& o) {
  st_.tag = std::string(type);
  auto simple = [&](Kind k, bool write) {
    st_.kind = k;
    addKind(k);
    fields(o, write, {});
  };
  if (type == "SelectStmt") {
    st_.kind = Kind::kSelect;
    select(o);
    if (o.contains("intoClause")) {
      st_.writes = true;
    }
  } else if (type == "InsertStmt") {
    st_.kind = Kind::kInsert;
    modify(Kind::kInsert, o);
  } else if (type == "UpdateStmt") {
    st_.kind = Kind::kUpdate;
    modify(Kind::kUpdate, o);
  } else if (type == "DeleteStmt") {
    st_.kind = Kind::kDelete;
    modify(Kind::kDelete, o);
  } else if (type == "MergeStmt") {
    st_.kind = Kind::kMerge;
    modify(Kind::kMerge, o);
  } else if (type == "CopyStmt") {
    copy(o);
  } else if (type == "ExplainStmt") {
    explain(o);
  } else if (type == "PrepareStmt" || type == "DeclareCursorStmt") {
    st_.kind = type == "PrepareStmt" ? Kind::kPrepare : Kind::kCursor;
    st_.prepared_name = std::string(strOf(o, type == "PrepareStmt" ? "name" : "portalname"));
    if (const json::object* q = objOf(o, "query")) {
      Statement probe;
      Walker w(probe);
      std::string_view t;
      const json::object* inner = nullptr;
      if (unwrap(*q, t, inner)) {
        w.top(t, *inner);
        st_.explained = probe.kind;
      }
    }
    fields(o, false, {"name", "portalname"});
  } else if (type == "ExecuteStmt") {
    st_.kind = Kind::kExecute;
    st_.prepared_name = std::string(strOf(o, "name"));
    fields(o, false, {"name"});
  } else if (type == "DeallocateStmt") {
    st_.kind = Kind::kDeallocate;
    st_.kinds.add(Kind::kDeallocate);
    st_.prepared_name = std::string(strOf(o, "name"));
  } else if (type == "FetchStmt" || type == "ClosePortalStmt") {
    simple(Kind::kCursor, false);
  } else if (type == "VariableSetStmt") {
    variableSet(o);
  } else if (type == "VariableShowStmt") {
    simple(Kind::kShow, false);
  } else if (type == "DiscardStmt") {
    simple(Kind::kReset, false);
    st_.resets_search_path = true;
    st_.settings.push_back("all");
  } else if (type == "TransactionStmt") {
    simple(Kind::kTransaction, false);
  } else if (type == "DoStmt") {
    simple(Kind::kDo, false);
  } else if (type == "CallStmt") {
    simple(Kind::kCall, false);
  } else if (type == "ListenStmt" || type == "UnlistenStmt") {
    simple(Kind::kListen, false);
  } else if (type == "NotifyStmt") {
    simple(Kind::kNotify, false);
  } else if (type == "LockStmt") {
    st_.locks = true;
    simple(Kind::kLock, false);
  } else if (type == "TruncateStmt") {
    simple(Kind::kTruncate, true);
  } else if (type == "VacuumStmt") {
    simple(boolOf(o, "is_vacuumcmd") ? Kind::kVacuum : Kind::kAnalyze, false);
  } else if (type == "ClusterStmt" || type == "ReindexStmt" || type == "CheckPointStmt") {
    simple(Kind::kMaintenance, false);
  } else if (type == "GrantStmt" || type == "GrantRoleStmt" || type == "CreateRoleStmt" ||
             type == "AlterRoleStmt" || type == "AlterRoleSetStmt" || type == "DropRoleStmt" ||
             type == "AlterDefaultPrivilegesStmt" || type == "ReassignOwnedStmt" ||
             type == "DropOwnedStmt") {
    st_.kind = Kind::kDcl;
    addKind(Kind::kDcl);
    st_.writes = true;
    if (type == "GrantStmt") {
      grant(o);
    } else {
      fields(o, false, {});
    }
  } else if (type == "AlterSystemStmt") {
    st_.kind = Kind::kDdl;
    addKind(Kind::kDdl);
    st_.writes = true;
    st_.settings.push_back("alter system");
  } else if (type == "DropStmt") {
    st_.kind = Kind::kDdl;
    addKind(Kind::kDdl);
    st_.writes = true;
    dropStmt(o);
  } else if (startsWith(type, "Create") || startsWith(type, "Alter") || startsWith(type, "Drop") ||
             startsWith(type, "Define") || type == "CommentStmt" || type == "RenameStmt" ||
             type == "IndexStmt" || type == "ViewStmt" || type == "RuleStmt" ||
             type == "CompositeTypeStmt" || type == "SecLabelStmt" ||
             type == "ImportForeignSchemaStmt" || type == "RefreshMatViewStmt" ||
             type == "AlterTableStmt") {
    st_.kind = Kind::kDdl;
    addKind(Kind::kDdl);
    st_.writes = true;
    ddl(o);
  } else {
    simple(Kind::kOther, false);
  }
}

void Walker::finish() {
  // A bare column reference that names a relation or alias is a whole-row reference: it reads
  // every column, like `*`.
  for (const auto& ref : bare_refs_) {
    if (std::find(aliases_.begin(), aliases_.end(), ref) != aliases_.end()) {
      addColumn("*");
      break;
    }
  }
  if (st_.kinds.intersects(kWriteKinds)) {
    st_.writes = true;
  }
  if ((st_.kind == Kind::kDdl || st_.kind == Kind::kDcl) && st_.tables.empty()) {
    // A schema change whose objects are not relations we can name: report "any table" so that
    // only rules without a table restriction can allow it.
    st_.tables.push_back(TableRef{"*", "*", true});
  }
}

}  // namespace

void classifyStatement(const json::object& stmt, Statement& out) {
  Walker w(out);
  std::string_view type;
  const json::object* inner = nullptr;
  if (unwrap(stmt, type, inner)) {
    w.top(type, *inner);
  } else {
    out.kind = Kind::kOther;
    out.kinds.add(Kind::kOther);
  }
  w.finish();
}

std::optional<std::vector<std::string>> splitIdentifierList(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
  };
  skipSpace();
  if (i == text.size()) {
    return out;
  }
  while (true) {
    skipSpace();
    std::string ident;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (true) {
        if (i >= text.size()) {
          return std::nullopt;  // unterminated quote
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            ident += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ident += text[i++];
      }
    } else {
      while (i < text.size() && text[i] != ',' &&
             !std::isspace(static_cast<unsigned char>(text[i]))) {
        ident += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i++])));
      }
      if (ident.empty()) {
        return std::nullopt;
      }
    }
    out.push_back(std::move(ident));
    skipSpace();
    if (i == text.size()) {
      return out;
    }
    if (text[i] != ',') {
      return std::nullopt;
    }
    ++i;
  }
}

}  // namespace jg::sql::detail
