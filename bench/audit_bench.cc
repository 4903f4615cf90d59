// Audit recording costs. Segments go to a temporary directory on the same file system as TMPDIR:
// point TMPDIR at the disk you deploy on.
//
//   BM_Session*     one pgbench-like transaction (Bind with one parameter, a one-row result) as
//                   the relay records it through SessionAudit, with 1 or 8 sessions on one
//                   executor; strict sessions wait for durability before "forwarding" the Bind and
//                   before "completing" the result. Process CPU time per transaction (all threads:
//                   session, writer) is the figure to compare; real time shows the fsync latency.
//   BM_Append*      raw Recorder append throughput (events/s) in strict and batched durability.
//   BM_Encode*      the caller-side cost of encoding one event.
//   BM_Chain/Frame  the writer-side kernels: chain hash per record, frame building per batch.
#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <memory>

#include "audit/codec.h"
#include "audit/recorder.h"
#include "audit/segment.h"
#include "core/random.h"
#include "proto/pg/encode.h"
#include "server/session_audit.h"

namespace {

using namespace jg::audit;
namespace asio = boost::asio;

struct Bench {
  std::filesystem::path root;
  std::shared_ptr<Recorder> recorder;
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

// --- One transaction through SessionAudit -------------------------------------------------

struct Txn {
  jg::pg::Columns columns;
  std::string data_row;  // DataRow payload: one int4 in text
  std::vector<std::optional<std::string>> params{std::string("4711")};
};

Txn makeTxn() {
  Txn t;
  jg::pg::Column c;
  c.name = "abalance";
  c.type_oid = 23;
  t.columns.push_back(c);
  std::string row;
  row.append("\x00\x01", 2);
  row.append("\x00\x00\x00\x04", 4);
  row.append("1234");
  t.data_row = row;
  return t;
}

asio::awaitable<void> sessionLoop(jg::server::SessionAudit& audit, const Txn& txn, int64_t count,
                                  bool& failed) {
  static const std::string kSql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
  static const std::map<std::string, uint64_t> kNoMasking;
  for (int64_t i = 0; i < count && !failed; ++i) {
    audit.bind(kSql, "P0_1", txn.params);
    if (audit.strict()) {
      jg::Status st = co_await audit.durable();
      failed = failed || !st;
    }
    audit.resultStart(txn.columns, -1);
    audit.row(txn.data_row, {});
    audit.resultEnd("SELECT 1", kNoMasking);
    if (audit.strict()) {
      jg::Status st = co_await audit.durable();
      failed = failed || !st;
    }
  }
}

// Runs state.range(0) sessions on one executor, each doing its share of the transactions.
void sessionBench(benchmark::State& state) {
  Txn txn = makeTxn();
  int sessions = static_cast<int>(state.range(0));
  int64_t per_round = 64;
  int64_t done = 0;
  int n = 0;
  for (auto _ : state) {
    asio::io_context io(1);
    std::vector<std::unique_ptr<jg::server::SessionAudit>> audits;
    bool failed = false;
    for (int s = 0; s < sessions; ++s) {
      audits.push_back(std::make_unique<jg::server::SessionAudit>(
          gBench->recorder, "s-bench-" + std::to_string(++n), io.get_executor()));
      asio::co_spawn(io, sessionLoop(*audits.back(), txn, per_round, failed), asio::detached);
    }
    io.run();
    if (failed) {
      state.SkipWithError("durable() failed");
      break;
    }
    done += per_round * sessions;
  }
  state.SetItemsProcessed(done);
}

void BM_SessionStrict(benchmark::State& state) {
  sessionBench(state);
}
BENCHMARK(BM_SessionStrict)
    ->Setup([](const benchmark::State&) { setUp(Durability::kStrict); })
    ->Teardown(tearDown)
    ->Arg(1)
    ->Arg(8)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_SessionBatched(benchmark::State& state) {
  sessionBench(state);
}
BENCHMARK(BM_SessionBatched)
    ->Setup([](const benchmark::State&) { setUp(Durability::kBatched); })
    ->Teardown(tearDown)
    ->Arg(8)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_SessionOff(benchmark::State& state) {
  sessionBench(state);
}
BENCHMARK(BM_SessionOff)
    ->Setup([](const benchmark::State&) { setUp(Durability::kOff); })
    ->Teardown(tearDown)
    ->Arg(8)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// --- Recorder append -------------------------------------------------------------------------

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

// --- Kernels ---------------------------------------------------------------------------------

// The caller-side cost of one event: encoding, parameter digest and AES-GCM sealing.
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

// A chunk of 256 rows of 4 text columns, masked copy only (nothing was masked).
void BM_EncodeRows(benchmark::State& state) {
  RawSealer sealer(AeadKey::fromBytes(std::string(32, 'k')));
  ResultRowsEvent e;
  e.statement_id = 7;
  for (int i = 0; i < 256; ++i) {
    e.rows.push_back({std::to_string(i), std::string("customer name ") + std::to_string(i),
                      std::string("someone") + std::to_string(i) + "@example.com", std::nullopt});
  }
  Event ev{"s-bench", std::chrono::system_clock::now(), std::move(e)};
  for (auto _ : state) {
    auto rec = encodeEvent(ev, sealer, scrubSecrets);
    benchmark::DoNotOptimize(rec);
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_EncodeRows);

void BM_Chain(benchmark::State& state) {
  std::string record(200, 'r');
  Hash h{};
  uint64_t seq = 0;
  for (auto _ : state) {
    h = chainHash(h, ++seq, record);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Chain);

// One frame of `n` records of ~200 bytes (zstd level 3, CRC).
void BM_Frame(benchmark::State& state) {
  std::vector<Entry> entries;
  for (int64_t i = 0; i < state.range(0); ++i) {
    Entry e;
    e.seq = static_cast<uint64_t>(i + 1);
    e.record = R"({"type":"statement","ts":1764400000000000,"sid":"s-abcdefgh","stmt":)" +
               std::to_string(i) +
               R"(,"text":"SELECT abalance FROM pgbench_accounts WHERE aid = $1;","decision":)"
               R"("allow","protocol":"bind","prepared":"P0_1","param_digests":["0b1c"]})";
    entries.push_back(std::move(e));
  }
  for (auto _ : state) {
    auto f = buildFrame(entries, 3);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Frame)->Arg(1)->Arg(4)->Arg(16)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
