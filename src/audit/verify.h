// Verification of the audit log: every frame checksum, every chain link, every signed
// checkpoint and segment anchor, in order, stopping at the first bad record.
//
// The oldest remaining segment (after retention) is trusted from its signed anchor; every
// later record must link to its predecessor. A segment other than the newest must end with a
// checkpoint. Records after the newest signed checkpoint are linked but unsigned; the report
// notes how many. Stateless functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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
};

struct VerifyReport {
  bool ok = true;
  std::optional<Problem> first_bad;
  std::vector<InstanceSummary> instances;
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
VerifyReport verifyInstance(const std::string& instance_dir, const KeyRing& keys);
// Verifies every instance directory under `dir`; stops at the first problem.
VerifyReport verifyDir(const std::string& dir, const KeyRing& keys);
// Instance subdirectories of an audit dir, sorted.
std::vector<std::string> listInstances(const std::string& dir);

}  // namespace jg::audit
