// Top-level statement dispatch of the parse-tree walker: which kind each statement node is,
// and the statements whose options matter (COPY, EXPLAIN, SET, DROP, GRANT, other DDL).
#include "sql/tree_walker.h"
#include "sql/walker.h"

namespace jg::sql::detail {

namespace {

// The one-byte value of a COPY option; nullopt when it is not a one-byte constant.
std::optional<char> oneByte(const json::object& def) {
  const json::value* arg = def.if_contains("arg");
  std::optional<std::string> v = arg != nullptr ? constText(*arg) : std::nullopt;
  if (!v && arg != nullptr && arg->is_object()) {
    if (const json::object* s = objOf(arg->get_object(), "String")) {
      v = std::string(strOf(*s, "sval"));
    }
  }
  return v && v->size() == 1 ? std::optional<char>((*v)[0]) : std::nullopt;
}

// HEADER, HEADER true/false/on/off/1/0 (MATCH is for COPY FROM only).
bool truthy(const json::object& def, bool& readable) {
  const json::value* arg = def.if_contains("arg");
  if (arg == nullptr || !arg->is_object()) {
    return true;
  }
  const json::object& a = arg->get_object();
  if (const json::object* b = objOf(a, "Boolean")) {
    return boolOf(*b, "boolval");
  }
  if (const json::object* i = objOf(a, "Integer")) {
    return i->contains("ival") && i->at("ival") != 0;
  }
  std::string v = lower(strOf(objOf(a, "String") ? *objOf(a, "String") : a, "sval"));
  readable = readable && (v == "true" || v == "on" || v == "false" || v == "off");
  return v == "true" || v == "on";
}

std::string stringArg(const json::object& def) {
  const json::value* arg = def.if_contains("arg");
  const json::object* s =
      arg != nullptr && arg->is_object() ? objOf(arg->get_object(), "String") : nullptr;
  return s != nullptr ? std::string(strOf(*s, "sval")) : std::string();
}

void copyOption(std::string_view name, const json::object& def, CopyOptions& c,
                std::optional<char>& escape) {
  if (name == "format") {
    std::string f = lower(stringArg(def));
    c.format = f == "csv"      ? CopyOptions::Format::kCsv
               : f == "binary" ? CopyOptions::Format::kBinary
                               : CopyOptions::Format::kText;
    c.readable = c.readable && (f == "csv" || f == "binary" || f == "text");
  } else if (name == "delimiter" || name == "quote" || name == "escape") {
    std::optional<char> b = oneByte(def);
    c.readable = c.readable && b.has_value();
    char& field = name == "delimiter" ? c.delimiter : name == "quote" ? c.quote : c.escape;
    field = b.value_or(field);
    if (name == "escape") {
      escape = b;
    }
  } else if (name == "null") {
    c.null_string = stringArg(def);
  } else if (name == "header") {
    c.header = truthy(def, c.readable);
  } else if (name == "encoding") {
    c.encoding = stringArg(def);
  }
}

CopyOptions copyOptions(const json::object& o) {
  CopyOptions c;
  std::optional<char> delimiter, escape;
  bool null_given = false;
  if (const json::array* opts = arrOf(o, "options")) {
    for (const auto& d : *opts) {
      const json::object* def = d.is_object() ? objOf(d.get_object(), "DefElem") : nullptr;
      if (def == nullptr) {
        continue;
      }
      std::string_view name = strOf(*def, "defname");
      copyOption(name, *def, c, escape);
      delimiter = name == "delimiter" ? std::optional<char>(c.delimiter) : delimiter;
      null_given = null_given || name == "null";
    }
  }
  bool csv = c.format == CopyOptions::Format::kCsv;
  c.delimiter = delimiter.value_or(csv ? ',' : '\t');
  c.null_string = null_given ? c.null_string : (csv ? "" : "\\N");
  c.escape = escape.value_or(c.quote);
  if (const json::array* cols = arrOf(o, "attlist")) {
    for (const auto& col : *cols) {
      c.columns.emplace_back(stringNode(col));
    }
  }
  return c;
}

}  // namespace

void Walker::copy(const json::object& o) {
  bool from = boolOf(o, "is_from");
  st_.copy = copyOptions(o);
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

namespace {

// The value of `SET name = a, b`, as PostgreSQL joins a list ("a, b"); nullopt when an argument
// is not a constant (SET TIME ZONE INTERVAL '...' HOUR TO MINUTE).
std::optional<std::string> setValue(const json::object& o) {
  std::string out;
  if (const json::array* args = arrOf(o, "args")) {
    for (size_t i = 0; i < args->size(); ++i) {
      std::optional<std::string> v = constText((*args)[i]);
      if (!v) {
        return std::nullopt;
      }
      out += (i ? ", " : "") + *v;
    }
  }
  return out;
}

// PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED outlive the session: not
// housekeeping.
bool twoPhase(const json::object& o) {
  std::string_view k = strOf(o, "kind");
  return k == "TRANS_STMT_PREPARE" || k == "TRANS_STMT_COMMIT_PREPARED" ||
         k == "TRANS_STMT_ROLLBACK_PREPARED";
}

}  // namespace

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
  if (kind == "VAR_SET_VALUE") {
    st_.setting_values.push_back(SettingValue{name, setValue(o)});
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
    st_.prepared_name = std::string(strOf(o, "portalname"));  // "" = CLOSE ALL
  } else if (type == "VariableSetStmt") {
    variableSet(o);
  } else if (type == "VariableShowStmt") {
    simple(Kind::kShow, false);
  } else if (type == "DiscardStmt") {
    simple(Kind::kReset, false);
    st_.resets_search_path = true;
    st_.settings.push_back("all");
  } else if (type == "TransactionStmt") {
    simple(twoPhase(o) ? Kind::kTwoPhase : Kind::kTransaction, false);
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
  traceLineage(stmt, out);
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
