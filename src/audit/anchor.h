// Anchors: the newest signed checkpoint of each recorder instance, kept outside the log
// directory (in the state store, and optionally as a line to a witness such as syslog), so that
// a log cut short at its end is detected: `jitgate audit verify` requires the log to contain the
// anchored checkpoint and everything before it, and Recorder::open refuses to continue a log
// that no longer contains it.
//
// The recorder hands every durable checkpoint to an AnchorSink on its writer thread.
// StoreAnchors is the implementation the gateway uses: onCheckpoint() only replaces the
// instance's pending anchor (newest wins) and a background thread writes it to the store's
// `audit_anchors` table (one row per instance, only ever moved forward) and to the witness.
// Thread-safe. The format of the row and of the witness line is in docs/audit-format.md.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/crypto.h"
#include "audit/settings.h"
#include "core/status.h"
#include "store/store.h"

namespace jg::audit {

struct Anchor {
  std::string instance;
  uint64_t segment = 0;   // the segment the checkpoint is in
  uint64_t seq = 0;       // the checkpoint record's own sequence number
  Hash hash{};            // and its chain hash
  uint64_t upto_seq = 0;  // what the checkpoint signs: the record before it (seq - 1)
  Hash upto_hash{};
  std::string key;  // signing key id
  std::string sig;  // base64 Ed25519 signature of checkpointMessage(instance, segment, upto_*)
  int64_t ts_us = 0;
};

// "<instance>:<seq>:<hex hash>": what a witness line carries and `verify --anchor` takes.
std::string anchorToken(const Anchor& a);
bool parseAnchorToken(std::string_view text, Anchor& out);

class AnchorSink {
 public:
  virtual ~AnchorSink() = default;
  // The newest anchor of `instance`, if any (Recorder::open checks the log against it).
  virtual Result<std::optional<Anchor>> latest(const std::string& instance) = 0;
  // A checkpoint is durable in the log. Runs on the recorder's writer thread: must be quick.
  virtual void onCheckpoint(const Anchor& anchor) = 0;
};

// Schema of the "audit_anchors" store component (append-only list).
const std::vector<store::Migration>& anchorMigrations();
// Every instance's anchor. REQUIRES: the store was migrated with anchorMigrations().
Result<std::map<std::string, Anchor>> loadAnchors(store::Store& store);
// Stores `a` unless the stored anchor of its instance is already at or past `a.seq`.
Status saveAnchor(store::Store& store, const Anchor& a);

struct AnchorStats {
  uint64_t written = 0;   // anchors stored
  uint64_t failures = 0;  // store writes that failed (logged; the next checkpoint retries)
  uint64_t last_seq = 0;  // newest anchored checkpoint seq (of any instance)
};

class StoreAnchors final : public AnchorSink {
 public:
  // REQUIRES: `store` (may be null: the witness only) outlives this object and was migrated
  // with anchorMigrations().
  StoreAnchors(store::Store* store, Witness witness);
  // Writes the anchors still pending.
  ~StoreAnchors() override;
  StoreAnchors(const StoreAnchors&) = delete;
  StoreAnchors& operator=(const StoreAnchors&) = delete;

  Result<std::optional<Anchor>> latest(const std::string& instance) override;
  void onCheckpoint(const Anchor& anchor) override;
  // Waits until every pending anchor is written; the first error since the last flush.
  Status flush();
  AnchorStats stats() const;

 private:
  void run();
  void write(const Anchor& a);

  store::Store* store_;
  Witness witness_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::map<std::string, Anchor> pending_;
  bool busy_ = false;
  bool stop_ = false;
  Status error_;
  AnchorStats stats_;
  std::thread thread_;
};

}  // namespace jg::audit
