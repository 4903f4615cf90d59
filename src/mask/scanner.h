// Scanner: the per-session masking worker. It owns the Vectorscan scratch space and a few
// reusable buffers, and masks one value at a time: a result cell (by its ColumnPlan), a piece of
// free text (ErrorResponse/NoticeResponse fields), or a COPY line (copy_line.h).
//
// Every function is fail-closed: a non-ok Result means the value must not be sent (the caller
// drops the row and ends the statement with an error). There is no best-effort mode.
// The fast path — no detector matches — returns kUnchanged without copying or allocating: the
// caller forwards the original bytes. NULL cells (length -1) are never passed in: they stay NULL.
// Not thread-safe: one Scanner per session (or per thread). Holds the Engine alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "mask/cell.h"
#include "mask/counters.h"
#include "mask/engine.h"
#include "mask/hs_runtime.h"
#include "mask/json_text.h"

namespace jg::mask {

enum class CellResult {
  kUnchanged,  // forward the input bytes
  kRewritten,  // send `out` instead
  kNull,       // send SQL NULL
};

// A validated match: bytes [from, to) of the scanned text, found by detector `detector` of the
// profile.
struct Span {
  size_t from = 0;
  size_t to = 0;
  uint32_t detector = 0;
};

class Scanner {
 public:
  // Aborts if scratch space cannot be allocated (out of memory at session start).
  explicit Scanner(std::shared_ptr<const Engine> engine);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  const Engine& engine() const { return *engine_; }

  // Masks one non-NULL cell. `out` is cleared and filled only for kRewritten.
  [[nodiscard]] Result<CellResult> maskCell(const ColumnPlan& plan, std::string_view in,
                                            std::string& out, Counters& counters);

  // Masks free text with the profile's detectors and strategy. A null strategy redacts here
  // (free text has no NULL).
  [[nodiscard]] Result<CellResult> maskFreeText(const Profile& profile, std::string_view in,
                                                std::string& out, Counters& counters);

  // Masks one token of a JSON document as in a json cell: the value of a member named by a
  // secret key (`member`: the member's name, empty for keys and array elements) under the
  // secret_assignment label, else the profile's detectors. kNull (the null strategy) only for
  // values; a key is redacted instead. A number that is rewritten must be written as a string.
  [[nodiscard]] Result<CellResult> maskJsonToken(const Profile& profile, JsonToken kind,
                                                 std::string_view decoded, std::string_view member,
                                                 std::string& out, Counters& counters);
  // Masks a whole value by `rule` (a cell's column rule, or a JSON path rule of a body).
  [[nodiscard]] Result<CellResult> maskByRule(const ColumnRule& rule, std::string_view in,
                                              std::string& out, Counters& counters);

  // True if the prefilter matches anywhere in `text` (the cheap first pass).
  [[nodiscard]] Result<bool> prefilterHits(const Profile& profile, std::string_view text);
  // The validated, merged, ordered spans of `text`. Empty when nothing matches.
  [[nodiscard]] Status findSpans(const Profile& profile, std::string_view text,
                                 std::vector<Span>& spans);

  // Upper bound of raw matches examined in one value before failing closed.
  static constexpr size_t kMaxMatches = 1 << 18;

 private:
  struct RawMatch {
    uint32_t id;
    size_t from;
    size_t to;
  };
  static int onMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                     void* ctx);
  bool contextPresent(const Profile::Pattern& p, std::string_view text, size_t from) const;

  // The pieces below record what they masked in tally_; the public entry points turn the tally
  // into counters once per value.
  // Detection on a text value: kUnchanged, the rewrite with the profile's strategy, or kNull for
  // the null strategy. `null_ok` false turns the null strategy into redaction.
  Result<CellResult> detectText(const Profile& profile, std::string_view in, std::string& out,
                                bool null_ok);
  // Whole-value masking by column rule (REQUIRES: rule.strategy != kNull).
  Result<CellResult> ruleText(const ColumnRule& rule, std::string_view in, std::string& out);
  Result<CellResult> maskByKind(const ColumnPlan& plan, std::string_view in, std::string& out);
  Result<CellResult> maskJson(const ColumnPlan& plan, std::string_view in, std::string& out);
  // The value of a JSON member named by a secret key, masked whole under the label of the
  // profile's secret_assignment detector. kUnchanged when the name or the value does not
  // qualify (no such detector, not a secret key, a placeholder such as "*****").
  Result<CellResult> maskSecretMember(const Profile& profile, std::string_view key,
                                      std::string_view value, std::string& out);
  // One JSON token, tallied but not committed (maskJson and maskJsonToken).
  Result<CellResult> jsonToken(const Profile& profile, JsonToken kind, std::string_view decoded,
                               std::string_view member, std::string& out);
  Result<CellResult> maskArray(const ColumnPlan& plan, std::string_view in, std::string& out);
  Result<CellResult> maskElement(const ColumnPlan& plan, std::string_view in, std::string& out);
  Result<CellResult> detectBinaryInt(const ColumnPlan& plan, std::string_view in);
  // A value the gateway does not decode (a record, tsvector, bytea, an array of other types, a
  // user-defined type, in either format): its bytes are scanned as they are (bytea in text
  // format once decoded from hex), and the whole value becomes NULL when a detector matches.
  Result<CellResult> detectOpaque(const ColumnPlan& plan, std::string_view in);
  // Whether `in` can skip the slow path: no escapes that could hide a value from the raw scan,
  // and no prefilter match.
  Result<bool> rawClean(const Profile& profile, std::string_view in);
  void commitTally(CellResult result, Counters& counters);

  std::shared_ptr<const Engine> engine_;
  hs_scratch_t* scratch_ = nullptr;
  HsScanFn scan_ = hs_scan;  // the routine that finds every match here (hs_runtime.h)
  std::vector<RawMatch> matches_;
  std::vector<Span> spans_;
  std::vector<const std::string*> tally_;  // labels masked in the current value
  size_t tally_values_ = 0;
  bool overflow_ = false;
};

}  // namespace jg::mask
