#include "sql/session_context.h"

#include <algorithm>
#include <cctype>

#include "sql/tree_walker.h"

namespace jg::sql {

std::optional<std::vector<std::string>> parseSearchPath(std::string_view text) {
  return detail::splitIdentifierList(text);
}

bool isUtf8Encoding(std::string_view name) {
  std::string clean;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      clean += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return clean == "utf8" || clean == "unicode";
}

SessionContext::SessionContext(std::vector<std::string> default_path, std::string user)
    : default_path_(std::move(default_path)), user_(std::move(user)) {
  setPath(default_path_);
  generation_ = 0;
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
      ++generation_;
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

const Statement* SessionContext::named(bool cursor, std::string_view name,
                                       std::shared_ptr<const Classification>* owner) const {
  const Named& names = cursor ? cursors_ : prepared_;
  auto it = names.find(name);
  if (it == names.end()) {
    return nullptr;
  }
  if (owner != nullptr) {
    *owner = it->second.owner;
  }
  return it->second.stmt;
}

// EXECUTE and (with decide_fetch_) FETCH/MOVE stand for a statement the session created
// earlier: they are decided as that statement, its names resolved as they resolve now.
void SessionContext::resolveNamed(const Named& names, const Statement& stmt, Resolved& out) const {
  auto it = names.find(stmt.prepared_name);
  if (it == names.end()) {
    out.known = false;
    return;
  }
  out.stmt = it->second.stmt;
  out.execute = &stmt;
  for (const auto& t : it->second.stmt->tables) {
    qualify(t, out.tables);
  }
}

void SessionContext::resolve(const Statement& stmt, Resolved& out) const {
  out.tables.clear();
  out.known = true;
  out.stmt = &stmt;
  out.execute = nullptr;
  if (stmt.kind == Kind::kExecute) {
    resolveNamed(prepared_, stmt, out);
    return;
  }
  if (decide_fetch_ && stmt.tag == "FetchStmt") {
    resolveNamed(cursors_, stmt, out);
    return;
  }
  for (const auto& t : stmt.tables) {
    qualify(t, out.tables);
  }
}

bool SessionContext::full(const Statement& stmt) const {
  if (stmt.kind == Kind::kPrepare) {
    return prepared_.size() >= max_named_ && !prepared_.contains(stmt.prepared_name);
  }
  if (stmt.tag == "DeclareCursorStmt") {
    return cursors_.size() >= max_named_ && !cursors_.contains(stmt.prepared_name);
  }
  return false;
}

void SessionContext::applyAll(const std::shared_ptr<const Classification>& c) {
  if (!c->status.isOk()) {
    return;
  }
  for (const auto& st : c->statements) {
    apply(st, c);
  }
}

void SessionContext::apply(const Statement& stmt,
                           const std::shared_ptr<const Classification>& owner) {
  if (stmt.search_path_unknown && !path_unknown_) {
    path_unknown_ = true;
    ++generation_;
  }
  if (stmt.resets_search_path) {
    setPath(default_path_);
  }
  if (stmt.search_path) {
    setPath(*stmt.search_path);
  }
  if (stmt.kind == Kind::kPrepare) {
    prepared_[stmt.prepared_name] = Prepared{owner, &stmt};
  } else if (stmt.tag == "DeclareCursorStmt") {
    cursors_[stmt.prepared_name] = Prepared{owner, &stmt};
  } else if (stmt.tag == "ClosePortalStmt") {
    if (stmt.prepared_name.empty()) {
      cursors_.clear();  // CLOSE ALL
    } else {
      cursors_.erase(stmt.prepared_name);
    }
  } else if (stmt.kind == Kind::kDeallocate) {
    if (stmt.prepared_name.empty()) {
      prepared_.clear();
    } else {
      prepared_.erase(stmt.prepared_name);
    }
  } else if (stmt.tag == "DiscardStmt") {
    prepared_.clear();
    cursors_.clear();
  }
}

}  // namespace jg::sql
