// Streaming maskers for HTTP response bodies: JSON, NDJSON, server-sent events and text.
//
// A BodyPlan is compiled once per resource from JSON path rules and shared, immutable, by every
// exchange (thread-safe). A BodyMasker masks one body as it streams, sans-I/O: write() appends
// to `out` the masked bytes that are safe to send (everything up to the last complete token,
// line or event), finish() flushes the rest. Any error means FAIL CLOSED: the caller stops and
// sends nothing more of this body. Memory is bounded by BodyLimits, not by the body's size.
// A BodyMasker is not thread-safe: one per response.
//
// JSON output is re-serialized (compact) but keeps key order and each number's spelling. The
// detectors run on every string value, object key and number, exactly as for json cells
// (Scanner::maskJsonToken); a path rule masks the whole value at its path (a container becomes
// one masked string). See docs/masking.md, "HTTP bodies".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "mask/counters.h"
#include "mask/engine.h"
#include "mask/json_path.h"
#include "mask/scanner.h"
#include "mask/settings.h"

namespace jg::mask {

// Which body masker a media type gets; nullopt for a type the gateway cannot mask.
//  application/json, application/*+json                         → kJson
//  application/x-ndjson, application/ndjson, application/jsonl,
//  application/x-jsonlines, application/jsonlines                → kNdjson
//  text/event-stream                                             → kSse
//  text/* (plain, csv, markdown, html, ...)                      → kText
// application/json-seq (RFC 7464, records prefixed by 0x1E) is not supported: nullopt.
// Case-insensitive; parameters are ignored except charset, which must be utf-8 or us-ascii
// (any other → nullopt).
enum class BodyKind { kJson, kNdjson, kSse, kText };
std::optional<BodyKind> bodyKindOf(std::string_view content_type);

// A rule on a JSON path (json_path.h): the value at the path, whatever its type, is masked
// whole with the strategy. `label` defaults to the last named step, upper-cased ("EMAIL").
struct JsonPathRule {
  std::string path{};
  Strategy strategy = Strategy::kRedact;
  int keep_last = 4;
  std::string label{};
};

// The paths a masker follows and what each one is for. Immutable; thread-safe to share.
class BodyPlan {
 public:
  // Errors name the bad path and why. `profile` supplies the detectors (may be null: rules
  // only). `item_limit_path` names the array whose items BodyLimits::max_items counts; nullopt:
  // the document itself when it is an array.
  // REQUIRES: `profile` (when not null) outlives the plan.
  static Result<std::shared_ptr<const BodyPlan>> compile(
      const Profile* profile, std::vector<JsonPathRule> rules,
      std::vector<std::string> document_id_paths, std::optional<std::string> item_limit_path);

  enum class Role { kRule, kDocumentId, kItemLimit };
  struct Use {
    Role role = Role::kRule;
    size_t rule = 0;  // index into rules() for kRule
  };

  const Profile* profile() const { return profile_; }
  bool detects() const { return profile_ != nullptr && profile_->hasDetectors(); }
  const PathMatcher& paths() const { return paths_; }
  const Use& use(size_t path) const { return uses_[path]; }
  // The path rules in ColumnRule form, so cells and bodies share the strategy code.
  const std::vector<ColumnRule>& rules() const { return rules_; }

 private:
  BodyPlan(const Profile* profile, PathMatcher paths, std::vector<Use> uses,
           std::vector<ColumnRule> rules)
      : profile_(profile),
        paths_(std::move(paths)),
        uses_(std::move(uses)),
        rules_(std::move(rules)) {}

  const Profile* profile_ = nullptr;
  PathMatcher paths_;
  std::vector<Use> uses_;  // by path index
  std::vector<ColumnRule> rules_;
};

struct BodyLimits {
  size_t max_string_bytes = 16u << 20;  // one JSON string / one SSE event / one text line
  size_t max_depth = 256;
  int64_t max_items = 0;  // 0 = none: items beyond this in the item-limit array are dropped
                          // (the output stays valid JSON); for NDJSON: lines beyond it dropped
};

// At most this many document ids are kept per body; later ones are not collected and
// BodyMasker::documentIdsCapped() turns true.
inline constexpr size_t kMaxDocumentIds = 10'000;

// What a masker has seen so far; shared by the masker and the JSON stream inside it.
struct BodyStats {
  Counters counters;
  std::vector<std::string> document_ids;  // not yet taken
  size_t document_ids_seen = 0;
  bool document_ids_capped = false;
  int64_t items = 0;
  bool truncated = false;

  void addDocumentId(std::string_view id);
};

class BodyMasker {
 public:
  virtual ~BodyMasker() = default;
  [[nodiscard]] virtual Status write(std::string_view chunk, std::string& out) = 0;
  [[nodiscard]] virtual Status finish(std::string& out) = 0;

  // Values masked, by label.
  const Counters& counters() const { return stats_.counters; }
  // The ids seen at the plan's document id paths (pre-masking) since the last call.
  std::vector<std::string> takeDocumentIds() { return std::exchange(stats_.document_ids, {}); }
  // True when more than kMaxDocumentIds ids were seen: the rest were not collected.
  bool documentIdsCapped() const { return stats_.document_ids_capped; }
  // Items seen in the item-limit array (NDJSON: non-blank lines), dropped ones included.
  int64_t items() const { return stats_.items; }
  // True when max_items dropped something.
  bool truncated() const { return stats_.truncated; }

 protected:
  BodyStats stats_;
};

// REQUIRES: plan and scanner outlive the masker.
std::unique_ptr<BodyMasker> makeBodyMasker(BodyKind kind, const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits);

}  // namespace jg::mask
