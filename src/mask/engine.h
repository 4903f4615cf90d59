// The compiled masking engine: detector databases, column rules and keys, built once from
// Settings and shared (immutable) by every session and thread.
//
// Each profile compiles its detectors into two Vectorscan block-mode databases:
//  - a prefilter (every pattern's cheap form, HS_FLAG_SINGLEMATCH, no start-of-match) that every
//    cell goes through, together with the native shape scan (shapes.h) that stands in for the
//    prefilter of the digit-run and e-mail patterns; a cell neither matches is forwarded
//    untouched, with no allocation;
//  - an exact database (HS_FLAG_SOM_LEFTMOST) run only on cells the prefilter matched, whose
//    candidate spans then go through the validators.
// Scanning needs per-thread scratch space: see Scanner (scanner.h). Engine is thread-safe.
#pragma once

#include <hs/hs.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "mask/detectors.h"
#include "mask/settings.h"
#include "mask/strategy.h"

namespace jg::mask {

class Scanner;

// One compiled profile. Owned by the Engine; valid while the Engine lives.
class Profile {
 public:
  const std::string& name() const { return name_; }
  Strategy detectorStrategy() const { return strategy_; }
  int keepLast() const { return keep_last_; }
  bool hasDetectors() const { return exact_ != nullptr; }
  // The label of detector `index` (as found in a Span).
  const std::string& label(uint32_t index) const { return labels_[index]; }
  // The column rule for schema.table.column, or nullptr. A rule without a schema matches any.
  // Names compare exactly (PostgreSQL has already case-folded unquoted identifiers).
  const ColumnRule* findRule(std::string_view schema, std::string_view table,
                             std::string_view column) const;
  const std::vector<ColumnRule>& columns() const { return columns_; }

 private:
  friend class Engine;
  friend class Scanner;
  struct Pattern {
    uint32_t detector;
    Validator validator;
    std::vector<std::string> context;
  };
  struct DbDeleter {
    void operator()(hs_database_t* db) const { hs_free_database(db); }
  };
  using Db = std::unique_ptr<hs_database_t, DbDeleter>;

  std::string name_;
  Strategy strategy_ = Strategy::kRedact;
  int keep_last_ = 4;
  std::vector<ColumnRule> columns_;
  std::vector<std::string> labels_;  // by detector index
  std::vector<Pattern> patterns_;    // by Vectorscan expression id
  // The index of the secret_assignment detector, or -1: a JSON member whose name is a secret
  // key (secrets.h) has its value masked under that detector's label.
  int32_t secret_keys_ = -1;
  uint32_t shapes_ = 0;  // Shape bits whose patterns are prefiltered by hasShape()
  Db prefilter_;         // null when every pattern has a shape
  Db exact_;
};

class Engine {
 public:
  // Compiles every profile. `key` is the HMAC key (the content of Settings::key_file, read by
  // the caller with config::readSecretFile); it may be empty when no strategy needs it.
  static Result<std::shared_ptr<const Engine>> create(const Settings& settings, std::string key);
  // Reads settings.key_file (when set) and calls create().
  static Result<std::shared_ptr<const Engine>> createFromSettings(const Settings& settings);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The profile of that name; "" is the default profile. nullptr if unknown.
  const Profile* profile(std::string_view name = {}) const;
  const Keyer& keyer() const { return keyer_; }

 private:
  friend class Scanner;
  explicit Engine(std::string_view key) : keyer_(key) {}
  Status compile(const ProfileSettings& ps, const std::vector<CustomDetector>& custom,
                 Profile& out);

  Keyer keyer_;
  std::vector<std::unique_ptr<Profile>> profiles_;  // [0] is the default
  hs_scratch_t* prototype_ = nullptr;               // cloned by each Scanner, never used to scan
};

}  // namespace jg::mask
