// Fuzzes the masking parsers on the values an upstream server returns. The first byte picks the
// parser and the profile (bit 3: the tokenize strategy instead of redact); the rest is the value:
//   0 JSON text (rewriteJson: the output must parse as JSON)     4 a COPY csv line
//   1 PostgreSQL array text (rewriteTextArray, parseTextArray)   5 cells in text format
//   2 binary array (array_send format)                           6 cells in binary format
//   3 a COPY text line                                           7 free text (error fields)
// COPY lines must round-trip: the fields of a line re-encoded split into the same fields.
// Every function is fail-closed; an error result is fine, a crash or a wrong output is not.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "mask/cell.h"
#include "mask/copy_line.h"
#include "mask/detectors.h"
#include "mask/engine.h"
#include "mask/json_text.h"
#include "mask/pg_array.h"
#include "mask/scanner.h"

namespace {

using namespace jg::mask;

// A rule for column t.secret with the given strategy.
ColumnRule secretRule(Strategy strategy) {
  ColumnRule r;
  r.table = "t";
  r.column = "secret";
  r.strategy = strategy;
  return r;
}

std::shared_ptr<const Engine> makeEngine() {
  Settings s;
  s.defaults.detectors = builtinDetectorNames();
  s.defaults.columns = {secretRule(Strategy::kPartial)};
  ProfileSettings tok = s.defaults;
  tok.detector_strategy = Strategy::kTokenize;
  s.profiles["tok"] = tok;
  auto e = Engine::create(s, "0123456789abcdef0123456789abcdef");
  if (!e) {
    std::abort();
  }
  return *e;
}

// Compiled once, before the first input (Vectorscan takes seconds to compile the detectors).
Scanner* the_scanner = nullptr;

Scanner& scanner() {
  return *the_scanner;
}

void rewriteJsonText(std::string_view in) {
  std::string out;
  size_t n = 0;
  auto fn = [&n](JsonToken kind, std::string_view decoded, std::string_view, std::string& o) {
    o = decoded.size() > 3 ? "masked" : std::string(decoded);
    bool null = kind == JsonToken::kNumber && ++n % 2 == 0;
    return jg::Result<CellResult>(null ? CellResult::kNull : CellResult::kRewritten);
  };
  auto r = rewriteJson(in, fn, out);
  if (r && *r == CellResult::kRewritten) {
    boost::system::error_code ec;
    (void)boost::json::parse(out, ec);
    if (ec) {
      std::abort();  // a rewritten document must stay valid JSON
    }
  }
}

jg::Result<CellResult> maskElement(std::string_view elem, std::string& out) {
  if (elem.size() % 3 == 0) {
    return CellResult::kNull;
  }
  out = "x, \"y\"\\";
  return elem.size() % 3 == 1 ? CellResult::kRewritten : CellResult::kUnchanged;
}

void rewriteArrays(std::string_view in, bool binary) {
  std::string out;
  if (binary) {
    (void)rewriteBinaryArray(in, oid::kText, maskElement, out);
    return;
  }
  auto r = rewriteTextArray(in, maskElement, out);
  (void)parseTextArray(in);
  if (r && *r == CellResult::kRewritten) {
    std::string again;
    if (!rewriteTextArray(out, maskElement, again)) {
      std::abort();  // a rewritten array must parse again
    }
  }
}

void splitAndMaskCopy(std::string_view line, const CopyFormat& format, const Profile& profile) {
  std::vector<CopyField> fields;
  if (!splitCopyLine(line, format, fields).isOk()) {
    return;
  }
  std::string encoded;
  encodeCopyLine(fields, format, encoded);
  std::vector<CopyField> again;
  if (!splitCopyLine(encoded, format, again).isOk() || again.size() != fields.size()) {
    std::abort();  // an encoded line must split into the fields it was made of
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (again[i].is_null != fields[i].is_null || again[i].value != fields[i].value) {
      std::abort();
    }
  }
  static const ColumnRule rule = secretRule(Strategy::kRedact);
  std::vector<ColumnPlan> plans;
  for (size_t i = 0; i < fields.size(); ++i) {
    plans.push_back(planColumn(profile, 0, 0, i == 1 ? &rule : nullptr));
  }
  Counters counters;
  std::string out;
  (void)maskCopyLine(scanner(), plans, format, line, out, counters);
}

// Every value kind of cell.h in one format.
void maskCells(std::string_view in, int16_t format, const Profile& profile) {
  static const uint32_t kTypes[] = {oid::kText, oid::kJson,  oid::kJsonb,      oid::kTextArray,
                                    oid::kInt8, oid::kBytea, oid::kJsonbArray, 1700 /* numeric */};
  static const ColumnRule rule = secretRule(Strategy::kPartial);
  Counters counters;
  std::string out;
  for (uint32_t type : kTypes) {
    for (const ColumnRule* r : {static_cast<const ColumnRule*>(nullptr), &rule}) {
      ColumnPlan plan = planColumn(profile, type, format, r);
      (void)scanner().maskCell(plan, in, out, counters);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static Scanner s(makeEngine());
  the_scanner = &s;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Profile& profile = *scanner().engine().profile((data[0] & 8) ? "tok" : "");
  Counters counters;
  std::string out;
  switch (data[0] & 7) {
    case 0:
      rewriteJsonText(in);
      break;
    case 1:
    case 2:
      rewriteArrays(in, (data[0] & 7) == 2);
      break;
    case 3:
      splitAndMaskCopy(in, CopyFormat::text(), profile);
      break;
    case 4:
      splitAndMaskCopy(in, CopyFormat::csvFormat(), profile);
      break;
    case 5:
    case 6:
      maskCells(in, (data[0] & 7) == 6 ? 1 : 0, profile);
      break;
    default:
      (void)scanner().maskFreeText(profile, in, out, counters);
      break;
  }
  return 0;
}
