#include "server/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace jg::server {
namespace {

constexpr auto kTtl = std::chrono::seconds(60);

}  // namespace

CatalogCache::~CatalogCache() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
  }
}

std::vector<uint32_t> CatalogCache::missing(const std::vector<uint32_t>& oids) const {
  std::shared_lock lock(mu_);
  std::vector<uint32_t> out;
  auto now = std::chrono::steady_clock::now();
  for (uint32_t oid : oids) {
    auto it = tables_.find(oid);
    if (it == tables_.end() || now - it->second.loaded > kTtl) {
      out.push_back(oid);
    }
  }
  return out;
}

Status CatalogCache::connectLocked() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
    return Status::ok();
  }
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  std::string port = std::to_string(upstream_.port);
  // Keyword/value arrays: no connection-string quoting, and the password is never formatted.
  std::vector<const char*> keys = {"host",     "port",    "dbname",           "user",
                                   "password", "sslmode", "application_name", "connect_timeout"};
  std::vector<const char*> values = {upstream_.host.c_str(),     port.c_str(),
                                     upstream_.database.c_str(), upstream_.user.c_str(),
                                     upstream_.password.c_str(), sslModeName(upstream_.sslmode),
                                     "jitgate-catalog",          "5"};
  if (!upstream_.sslrootcert.empty()) {
    keys.push_back("sslrootcert");
    values.push_back(upstream_.sslrootcert.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 0);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) {
      why.pop_back();
    }
    PQfinish(conn_);
    conn_ = nullptr;
    return Status::error(Code::kUnavailable,
                         "cannot read the catalog of the upstream to apply column masking: " + why,
                         "08001");
  }
  return Status::ok();
}

Status CatalogCache::load(const std::vector<uint32_t>& oids) {
  if (oids.empty()) {
    return Status::ok();
  }
  std::lock_guard conn_lock(conn_mu_);
  if (auto st = connectLocked(); !st) {
    return st;
  }
  std::string list = "{";
  for (size_t i = 0; i < oids.size(); ++i) {
    list += (i ? "," : "") + std::to_string(oids[i]);
  }
  list += "}";
  const char* sql =
      "SELECT c.oid, n.nspname, c.relname, a.attnum, a.attname, a.attisdropped "
      "FROM pg_catalog.pg_class c "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
      "WHERE c.oid = ANY($1::pg_catalog.oid[]) ORDER BY c.oid, a.attnum";
  const char* params[] = {list.c_str()};
  PGresult* res = PQexecParams(conn_, sql, 1, nullptr, params, nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    std::string why = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn_);
    conn_ = nullptr;
    return Status::error(Code::kUnavailable, "catalog lookup for column masking failed: " + why,
                         "XX000");
  }
  std::unordered_map<uint32_t, Table> fresh;
  auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < PQntuples(res); ++i) {
    uint32_t oid = static_cast<uint32_t>(std::strtoul(PQgetvalue(res, i, 0), nullptr, 10));
    int attnum = std::atoi(PQgetvalue(res, i, 3));
    Table& t = fresh[oid];
    t.schema = PQgetvalue(res, i, 1);
    t.name = PQgetvalue(res, i, 2);
    t.loaded = now;
    if (attnum > static_cast<int>(t.columns.size())) {
      t.columns.resize(static_cast<size_t>(attnum));
    }
    bool dropped = PQgetvalue(res, i, 5)[0] == 't';
    t.columns[static_cast<size_t>(attnum - 1)] = dropped ? "" : PQgetvalue(res, i, 4);
  }
  PQclear(res);
  std::unique_lock lock(mu_);
  for (uint32_t oid : oids) {
    auto it = fresh.find(oid);
    if (it != fresh.end()) {
      tables_[oid] = std::move(it->second);
      fresh.erase(it);  // `oids` may name a table twice
    } else if (!tables_.count(oid) || now - tables_[oid].loaded > kTtl) {
      tables_[oid] = Table{{}, {}, {}, now};  // not a table we can name (dropped meanwhile)
    }
  }
  return Status::ok();
}

namespace {

// A text[] literal: every element double-quoted, `"` and `\` escaped.
std::string textArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

}  // namespace

Result<std::vector<TableColumns>> CatalogCache::tableColumns(
    const std::string& table, const std::vector<std::string>& schemas) {
  std::lock_guard conn_lock(conn_mu_);
  if (auto st = connectLocked(); !st) {
    return st;
  }
  bool any = std::find(schemas.begin(), schemas.end(), "*") != schemas.end();
  std::string list = textArray(schemas);
  const char* sql =
      "SELECT n.nspname, a.attname FROM pg_catalog.pg_class c "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
      "AND NOT a.attisdropped "
      "WHERE c.relname = $1 AND c.relkind IN ('r', 'p') "
      "AND ($2::pg_catalog.text[] IS NULL OR n.nspname = ANY($2::pg_catalog.text[])) "
      "ORDER BY n.nspname, a.attnum";
  const char* params[] = {table.c_str(), any ? nullptr : list.c_str()};
  PGresult* res = PQexecParams(conn_, sql, 2, nullptr, params, nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    std::string why = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn_);
    conn_ = nullptr;
    return Status::error(Code::kUnavailable, "catalog lookup for COPY masking failed: " + why,
                         "XX000");
  }
  std::vector<TableColumns> out;
  for (int i = 0; i < PQntuples(res); ++i) {
    std::string schema = PQgetvalue(res, i, 0);
    if (out.empty() || out.back().schema != schema) {
      out.push_back(TableColumns{schema, {}});
    }
    out.back().columns.emplace_back(PQgetvalue(res, i, 1));
  }
  PQclear(res);
  return out;
}

std::optional<ColumnName> CatalogCache::lookup(uint32_t table_oid, int16_t attnum) const {
  std::shared_lock lock(mu_);
  auto it = tables_.find(table_oid);
  if (it == tables_.end() || attnum <= 0 ||
      static_cast<size_t>(attnum) > it->second.columns.size() || it->second.name.empty()) {
    return std::nullopt;
  }
  return ColumnName{it->second.schema, it->second.name,
                    it->second.columns[static_cast<size_t>(attnum - 1)]};
}

}  // namespace jg::server
