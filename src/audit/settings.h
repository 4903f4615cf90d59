// Audit settings: the `audit:` section of the gateway configuration.
//
//   audit:
//     dir: /var/lib/jitgate/audit       # one subdirectory per instance
//     instance: gw1                     # default: the host name
//     durability: strict                # strict | batched | off
//     batch_delay: 5ms                  # batched, off: longest wait before a group commit
//     checkpoint_every: 1000            # records between signed checkpoints
//     checkpoint_interval: 30s          # and at most this long between them
//     retry_interval: 1s                # while the log cannot be written: retry this often
//     witness: none                     # none | syslog: also log every anchored checkpoint
//     segment_max_bytes: 67108864
//     retention: 30d                    # 0 keeps everything
//     raw_payloads: encrypted           # encrypted | off
//     key_file: secrets/audit.key       # AES-256-GCM key, 64 hex chars (needed when encrypted)
//     signing_key_file: secrets/audit-signing.pem   # Ed25519 private key, PEM
//     zstd_level: 1
//     auditor_groups: [auditors]        # who may use the audit HTTP API (default: nobody)
//     reveal_groups: [auditors-raw]     # auditors who may reveal raw values (default: nobody)
//     verify_interval: 6h               # the gateway re-verifies its own chain (0: on demand)
//
// Plain value; parsed once at startup.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/node.h"

namespace jg::audit {

enum class Durability { kStrict, kBatched, kOff };
std::string_view durabilityName(Durability d);
// Where anchored checkpoints are reported besides the state store (audit.witness).
enum class Witness { kNone, kSyslog };

struct Settings {
  std::string dir;
  std::string instance;
  bool instance_defaulted = false;  // `instance` was not set: see defaultInstanceFor()
  Durability durability = Durability::kStrict;
  std::chrono::milliseconds batch_delay{5};
  uint64_t checkpoint_every = 1000;
  std::chrono::milliseconds checkpoint_interval{30'000};
  // While a write has failed, the failed frame is written again this often (the probe).
  std::chrono::milliseconds retry_interval{1000};
  // Where anchored checkpoints are also reported, besides the state store.
  Witness witness = Witness::kNone;
  uint64_t segment_max_bytes = 64ull << 20;
  std::chrono::milliseconds retention{30ll * 24 * 3600 * 1000};
  bool raw_payloads = true;  // "encrypted"; false is "off"
  std::string key_file;
  std::string signing_key_file;
  int zstd_level = 1;  // level 1 compresses records as well as 3 (3.86x vs 3.90x), ~1.4x faster
  size_t queue_limit = 65536;  // events waiting for the writer; appends block beyond it
  // Bytes of encoded records waiting for the writer; appends block beyond it (a streamed body
  // that arrives faster than the log is written waits instead of growing the queue). 8 MiB is
  // ~40 ms of the writer's pace: enough for bursts, and a 1 GB result streamed through masking
  // and recording stays under 64 MB of gateway memory.
  size_t queue_limit_bytes = 8u << 20;
  // Identity groups allowed to read the audit HTTP API (/api/v1/audit/...). Empty: nobody.
  std::vector<std::string> auditor_groups;
  // Auditors also in one of these groups may reveal a session's raw (pre-masking) values through
  // the audit HTTP API, giving a reason; each reveal is recorded. Empty: nobody.
  std::vector<std::string> reveal_groups;
  // The gateway verifies its own hash chain this often (and at start and on demand), for
  // /api/v1/health. 0: only at start and on demand.
  std::chrono::milliseconds verify_interval{6ll * 3600 * 1000};
};

// Parses the `audit:` mapping. `section` may be undefined (defaults; dir and keys then missing
// are reported). The store URL is the top-level `store:` key, parsed by store::parseUrl.
Settings parseSettings(const config::Node& section, config::Errors& errors);

// The host name: the instance name of CLI commands that write a log of their own.
std::string defaultInstance();

// The gateway's audit instance when `audit.instance` is not set: its `instance` name (host name
// and PostgreSQL port, so two replicas on one host write two chains, never one), made a valid
// directory name. A log that an older default started under the bare host name continues there
// while no log exists under the new name.
std::string defaultInstanceFor(const std::string& dir, std::string_view gateway_instance);

}  // namespace jg::audit
