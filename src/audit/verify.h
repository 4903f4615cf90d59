// Verification of the audit log: every frame checksum, every chain link, every signed
// checkpoint and segment anchor, in order, stopping at the first bad record; then the ends of
// the log.
//
// The oldest remaining segment is trusted from its signed anchor, but only if it is segment 1
// or a signed retention record later in the log says the segments before it were removed. Every
// later record must link to its predecessor, and a segment other than the newest must end with a
// checkpoint. At the other end, the log must hold the newest checkpoint anchored outside it (the
// state store, or a witness: VerifyOptions::anchors), and — unless the gateway is still running
// (`live`) — its newest record must be a checkpoint: records after the last signature could be
// cut or rewritten undetected. The rules are listed in docs/audit-format.md. Stateless
// functions; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/anchor.h"
#include "audit/crypto.h"
#include "core/status.h"

namespace jg::audit {

struct Problem {
  std::string instance;
  uint64_t segment = 0;
  std::string path;
  uint64_t offset = 0;  // file offset of the frame holding the bad record
  uint64_t seq = 0;     // sequence number of the first bad (or first missing) record
  std::string what;

  // "gw1 segment 3 (path) offset 1234: record seq 57: <what>"
  std::string describe() const;
};

struct InstanceSummary {
  std::string instance;
  uint64_t first_segment = 0;
  uint64_t last_segment = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t last_signed_seq = 0;  // covered by a checkpoint or anchor signature
  uint64_t records = 0;
  uint64_t checkpoints = 0;
  uint64_t unsigned_tail = 0;  // records after the newest checkpoint (an open segment)
  uint64_t removed_upto = 0;   // a signed retention record removed segments up to this one
  uint64_t anchored_seq = 0;   // the anchored checkpoint, found in the log (0: none checked)
  bool torn_tail = false;      // live: the newest segment ends inside a frame being written
};

struct VerifyReport {
  bool ok = true;
  std::optional<Problem> first_bad;
  std::vector<InstanceSummary> instances;
};

// How far a long walk over the segments (verify, reindex) has come; reported after each segment.
struct Progress {
  std::string instance{};
  uint64_t segments_done = 0;   // of this instance
  uint64_t segments_total = 0;  // of this instance
  uint64_t records = 0;         // so far, every instance
};
using ProgressFn = std::function<void(const Progress&)>;

struct VerifyOptions {
  // The gateway is still writing: records after the newest checkpoint, and a frame being written
  // at the end of the newest segment, are reported (InstanceSummary) instead of failing.
  bool live = false;
  // The newest anchor of each instance. An anchor without a signature (a witness line) is
  // trusted as given; one with a signature must verify.
  std::map<std::string, Anchor> anchors;
  // Anchors were looked up (a store or an --anchor was given): an instance whose log holds a
  // checkpoint but that has no anchor is then an error. When false, the end of the log is not
  // checked against anything outside it.
  bool anchors_given = false;
  // Only these instances (a replica's directory checked against a store shared by replicas);
  // empty: every instance in the directory and every anchored one.
  std::vector<std::string> only;
  // Called after each segment (null: no reports).
  ProgressFn progress;
  uint64_t records_before = 0;  // records of instances checked earlier (for Progress::records)
};

class KeyRing {
 public:
  void add(PublicKey key) { keys_.emplace(key.id(), std::move(key)); }
  const PublicKey* find(const std::string& id) const;
  bool empty() const { return keys_.empty(); }

 private:
  std::map<std::string, PublicKey> keys_;
};

// Verifies one instance directory (`<dir>/<instance>`).
VerifyReport verifyInstance(const std::string& instance_dir, const KeyRing& keys,
                            const VerifyOptions& options = {});
// Verifies every instance directory under `dir`, and every anchored instance; stops at the
// first problem.
VerifyReport verifyDir(const std::string& dir, const KeyRing& keys,
                       const VerifyOptions& options = {});
// Ok when the log in `instance_dir` holds the checkpoint `a` names (its segment, seq and hash);
// else what is wrong. A quick check at recorder start; verify checks the whole chain.
Status findAnchored(const std::string& instance_dir, const Anchor& a);
// Instance subdirectories of an audit dir, sorted.
std::vector<std::string> listInstances(const std::string& dir);

}  // namespace jg::audit
