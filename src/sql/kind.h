// Statement kinds: what a SQL statement does, as far as access policy is concerned.
//
// A Kind names one action (select, insert, ddl, ...). A KindSet is a small bit set of kinds: a
// statement may do several things at once (a data-modifying CTE inside a SELECT, EXPLAIN
// ANALYZE of a DELETE). Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jg::sql {

enum class Kind : uint8_t {
  kSelect,
  kInsert,
  kUpdate,
  kDelete,
  kMerge,
  kCopyIn,   // COPY ... FROM
  kCopyOut,  // COPY ... TO
  kDdl,      // CREATE/ALTER/DROP/COMMENT/..., CREATE TABLE AS, SELECT INTO
  kDcl,      // GRANT/REVOKE, role creation and changes
  kSet,      // SET, set_config(), SET TRANSACTION
  kReset,    // RESET, DISCARD
  kShow,
  kTransaction,  // BEGIN/COMMIT/ROLLBACK/SAVEPOINT/...
  kPrepare,
  kExecute,
  kDeallocate,
  kCall,
  kDo,
  kListen,  // LISTEN/UNLISTEN
  kNotify,
  kLock,
  kTruncate,
  kVacuum,
  kAnalyze,
  kExplain,
  kCursor,       // DECLARE/FETCH/MOVE/CLOSE
  kMaintenance,  // CLUSTER/REINDEX/CHECKPOINT, index maintenance functions (brin_summarize_range)
  // Built-in functions classified by what they do (function_catalog.h), and two-phase commit.
  kSqlText,      // functions that run SQL text or dump relations by name (query_to_xml, ts_stat)
  kSequence,     // nextval, setval
  kLargeObject,  // lo_create, lo_put, lowrite, loread, ...: every large-object function
  kSignal,       // pg_cancel_backend, pg_terminate_backend, pg_reload_conf, pg_promote, ...
  kServerFiles,  // pg_read_file, pg_ls_dir, lo_import, lo_export, ...
  kServerAdmin,  // pg_stat_reset, pg_switch_wal, replication slots and origins, ...
  kTwoPhase,     // PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
  kOther,        // anything else the parser accepts (LOAD, ...)
  kUnknown,      // not classified (EXECUTE of a statement the session does not know)
};
inline constexpr int kKindCount = static_cast<int>(Kind::kUnknown) + 1;
static_assert(kKindCount <= 64, "a KindSet is a 64-bit set");

// The policy-file name of a kind: "select", "copy-in", "ddl", ...
std::string_view kindName(Kind k);
// Parses a kind name; nullopt when unknown.
std::optional<Kind> kindFromName(std::string_view name);

class KindSet {
 public:
  constexpr KindSet() = default;
  constexpr explicit KindSet(uint64_t bits) : bits_(bits) {}
  static constexpr KindSet of(Kind k) { return KindSet(uint64_t{1} << static_cast<int>(k)); }
  static constexpr KindSet all() { return KindSet((uint64_t{1} << kKindCount) - 1); }

  constexpr void add(Kind k) { bits_ |= uint64_t{1} << static_cast<int>(k); }
  constexpr void add(KindSet s) { bits_ |= s.bits_; }
  constexpr bool has(Kind k) const { return (bits_ >> static_cast<int>(k)) & 1; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool intersects(KindSet s) const { return (bits_ & s.bits_) != 0; }
  constexpr bool containsAll(KindSet s) const { return (s.bits_ & ~bits_) == 0; }
  constexpr uint64_t bits() const { return bits_; }
  constexpr bool operator==(const KindSet&) const = default;
  // "select, delete"
  std::string toString() const;

 private:
  uint64_t bits_ = 0;
};

// Kinds that change data or schema: insert, update, delete, merge, copy-in, ddl, dcl, truncate,
// sequence and large-object (nextval changes a sequence even inside a SELECT).
inline constexpr KindSet kWriteKinds = [] {
  KindSet s;
  for (Kind k : {Kind::kInsert, Kind::kUpdate, Kind::kDelete, Kind::kMerge, Kind::kCopyIn,
                 Kind::kDdl, Kind::kDcl, Kind::kTruncate, Kind::kSequence, Kind::kLargeObject}) {
    s.add(k);
  }
  return s;
}();

// Names of kind groups accepted in policy files: "read", "write", "session", "all" (every kind
// but unknown).
std::optional<KindSet> kindGroupFromName(std::string_view name);

}  // namespace jg::sql
