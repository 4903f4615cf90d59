// CatalogCache: table OID and attribute number → schema, table and column names, for one
// upstream. Column masking rules name `schema.table.column`; RowDescription carries only OIDs.
//
// Lookups read a shared cache; misses are filled by load(), which queries pg_catalog over a
// separate libpq connection with the resource's credentials. load() blocks: call it off the
// I/O threads. Entries expire after a minute so renames are picked up. Thread-safe.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "server/config.h"

namespace jg::server {

struct ColumnName {
  std::string schema;
  std::string table;
  std::string column;
};

// A table's live columns, in attnum order.
struct TableColumns {
  std::string schema;
  std::vector<std::string> columns;
};

class CatalogCache {
 public:
  explicit CatalogCache(UpstreamConfig upstream) : upstream_(std::move(upstream)) {}
  ~CatalogCache();
  CatalogCache(const CatalogCache&) = delete;
  CatalogCache& operator=(const CatalogCache&) = delete;

  // The OIDs among `oids` that are not cached (or expired).
  std::vector<uint32_t> missing(const std::vector<uint32_t>& oids) const;
  // Fetches the given tables. Blocking.
  Status load(const std::vector<uint32_t>& oids);
  std::optional<ColumnName> lookup(uint32_t table_oid, int16_t attnum) const;
  // The tables (ordinary or partitioned) named `table` in any of `schemas` ("*" = any schema),
  // one per schema, with their columns. Not cached (COPY asks for it). Blocking.
  Result<std::vector<TableColumns>> tableColumns(const std::string& table,
                                                 const std::vector<std::string>& schemas);

 private:
  struct Table {
    std::string schema, name;
    std::vector<std::string> columns;  // by attnum - 1; empty names for dropped columns
    std::chrono::steady_clock::time_point loaded;
  };
  Status connectLocked();

  UpstreamConfig upstream_;
  mutable std::shared_mutex mu_;
  std::unordered_map<uint32_t, Table> tables_;
  std::mutex conn_mu_;
  PGconn* conn_ = nullptr;
};

}  // namespace jg::server
