// The client's view of a Tracker (tracker.h): what names will refer to once every request
// already passed to onFrontend has been answered, for deciding a message before the server
// answers the ones before it.
#include "proto/pg/tracker.h"

namespace jg::pg {
namespace {

// How far back portalDescribedForExecute looks in the pending queue before it gives up.
constexpr size_t kMaxDescribeLookBack = 256;

}  // namespace

const Tracker::PendingItem* Tracker::newestPending(
    const std::unordered_map<std::string, const PendingItem*>& index, std::string_view name) const {
  auto it = index.find(std::string(name));
  return it == index.end() ? nullptr : it->second;
}

SqlText Tracker::statementSql(std::string_view name) const {
  if (const PendingItem* p = newestPending(newest_parse_, name)) {
    return p->stmt->sql;
  }
  const PreparedStatement* st = statement(name);
  return st != nullptr ? st->sql : nullptr;
}

std::vector<uint32_t> Tracker::statementParamTypes(std::string_view name) const {
  if (const PendingItem* p = newestPending(newest_parse_, name)) {
    return p->stmt->param_types;
  }
  const PreparedStatement* st = statement(name);
  return st != nullptr ? st->param_types : std::vector<uint32_t>{};
}

void Tracker::portalSqls(std::string_view name, std::vector<SqlText>& out) const {
  out.clear();
  const PendingItem* bind = newestPending(newest_bind_, name);
  if (bind != nullptr) {
    const std::string& stmt = bind->portal->statement;
    const PendingItem* parse = newestPending(newest_parse_, stmt);
    if (parse != nullptr) {
      out.push_back(parse->stmt->sql);
    }
    const PreparedStatement* held = statement(stmt);
    if (held != nullptr && !(parse != nullptr && stmt.empty())) {
      out.push_back(held->sql);  // a Parse of a named statement in use fails: the old one stays
    }
  }
  const Portal* held = portal(name);
  if (held != nullptr && !(bind != nullptr && name.empty())) {
    out.push_back(held->sql);
  }
  std::erase(out, nullptr);
}

bool Tracker::portalDescribedForExecute(std::string_view name) const {
  size_t stop = pending_.size() > kMaxDescribeLookBack ? pending_.size() - kMaxDescribeLookBack : 0;
  for (size_t i = pending_.size(); i > stop; --i) {
    const PendingItem& item = pending_[i - 1];
    if (item.name != name) {
      continue;
    }
    if (item.kind == Pending::kDescribePortal) {
      return true;
    }
    if (item.kind == Pending::kBind) {
      return statementDescribedBefore(item.portal->statement, i - 1);
    }
  }
  if (stop > 0) {
    return false;
  }
  const Portal* held = portal(name);
  return held == nullptr || held->described;
}

// Whether statement `name` is described once the requests before pending_[end] are answered.
bool Tracker::statementDescribedBefore(std::string_view name, size_t end) const {
  size_t stop = end > kMaxDescribeLookBack ? end - kMaxDescribeLookBack : 0;
  for (size_t i = end; i > stop; --i) {
    const PendingItem& item = pending_[i - 1];
    if (item.name != name) {
      continue;
    }
    if (item.kind == Pending::kDescribeStatement) {
      return true;
    }
    if (item.kind == Pending::kParse) {
      return false;
    }
  }
  if (stop > 0) {
    return false;
  }
  const PreparedStatement* held = statement(name);
  return held != nullptr && held->described;
}

uint64_t Tracker::portalTag(std::string_view name) const {
  if (const PendingItem* p = newestPending(newest_bind_, name)) {
    return p->tag;
  }
  const Portal* held = portal(name);
  return held != nullptr ? held->tag : 0;
}

}  // namespace jg::pg
