// Audit append throughput (events/s) in strict and batched durability, with 1 and 8 sessions
// appending concurrently, plus the per-event encoding cost. Segments go to a temporary
// directory on the same file system as TMPDIR: point TMPDIR at the disk you deploy on.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>

#include "audit/codec.h"
#include "audit/recorder.h"
#include "core/random.h"

namespace {

using namespace jg::audit;

struct Bench {
  std::filesystem::path root;
  std::unique_ptr<Recorder> recorder;
};
Bench* gBench = nullptr;

Settings makeSettings(const std::filesystem::path& root, Durability d) {
  Settings s;
  s.dir = (root / "audit").string();
  s.instance = "bench";
  s.durability = d;
  s.batch_delay = std::chrono::milliseconds(5);
  s.key_file = (root / "raw.key").string();
  s.signing_key_file = (root / "sign.pem").string();
  s.retention = std::chrono::milliseconds(0);
  return s;
}

void setUp(Durability d) {
  gBench = new Bench();
  gBench->root = std::filesystem::temp_directory_path() / ("jg-audit-bench-" + jg::randomId(8));
  std::filesystem::create_directories(gBench->root);
  (void)SigningKey::generate((gBench->root / "sign.pem").string(), "");
  (void)AeadKey::generate((gBench->root / "raw.key").string());
  auto rec = Recorder::open(makeSettings(gBench->root, d));
  if (!rec) {
    std::fprintf(stderr, "audit bench: %s\n", rec.status().message().c_str());
    std::abort();
  }
  gBench->recorder = std::move(*rec);
}

void tearDown(const benchmark::State&) {
  (void)gBench->recorder->close();
  std::error_code ec;
  std::filesystem::remove_all(gBench->root, ec);
  delete gBench;
  gBench = nullptr;
}

Event statement(int thread, int64_t i) {
  StatementEvent st;
  st.statement_id = static_cast<uint64_t>(i);
  st.text = "SELECT doc_id, body FROM public.chunks WHERE embedding <-> $1 < 0.3 LIMIT 8";
  st.kind = "select";
  st.tables = {"public.chunks"};
  st.decision = "allow";
  st.rule_id = "pipeline-read";
  st.fingerprint = "5e0a1c9d3f2b7a61";
  st.setParams({std::string("[0.12,0.33,0.71]")});
  return Event{"bench-" + std::to_string(thread), {}, std::move(st)};
}

// Each session waits for its record before going on, as a strict session does before
// forwarding a statement.
void BM_AppendStrict(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) {
    if (!gBench->recorder->append(statement(state.thread_index(), ++i)).isOk()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendStrict)
    ->Setup([](const benchmark::State&) { setUp(Durability::kStrict); })
    ->Teardown(tearDown)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime();

// Batched: sessions do not wait; the loop ends with one wait for the last record, so the
// measured time includes making everything durable.
void BM_AppendBatched(benchmark::State& state) {
  int64_t i = 0;
  Recorder::Ticket last = 0;
  for (auto _ : state) {
    auto t = gBench->recorder->submit(statement(state.thread_index(), ++i));
    if (!t) {
      state.SkipWithError("submit failed");
      break;
    }
    last = *t;
  }
  (void)gBench->recorder->waitDurable(last);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendBatched)
    ->Setup([](const benchmark::State&) { setUp(Durability::kBatched); })
    ->Teardown(tearDown)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime();

// The caller-side cost of one event: JSON encoding, parameter digest and AES-GCM sealing.
void BM_EncodeStatement(benchmark::State& state) {
  RawSealer sealer(AeadKey::fromBytes(std::string(32, 'k')));
  Event ev = statement(0, 1);
  for (auto _ : state) {
    auto rec = encodeEvent(ev, sealer, scrubSecrets);
    benchmark::DoNotOptimize(rec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeStatement);

}  // namespace

BENCHMARK_MAIN();
