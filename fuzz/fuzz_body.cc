// Fuzzes the streaming body maskers (mask/body.h). The first byte picks the kind (bits 0-1:
// JSON, NDJSON, SSE, text) and the chunk size (bits 2-7: 1 + value, in bytes); the rest is the
// body, fed in chunks of that size. The plan has path rules of each strategy, recursive
// descent, document ids and an item limit of 3 on $.items; the limits are small so the fuzzer
// reaches them.
// Asserts: no crash or sanitizer finding; for JSON, when the masker succeeds, the output parses
// as JSON; for NDJSON every non-blank output line does.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "mask/body.h"
#include "mask/detectors.h"
#include "mask/engine.h"
#include "mask/scanner.h"

namespace {

using namespace jg::mask;

struct Fixture {
  std::shared_ptr<const Engine> engine;
  std::unique_ptr<Scanner> scanner;
  std::shared_ptr<const BodyPlan> plan;
};

JsonPathRule rule(std::string path, Strategy strategy) {
  JsonPathRule r;
  r.path = std::move(path);
  r.strategy = strategy;
  return r;
}

// Compiled once, before the first input (Vectorscan takes seconds to compile the detectors).
Fixture* the_fixture = nullptr;

Fixture makeFixture() {
  Settings s;
  s.defaults.detectors = builtinDetectorNames();
  auto e = Engine::create(s, "0123456789abcdef0123456789abcdef");
  if (!e) {
    std::abort();
  }
  Fixture f;
  f.engine = *e;
  f.scanner = std::make_unique<Scanner>(f.engine);
  auto plan =
      BodyPlan::compile(f.engine->profile(),
                        {rule("$.a", Strategy::kRedact), rule("$..email", Strategy::kTokenize),
                         rule("$.items[*].v", Strategy::kPartial),
                         rule("$.items[*]['h']", Strategy::kHash), rule("$.*.n", Strategy::kNull)},
                        {"$.items[*].id", "$..doc"}, "$.items");
  if (!plan) {
    std::abort();
  }
  f.plan = *plan;
  return f;
}

bool parses(std::string_view s) {
  boost::system::error_code ec;
  (void)boost::json::parse(s, ec);
  return !ec;
}

void checkNdjson(std::string_view out) {
  while (!out.empty()) {
    size_t nl = out.find('\n');
    std::string_view line = out.substr(0, nl);
    if (!line.empty() && !parses(line)) {
      std::abort();
    }
    out = nl == std::string_view::npos ? std::string_view() : out.substr(nl + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static Fixture f = makeFixture();
  the_fixture = &f;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  auto kind = static_cast<BodyKind>(data[0] & 3);
  size_t chunk = 1 + (data[0] >> 2);
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  BodyLimits limits{.max_string_bytes = 512, .max_depth = 16, .max_items = 3};
  auto masker = makeBodyMasker(kind, *the_fixture->plan, *the_fixture->scanner, limits);
  std::string out;
  for (size_t at = 0; at < body.size(); at += chunk) {
    if (!masker->write(body.substr(at, chunk), out)) {
      return 0;
    }
  }
  if (!masker->finish(out)) {
    return 0;
  }
  (void)masker->takeDocumentIds();
  if (kind == BodyKind::kJson && !parses(out)) {
    std::abort();  // a masked JSON body must stay valid JSON
  }
  if (kind == BodyKind::kNdjson) {
    checkNdjson(out);
  }
  return 0;
}
