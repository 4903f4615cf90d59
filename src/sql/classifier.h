// Classifier: query text → Classification, through libpg_query, with a bounded LRU cache.
//
// One Classifier is shared by all sessions (thread-safe: the cache is sharded, each shard behind
// its own mutex). The hot path — a text seen before — is a hash lookup and a shared_ptr copy.
// A text that does not parse yields a Classification whose status carries SQLSTATE 42601 and
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
  uint64_t hits = 0;
  uint64_t misses = 0;  // parses
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
  std::unique_ptr<Shard[]> shards_;
  size_t per_shard_;
  size_t max_cached_bytes_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0}, parse_errors_{0};
};

}  // namespace jg::sql
