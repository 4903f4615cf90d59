// Verification of every replica's audit chain from one place: replicas that share a state store
// each keep their own hash chain (an instance directory in their own audit directory), and the
// store holds the newest anchored checkpoint of each. `jitgate audit verify` checks every
// instance it finds under the audit directories it is given and every instance the store
// anchors, and reports one outcome per instance. Unlike verifyDir it does not stop at the first
// bad chain, and an anchored instance whose directory is under none of the given directories (a
// replica on another host) is reported as not checked: never skipped, never a pass. Stateless
// functions; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "audit/verify.h"

namespace jg::audit {

enum class ChainState {
  kIntact,  // every record, link, signature and the anchor check out
  kFailed,  // `problem` names the first bad record
  kAbsent,  // no directory of this instance here: nothing was checked
};

// "intact", "failed", "absent" (the `state` of `audit verify --json`).
const char* chainStateName(ChainState state);

struct ChainOutcome {
  ChainState state = ChainState::kIntact;
  std::string dir{};  // the audit directory holding the instance (empty when absent)
  InstanceSummary summary{};
  std::optional<Problem> problem{};  // kFailed: the first bad record; kAbsent: why
};

struct ReplicasReport {
  std::vector<ChainOutcome> chains{};  // sorted by instance name

  // Every chain was checked here and is intact (an absent chain is not a pass; no chain at all,
  // an empty directory without anchors, is).
  bool ok() const;
  size_t count(ChainState state) const;
  // The first chain that is not intact, or null.
  const ChainOutcome* firstNotIntact() const;
};

// Verifies every instance directory under `dirs` (an instance found under two of them is an
// error: two directories claiming one chain) and every instance in `options.anchors`; with
// `options.only`, just those instances. An instance found in no directory is kAbsent.
// REQUIRES: `dirs` is not empty.
ReplicasReport verifyReplicas(const std::vector<std::string>& dirs, const KeyRing& keys,
                              const VerifyOptions& options);

// {"ok", "absent": n, "instances": [{instance, first_segment, .., state, dir, problem}],
// "first_bad": {instance, segment, path, offset, seq, what}}: `jitgate audit verify --json` and
// the gateway's check of its own chain (GET /api/v1/health) report in this form.
boost::json::object toJson(const ReplicasReport& r);

}  // namespace jg::audit
