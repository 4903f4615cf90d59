// Internal: the parse-tree walker behind classifyStatement (tree_walker.h), split over
// tree_walker.cc (generic traversal, expressions, CTE scopes, DML) and statement_kinds.cc
// (top-level statement dispatch: COPY, EXPLAIN, SET, DDL, ...). Not thread-safe.
#pragma once

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/statement.h"

namespace jg::sql::detail {

namespace json = boost::json;

inline std::string_view strOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v != nullptr && v->is_string()) {
    return v->get_string();
  }
  return {};
}

inline bool boolOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

inline const json::object* objOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

inline const json::array* arrOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

// A wrapped node is `{"TypeName": {...}}`: one key starting with an upper-case letter.
inline bool unwrap(const json::object& o, std::string_view& type, const json::object*& inner) {
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
inline std::string_view stringNode(const json::value& v) {
  if (!v.is_object()) {
    return {};
  }
  const json::object* s = objOf(v.get_object(), "String");
  return s != nullptr ? strOf(*s, "sval") : std::string_view{};
}

// The string value of an A_Const node, if it is a string constant.
inline std::optional<std::string_view> stringConst(const json::value& v) {
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

// The text PostgreSQL reads for a constant of a SET value or a function argument: a string, a
// number (an integer 0 has no `ival` member in the tree) or a boolean; nullopt for anything else.
inline std::optional<std::string> constText(const json::value& v) {
  const json::object* c = v.is_object() ? objOf(v.get_object(), "A_Const") : nullptr;
  if (c == nullptr) {
    return std::nullopt;
  }
  if (const json::object* s = objOf(*c, "sval")) {
    return std::string(strOf(*s, "sval"));
  }
  if (const json::object* i = objOf(*c, "ival")) {
    const json::value* n = i->if_contains("ival");
    if (n == nullptr) {
      return "0";
    }
    return n->is_int64() ? std::optional(std::to_string(n->get_int64())) : std::nullopt;
  }
  if (const json::object* f = objOf(*c, "fval")) {
    return std::string(strOf(*f, "fval"));
  }
  if (const json::object* b = objOf(*c, "boolval")) {
    return boolOf(*b, "boolval") ? "true" : "false";
  }
  return std::nullopt;
}

inline bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

inline std::string lower(std::string_view s) {
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
  void setConfig(const json::object& o);
  void call(std::string_view schema, std::string_view name);  // kinds of a built-in function
  void fieldSelections(const json::object& o);                // `(x).f` may call f(x)
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

}  // namespace jg::sql::detail
