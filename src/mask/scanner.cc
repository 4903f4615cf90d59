#include "mask/scanner.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "mask/shapes.h"

namespace jg::mask {

Scanner::Scanner(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {
  if (const Result<HsRuntime>& runtime = hsRuntime()) {
    scan_ = runtime->scan;
  }
  if (engine_->prototype_ != nullptr &&
      hs_clone_scratch(engine_->prototype_, &scratch_) != HS_SUCCESS) {
    std::abort();  // out of memory at session start; nothing sensible to continue with
  }
}

Scanner::~Scanner() {
  if (scratch_ != nullptr) {
    hs_free_scratch(scratch_);
  }
}

namespace {
int onFirstMatch(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  *static_cast<bool*>(ctx) = true;
  return 1;  // stop: one match is enough
}
}  // namespace

int Scanner::onMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned,
                     void* ctx) {
  auto* self = static_cast<Scanner*>(ctx);
  if (self->matches_.size() >= kMaxMatches) {
    self->overflow_ = true;
    return 1;
  }
  self->matches_.push_back({id, static_cast<size_t>(from), static_cast<size_t>(to)});
  return 0;
}

Result<bool> Scanner::prefilterHits(const Profile& profile, std::string_view text) {
  if (!profile.hasDetectors() || text.empty()) {
    return false;
  }
  if (text.size() > UINT32_MAX) {
    return Status::error(Code::kResourceExhausted, "value too large to mask");
  }
  if (profile.shapes_ != 0 && hasShape(text, profile.shapes_)) {
    return true;
  }
  if (profile.prefilter_ == nullptr) {
    return false;
  }
  bool hit = false;
  hs_error_t rc = scan_(profile.prefilter_.get(), text.data(), static_cast<unsigned>(text.size()),
                        0, scratch_, onFirstMatch, &hit);
  if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
    return internalError("detector scan failed (" + std::to_string(rc) + ")");
  }
  return hit;
}

bool Scanner::contextPresent(const Profile::Pattern& p, std::string_view text, size_t from) const {
  if (p.context.empty()) {
    return true;
  }
  size_t begin = from > kContextWindow ? from - kContextWindow : 0;
  std::string_view window = text.substr(begin, from - begin);
  for (const std::string& word : p.context) {
    auto it = std::search(
        window.begin(), window.end(), word.begin(), word.end(),
        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    if (it != window.end()) {
      return true;
    }
  }
  return false;
}

Status Scanner::findSpans(const Profile& profile, std::string_view text, std::vector<Span>& spans) {
  spans.clear();
  Result<bool> hit = prefilterHits(profile, text);
  if (!hit) {
    return hit.status();
  }
  if (!*hit) {
    return Status::ok();
  }
  matches_.clear();
  overflow_ = false;
  hs_error_t rc = scan_(profile.exact_.get(), text.data(), static_cast<unsigned>(text.size()), 0,
                        scratch_, onMatch, this);
  if (overflow_) {
    return Status::error(Code::kResourceExhausted, "too many detector matches in one value");
  }
  if (rc != HS_SUCCESS) {
    return internalError("detector scan failed (" + std::to_string(rc) + ")");
  }
  // Per (pattern, start): the longest end the validator accepts.
  std::sort(matches_.begin(), matches_.end(), [](const RawMatch& a, const RawMatch& b) {
    return a.id != b.id ? a.id < b.id : a.from != b.from ? a.from < b.from : a.to > b.to;
  });
  for (size_t i = 0; i < matches_.size();) {
    size_t j = i;
    while (j < matches_.size() && matches_[j].id == matches_[i].id &&
           matches_[j].from == matches_[i].from) {
      ++j;
    }
    const Profile::Pattern& p = profile.patterns_[matches_[i].id];
    if (contextPresent(p, text, matches_[i].from)) {
      for (size_t k = i; k < j; ++k) {
        size_t from = matches_[k].from, to = matches_[k].to;
        if (p.validator == nullptr || p.validator(text, from, to)) {
          if (from < to && to <= text.size()) {
            spans.push_back({from, to, p.detector});
          }
          break;
        }
      }
    }
    i = j;
  }
  // Overlapping spans merge: never leave a piece of a value visible between two detectors.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.from != b.from ? a.from < b.from
           : a.to != b.to   ? a.to > b.to
                            : a.detector < b.detector;
  });
  size_t n = 0;
  for (const Span& s : spans) {
    if (n > 0 && s.from < spans[n - 1].to) {
      spans[n - 1].to = std::max(spans[n - 1].to, s.to);
    } else {
      spans[n++] = s;
    }
  }
  spans.resize(n);
  return Status::ok();
}

Result<CellResult> Scanner::detectText(const Profile& profile, std::string_view in,
                                       std::string& out, bool null_ok) {
  if (Status s = findSpans(profile, in, spans_); !s) {
    return s;
  }
  if (spans_.empty()) {
    return CellResult::kUnchanged;
  }
  Strategy strategy = profile.detectorStrategy();
  for (const Span& s : spans_) {
    tally_.push_back(&profile.label(s.detector));
  }
  tally_values_ += spans_.size();
  if (strategy == Strategy::kNull) {
    if (null_ok) {
      return CellResult::kNull;
    }
    strategy = Strategy::kRedact;
  }
  if (!validUtf8(in)) {
    return invalidArgument("text value to mask is not valid UTF-8");
  }
  out.clear();
  size_t pos = 0;
  for (const Span& s : spans_) {
    out.append(in.substr(pos, s.from - pos));
    std::string_view value = in.substr(s.from, s.to - s.from);
    if (Status st = applyStrategy(strategy, value, profile.label(s.detector), profile.keepLast(),
                                  engine_->keyer(), out);
        !st) {
      return st;
    }
    pos = s.to;
  }
  out.append(in.substr(pos));
  return CellResult::kRewritten;
}

Result<CellResult> Scanner::ruleText(const ColumnRule& rule, std::string_view in,
                                     std::string& out) {
  tally_.push_back(&rule.label);
  ++tally_values_;
  if (rule.strategy == Strategy::kNull) {
    return CellResult::kNull;
  }
  out.clear();
  if (Status s =
          applyStrategy(rule.strategy, in, rule.label, rule.keep_last, engine_->keyer(), out);
      !s) {
    return s;
  }
  return CellResult::kRewritten;
}

void Scanner::commitTally(CellResult result, Counters& counters) {
  if (result != CellResult::kUnchanged) {
    ++counters.cells_masked;
    counters.values_masked += tally_values_;
    std::sort(tally_.begin(), tally_.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    tally_.erase(std::unique(tally_.begin(), tally_.end(),
                             [](const std::string* a, const std::string* b) { return *a == *b; }),
                 tally_.end());
    for (const std::string* label : tally_) {
      counters.count(*label);
    }
  }
  tally_.clear();
  tally_values_ = 0;
}

Result<CellResult> Scanner::maskFreeText(const Profile& profile, std::string_view in,
                                         std::string& out, Counters& counters) {
  tally_.clear();
  tally_values_ = 0;
  Result<CellResult> r = detectText(profile, in, out, /*null_ok=*/false);
  if (r) {
    commitTally(*r, counters);
  }
  return r;
}

Result<CellResult> Scanner::maskCell(const ColumnPlan& plan, std::string_view in, std::string& out,
                                     Counters& counters) {
  if (plan.action == Action::kNone) {
    return CellResult::kUnchanged;
  }
  tally_.clear();
  tally_values_ = 0;
  Result<CellResult> r = maskByKind(plan, in, out);
  if (r) {
    commitTally(*r, counters);
  }
  return r;
}

}  // namespace jg::mask
