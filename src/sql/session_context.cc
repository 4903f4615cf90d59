#include "sql/session_context.h"

#include <algorithm>

namespace jg::sql {

SessionContext::SessionContext(std::vector<std::string> default_path, std::string user)
    : default_path_(std::move(default_path)), user_(std::move(user)) {
  setPath(default_path_);
}

void SessionContext::setUser(std::string user) {
  user_ = std::move(user);
  setPath(path_);
}

void SessionContext::setPath(std::vector<std::string> path) {
  path_ = std::move(path);
  for (const auto& s : path_) {
    std::string schema = s == "$user" ? user_ : s;
    if (schema.empty() || schema == "pg_temp" || schema.starts_with("pg_temp_")) {
      continue;
    }
    if (std::find(candidates_.begin(), candidates_.end(), schema) == candidates_.end()) {
      candidates_.push_back(std::move(schema));
    }
  }
}

void SessionContext::qualify(const TableRef& t, std::vector<TableRef>& out) const {
  auto push = [&](std::string_view schema) {
    for (auto& o : out) {
      if (o.schema == schema && o.name == t.name) {
        o.write = o.write || t.write;
        return;
      }
    }
    out.push_back(TableRef{std::string(schema), t.name, t.write});
  };
  if (!t.schema.empty()) {
    push(t.schema);
    return;
  }
  if (path_unknown_) {
    push("*");
    return;
  }
  if (t.name.starts_with("pg_")) {
    push("pg_catalog");
  }
  for (const auto& s : candidates_) {
    push(s);
  }
  if (candidates_.empty() && !t.name.starts_with("pg_")) {
    push("*");  // an empty search_path: PostgreSQL finds nothing, but stay on the safe side
  }
}

void SessionContext::resolve(const Statement& stmt, Resolved& out) const {
  out.tables.clear();
  out.known = true;
  out.stmt = &stmt;
  out.execute = nullptr;
  if (stmt.kind == Kind::kExecute) {
    auto it = prepared_.find(stmt.prepared_name);
    if (it == prepared_.end()) {
      out.known = false;
      return;
    }
    out.stmt = it->second.stmt;
    out.execute = &stmt;
    out.tables = it->second.tables;  // resolved when prepared, as PostgreSQL does
    return;
  }
  for (const auto& t : stmt.tables) {
    qualify(t, out.tables);
  }
}

void SessionContext::apply(const Statement& stmt,
                           const std::shared_ptr<const Classification>& owner) {
  if (stmt.search_path_unknown) {
    path_unknown_ = true;
  }
  if (stmt.resets_search_path) {
    setPath(default_path_);
  }
  if (stmt.search_path) {
    setPath(*stmt.search_path);
  }
  if (stmt.kind == Kind::kPrepare) {
    Prepared p;
    p.owner = owner;
    p.stmt = &stmt;
    for (const auto& t : stmt.tables) {
      qualify(t, p.tables);
    }
    prepared_[stmt.prepared_name] = std::move(p);
  } else if (stmt.kind == Kind::kDeallocate) {
    if (stmt.prepared_name.empty()) {
      prepared_.clear();
    } else {
      prepared_.erase(stmt.prepared_name);
    }
  } else if (stmt.tag == "DiscardStmt") {
    prepared_.clear();
  }
}

}  // namespace jg::sql
