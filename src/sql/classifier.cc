#include "sql/classifier.h"

#include <pg_query.h>

#include <boost/json.hpp>
#include <cctype>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "sql/literal_key.h"
#include "sql/tree_walker.h"

namespace jg::sql {

namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == ';')) {
    s.remove_suffix(1);
  }
  return s;
}

uint64_t fingerprintOf(const std::string& text) {
  PgQueryFingerprintResult fp = pg_query_fingerprint(text.c_str());
  uint64_t out = fp.error == nullptr ? fp.fingerprint : 0;
  pg_query_free_fingerprint_result(fp);
  return out;
}

Classification parseError(const PgQueryError& e) {
  Classification c;
  c.status = Status::error(Code::kInvalidArgument,
                           e.message != nullptr ? e.message : "syntax error", "42601");
  c.error_position = e.cursorpos;
  return c;
}

Classification fromTree(std::string_view sql, const char* tree) {
  Classification c;
  json::parse_options opts;
  opts.max_depth = 100000;  // parse trees nest deeply; libpg_query bounds the depth itself
  boost::system::error_code ec;
  json::value root = json::parse(tree, ec, {}, opts);
  if (ec || !root.is_object()) {
    c.status = internalError("cannot read the parse tree");
    return c;
  }
  const json::array* stmts = nullptr;
  if (const json::value* v = root.get_object().if_contains("stmts"); v && v->is_array()) {
    stmts = &v->get_array();
  }
  if (stmts == nullptr) {
    return c;  // empty query string: no statements
  }
  for (const auto& raw : *stmts) {
    const json::object& r = raw.get_object();
    Statement st;
    if (const json::value* s = r.if_contains("stmt"); s && s->is_object()) {
      detail::classifyStatement(s->get_object(), st);
    } else {
      st.kind = Kind::kOther;
      st.kinds.add(Kind::kOther);
    }
    size_t loc = 0, len = 0;
    if (const json::value* v = r.if_contains("stmt_location"); v && v->is_int64()) {
      loc = static_cast<size_t>(v->get_int64());
    }
    if (const json::value* v = r.if_contains("stmt_len"); v && v->is_int64()) {
      len = static_cast<size_t>(v->get_int64());
    }
    loc = std::min(loc, sql.size());
    st.text = std::string(trim(len == 0 ? sql.substr(loc) : sql.substr(loc, len)));
    c.statements.push_back(std::move(st));
  }
  if (c.statements.size() == 1) {
    c.statements[0].fingerprint = fingerprintOf(std::string(sql));
  } else {
    for (auto& st : c.statements) {
      st.fingerprint = fingerprintOf(st.text);
    }
  }
  return c;
}

}  // namespace

Classification classifyUncached(std::string_view sql) {
  std::string text(sql);  // libpg_query needs a NUL-terminated string
  if (text.find('\0') != std::string::npos) {
    Classification c;
    c.status = Status::error(Code::kInvalidArgument, "query text contains a NUL byte", "42601");
    return c;
  }
  PgQueryParseResult r = pg_query_parse(text.c_str());
  Classification c = r.error != nullptr ? parseError(*r.error) : fromTree(sql, r.parse_tree);
  pg_query_free_parse_result(r);
  return c;
}

// One shard of the LRU: most recently used entries at the front of `lru`.
struct Classifier::Shard {
  struct Entry {
    std::string key;
    std::shared_ptr<const Classification> value;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu;
  std::list<Entry> lru;
  std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index;
};

namespace {

constexpr KindSet kShareableKinds = KindSet((uint64_t{1} << static_cast<int>(Kind::kSelect)) |
                                            (uint64_t{1} << static_cast<int>(Kind::kInsert)) |
                                            (uint64_t{1} << static_cast<int>(Kind::kUpdate)) |
                                            (uint64_t{1} << static_cast<int>(Kind::kDelete)) |
                                            (uint64_t{1} << static_cast<int>(Kind::kMerge)));

// Whether `c` describes every text that differs from the classified one only in constant values:
// one plain DML statement whose classification reads no literal (no setting, no search_path, no
// set_config — which is a kSet kind —, no COPY target, no prepared-statement name).
bool literalIndependent(const Classification& c) {
  if (!c.status.isOk() || c.statements.size() != 1) {
    return false;
  }
  const Statement& st = c.statements[0];
  return kShareableKinds.has(st.kind) && !st.kinds.empty() &&
         kShareableKinds.containsAll(st.kinds) && st.explained == Kind::kUnknown &&
         st.settings.empty() && !st.search_path && !st.resets_search_path &&
         !st.search_path_unknown && !st.copy_program && !st.copy_file && st.prepared_name.empty();
}

// Normalized-form keys start with a NUL byte, which no exact key holds (texts with a NUL are
// refused before the cache), and a letter naming how they were made, so the kinds of key never
// collide: literalKey's cheap scan where it applies, libpg_query's normalization otherwise.
std::string normalizedKey(std::string_view sql) {
  if (std::optional<std::string> scanned = literalKey(sql)) {
    scanned->insert(0, std::string_view("\0L", 2));
    return std::move(*scanned);
  }
  std::string text(sql);  // libpg_query needs a NUL-terminated string
  PgQueryNormalizeResult r = pg_query_normalize(text.c_str());
  std::string key;
  if (r.error == nullptr && r.normalized_query != nullptr && text != r.normalized_query) {
    key.reserve(text.size() + 2);
    key.append("\0N", 2);
    key += r.normalized_query;
  }
  pg_query_free_normalize_result(r);
  return key;
}

}  // namespace

Classifier::Classifier(size_t cache_entries, size_t max_cached_bytes)
    : shards_(new Shard[kShards]),
      per_shard_(cache_entries == 0 ? 0 : (cache_entries + kShards - 1) / kShards),
      max_cached_bytes_(max_cached_bytes) {}

Classifier::~Classifier() = default;

Classifier::Shard& Classifier::shardOf(std::string_view key) const {
  return shards_[(std::hash<std::string_view>{}(key) >> 7) % kShards];
}

std::shared_ptr<const Classification> Classifier::lookup(std::string_view key) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) {
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  return it->second->value;
}

void Classifier::insert(std::string key, const std::shared_ptr<const Classification>& value) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mu);
  if (shard.index.find(key) != shard.index.end()) {
    return;  // another session classified the same text meanwhile
  }
  shard.lru.push_front(Shard::Entry{std::move(key), value});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
  while (shard.lru.size() > per_shard_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::shared_ptr<const Classification> Classifier::classify(std::string_view sql) {
  bool cacheable =
      per_shard_ > 0 && sql.size() <= max_cached_bytes_ && sql.find('\0') == std::string_view::npos;
  if (cacheable) {
    if (auto hit = lookup(sql)) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return hit;
    }
  }
  std::string normalized = cacheable ? normalizedKey(sql) : std::string();
  if (!normalized.empty()) {
    if (auto hit = lookup(normalized)) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      normalized_hits_.fetch_add(1, std::memory_order_relaxed);
      return hit;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  auto result = std::make_shared<const Classification>(classifyUncached(sql));
  if (!result->status.isOk()) {
    parse_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  if (cacheable) {
    bool shared = !normalized.empty() && literalIndependent(*result);
    insert(shared ? std::move(normalized) : std::string(sql), result);
  }
  return result;
}

CacheStats Classifier::stats() const {
  CacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.normalized_hits = normalized_hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.parse_errors = parse_errors_.load(std::memory_order_relaxed);
  s.capacity = per_shard_ * kShards;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    s.entries += shards_[i].lru.size();
  }
  return s;
}

}  // namespace jg::sql
