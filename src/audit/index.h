// The audit search index: sessions, statements and HTTP requests, tables and retrieved documents
// (from SQL results and HTTP responses alike, index_http.h), kept in the
// state store (store::Store) so `jitgate audit search` and the admin API answer "who ran what,
// on which resource, and who retrieved document 42" without scanning segments.
//
// The index is derived data: the log is the record of truth, and reindex() rebuilds the index
// from segments (idempotently: rows are keyed by instance and sequence number). Indexer is an
// IndexSink for the Recorder: onDurable() queues batches and a background thread writes all
// batches queued at the time in one store transaction. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "audit/recorder.h"
#include "audit/verify.h"
#include "store/store.h"

namespace jg::audit {

// Schema of the "audit" component (append-only list).
const std::vector<store::Migration>& indexMigrations();

class Indexer final : public IndexSink {
 public:
  // REQUIRES: `store` outlives the Indexer and has been migrated with indexMigrations().
  explicit Indexer(store::Store& store);
  ~Indexer() override;

  void onDurable(const std::string& instance, std::vector<DurableEvent>&& batch) override;
  void onSegmentsRemoved(const std::string& instance,
                         const std::vector<uint64_t>& segments) override;

  // Writes a batch now, on the caller's thread.
  Status apply(const std::string& instance, const std::vector<DurableEvent>& batch);
  Status removeSegments(const std::string& instance, const std::vector<uint64_t>& segments);
  // Waits until every queued batch is written; returns the first error seen since the last
  // flush (indexing errors never block recording: they are logged and reported here).
  Status flush();

 private:
  void run();
  Status applyIn(store::Tx& tx, const std::string& instance,
                 const std::vector<DurableEvent>& batch);

  store::Store& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<std::pair<std::string, std::vector<DurableEvent>>> queue_;
  bool busy_ = false;
  bool stop_ = false;
  Status error_;
  std::thread thread_;
};

struct SearchQuery {
  std::string user{};  // subject or email
  std::string group{};
  std::string resource{};
  std::string table{};     // as classified, e.g. "crm.customers"
  std::string kind{};      // "select", ...
  std::string decision{};  // "allow" | "deny" | "review"
  std::string rule{};
  std::string review{};
  std::string fingerprint{};
  std::string document{};  // a document id from the resource's documents table
  std::string contains{};  // substring of the statement text
  std::string session{};
  std::string protocol{};             // the session's protocol: "postgres" | "http" | "mcp"
  std::string method{};               // HTTP method, case-insensitive
  std::string path{};                 // HTTP path glob: `*` any characters, `?` one
  std::optional<int> status{};        // HTTP status sent to the client
  std::string rpc_method{};           // MCP: the JSON-RPC method, exact ("tools/call")
  std::string tool{};                 // MCP: tool name glob, as `path`
  std::optional<int64_t> since_us{};  // unix microseconds, inclusive
  std::optional<int64_t> until_us{};  // exclusive
  int limit = 100;
};

// A statement, an HTTP request (kind "http", statement_id the request id), or a message an MCP
// server sent in a response stream (kind "mcp", statement_id the request that carried it).
struct StatementHit {
  std::string session_id;
  uint64_t statement_id = 0;
  int64_t ts_us = 0;
  std::string instance;
  uint64_t segment = 0;
  uint64_t seq = 0;
  std::string subject;
  std::string email;
  std::string resource;
  std::string client_addr;
  std::string kind;
  std::string decision;
  std::string rule;
  std::string review;
  std::string text;
  std::string tables;  // comma-separated
  int64_t rows = -1;   // -1 when no result was recorded
  std::string error;
  std::string protocol;  // the session's ("postgres", "http")
  std::string method;    // HTTP exchanges (kind "http"): method, path, status, body bytes
  std::string path;
  int status = 0;          // 0 when no status was recorded
  int64_t bytes = -1;      // -1 when not known
  std::string rpc_method;  // MCP: the JSON-RPC method (requests, and kind "mcp" rows)
  std::string tool;        // MCP: the tool of a tools/call
  std::string db_user;     // the user name the client claimed at startup (a refused login's)
};

// The JSON form of a search hit, shared by `jitgate audit search --json` and the HTTP API.
boost::json::object toJson(const StatementHit& h);

// Newest first.
Result<std::vector<StatementHit>> search(store::Store& store, const SearchQuery& q);

struct SessionLocation {
  std::string instance;
  uint64_t segment = 0;  // segment of the session's first record
  uint64_t first_seq = 0;
};
Result<std::optional<SessionLocation>> findSession(store::Store& store,
                                                   const std::string& session_id);

// Rebuilds the index from the segments under `dir` (all instances). Returns records indexed.
// `progress`, when set, is called after each segment.
Result<uint64_t> reindex(const std::string& dir, store::Store& store,
                         const ProgressFn& progress = {});

}  // namespace jg::audit
