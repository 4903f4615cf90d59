// Classifier: query text → Classification, through libpg_query, with a bounded LRU cache.
//
// One Classifier is shared by all sessions (thread-safe: the cache is sharded, each shard behind
// its own mutex). The hot path — a text seen before — is a hash lookup and a shared_ptr copy.
//
// Texts that differ only in literal values share one entry. Clients of the simple protocol
// (psql, pgbench -M simple, ORMs that inline values) send a new text for every value, which an
// exact-text cache always misses. On an exact miss the text is looked up again by a form with
// its constants taken out: literalKey's byte scan (~0.1 µs) for plain ASCII texts whose
// tokenization it models exactly, libpg_query's pg_query_normalize (the real parser, ~1-4 µs,
// still several times cheaper than a full classification) for every other text. Only
// classifications that cannot depend on a literal value are shared this way: one plain DML
// statement (select, insert, update, delete, merge) that changes no setting and calls no set_config
// — so `SELECT 1` and `SELECT 2` share, while `SELECT set_config('role', 'x', false)` or `SET
// search_path = a` are cached by their exact text only. A shared Statement's `text` is the first
// variant seen; callers that need the statement's own text use the query they classified (the audit
// does). A text that does not parse yields a Classification whose status carries SQLSTATE 42601 and
// the parser's message; callers must deny it (never pass it through). Error results are cached
// as well, so a client repeating a bad query does not cost a parse each time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "sql/statement.h"

namespace jg::sql {

struct CacheStats {
  uint64_t hits = 0;             // every lookup answered from the cache (exact or normalized)
  uint64_t normalized_hits = 0;  // of which: a literal variant of a cached statement
  uint64_t misses = 0;           // parses
  uint64_t evictions = 0;
  uint64_t parse_errors = 0;
  uint64_t entries = 0;
  uint64_t capacity = 0;
};

// Parses and classifies without any cache. Never fails: errors are in the result's status.
Classification classifyUncached(std::string_view sql);

class Classifier {
 public:
  // `cache_entries` bounds the number of cached texts (0 disables the cache). Texts longer than
  // `max_cached_bytes` are classified but not cached.
  explicit Classifier(size_t cache_entries, size_t max_cached_bytes = 64 * 1024);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Never returns null.
  std::shared_ptr<const Classification> classify(std::string_view sql);
  CacheStats stats() const;

 private:
  struct Shard;
  static constexpr size_t kShards = 16;
  Shard& shardOf(std::string_view key) const;
  std::shared_ptr<const Classification> lookup(std::string_view key);
  void insert(std::string key, const std::shared_ptr<const Classification>& value);

  std::unique_ptr<Shard[]> shards_;
  size_t per_shard_;
  size_t max_cached_bytes_;
  std::atomic<uint64_t> hits_{0}, normalized_hits_{0}, misses_{0}, evictions_{0}, parse_errors_{0};
};

}  // namespace jg::sql
