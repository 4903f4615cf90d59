// Throughput of the PostgreSQL codecs on realistic streams, without I/O:
// - a result set of DataRows as a RAG retriever reads it (id, document chunk, email, timestamp),
//   framed and iterated cell by cell, and re-encoded as the masker does;
// - pgbench-like extended-protocol traffic in both directions (-M extended: Parse/Bind/Describe/
//   Execute/Sync per query; the server's ParseComplete ... ReadyForQuery).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"

namespace {

using namespace jg::pg;

constexpr size_t kMaxMessage = 1 << 24;

std::string resultStream(int rows) {
  std::string out;
  RowDescription rd;
  rd.fields = {{"doc_id", 16384, 1, 20, 8, -1, 0},
               {"body", 16384, 2, 25, -1, -1, 0},
               {"author_email", 16384, 3, 25, -1, -1, 0},
               {"updated_at", 16384, 4, 1184, 8, -1, 0}};
  encodeRowDescription(out, rd);
  std::string body =
      "Retrieval-augmented generation pipelines read document chunks like this one; each chunk "
      "is a few hundred bytes of prose with the occasional identifier, date or address in it.";
  for (int i = 0; i < rows; ++i) {
    std::string id = std::to_string(100000 + i);
    std::string email = "author" + std::to_string(i % 97) + "@example.com";
    encodeDataRow(
        out,
        {{id, false}, {body, false}, {email, i % 5 == 0}, {"2024-06-11 12:34:56.789+00", false}});
  }
  encodeCommandComplete(out, "SELECT " + std::to_string(rows));
  encodeReadyForQuery(out, 'I');
  return out;
}

void BM_FrameAndReadDataRows(benchmark::State& state) {
  const std::string stream = resultStream(static_cast<int>(state.range(0)));
  size_t cells = 0;
  for (auto _ : state) {
    std::string_view buf = stream;
    Frame f;
    std::string error;
    while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
      if (f.type == be::kDataRow) {
        DataRowReader r(f.payload);
        DataRowReader::Cell c;
        while (r.next(c)) {
          benchmark::DoNotOptimize(c.bytes.data());
          ++cells;
        }
        if (!r.ok()) {
          state.SkipWithError("malformed row");
        }
      } else if (f.type == be::kRowDescription) {
        RowDescription rd;
        benchmark::DoNotOptimize(decodeRowDescription(f.payload, rd));
      }
      buf.remove_prefix(f.size);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["cells/s"] =
      benchmark::Counter(static_cast<double>(cells), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FrameAndReadDataRows)->Arg(1000);

// Decode each row and encode it again, as the masking path does for every row it rewrites.
void BM_ReadAndReencodeDataRows(benchmark::State& state) {
  const std::string stream = resultStream(1000);
  std::string out;
  std::vector<DataRowReader::Cell> cells;
  for (auto _ : state) {
    out.clear();
    std::string_view buf = stream;
    Frame f;
    std::string error;
    while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
      if (f.type == be::kDataRow) {
        cells.clear();
        DataRowReader r(f.payload);
        DataRowReader::Cell c;
        while (r.next(c)) {
          cells.push_back(c);
        }
        encodeDataRow(out, cells);
      }
      buf.remove_prefix(f.size);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_ReadAndReencodeDataRows);

// pgbench -S -M extended: one query = Parse, Bind, Describe, Execute, Sync.
std::string pgbenchClientStream(int queries) {
  std::string out;
  for (int i = 0; i < queries; ++i) {
    std::string aid = std::to_string(1 + (i * 7919) % 100000);
    encodeParse(out, {.name = "",
                      .sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
                      .param_types = {}});
    encodeBind(out, {.portal = "",
                     .statement = "",
                     .param_formats = {},
                     .params = {{aid, false}},
                     .result_formats = {}});
    encodeDescribe(out, {.target = 'P', .name = ""});
    encodeExecute(out, {.portal = "", .max_rows = 0});
    encodeEmpty(out, fe::kSync);
  }
  return out;
}

std::string pgbenchServerStream(int queries) {
  std::string out;
  RowDescription rd;
  rd.fields = {{"abalance", 16397, 2, 23, 4, -1, 0}};
  for (int i = 0; i < queries; ++i) {
    encodeEmpty(out, be::kParseComplete);
    encodeEmpty(out, be::kBindComplete);
    encodeRowDescription(out, rd);
    encodeDataRow(out, {{std::to_string(i % 5000), false}});
    encodeCommandComplete(out, "SELECT 1");
    encodeReadyForQuery(out, 'I');
  }
  return out;
}

void BM_PgbenchClientMessages(benchmark::State& state) {
  const std::string stream = pgbenchClientStream(1000);
  int64_t messages = 0;
  for (auto _ : state) {
    std::string_view buf = stream;
    Frame f;
    std::string error;
    while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
      bool ok = true;
      switch (f.type) {
        case fe::kParse: {
          Parse m;
          ok = decodeParse(f.payload, m);
          break;
        }
        case fe::kBind: {
          Bind m;
          ok = decodeBind(f.payload, m);
          break;
        }
        case fe::kDescribe: {
          Describe m;
          ok = decodeDescribe(f.payload, m);
          break;
        }
        case fe::kExecute: {
          Execute m;
          ok = decodeExecute(f.payload, m);
          break;
        }
        default:
          ok = decodeEmpty(f.payload);
      }
      benchmark::DoNotOptimize(ok);
      ++messages;
      buf.remove_prefix(f.size);
    }
  }
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_PgbenchClientMessages);

void BM_PgbenchServerMessages(benchmark::State& state) {
  const std::string stream = pgbenchServerStream(1000);
  int64_t messages = 0;
  for (auto _ : state) {
    std::string_view buf = stream;
    Frame f;
    std::string error;
    while (nextFrame(buf, kMaxMessage, f, error) == FrameStatus::kReady) {
      bool ok = true;
      switch (f.type) {
        case be::kRowDescription: {
          RowDescription m;
          ok = decodeRowDescription(f.payload, m);
          break;
        }
        case be::kDataRow: {
          DataRowReader r(f.payload);
          DataRowReader::Cell c;
          while (r.next(c)) {
            benchmark::DoNotOptimize(c.bytes.data());
          }
          ok = r.ok();
          break;
        }
        case be::kCommandComplete: {
          CommandComplete m;
          ok = decodeCommandComplete(f.payload, m);
          break;
        }
        case be::kReadyForQuery: {
          ReadyForQuery m;
          ok = decodeReadyForQuery(f.payload, m);
          break;
        }
        default:
          ok = decodeEmpty(f.payload);
      }
      benchmark::DoNotOptimize(ok);
      ++messages;
      buf.remove_prefix(f.size);
    }
  }
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_PgbenchServerMessages);

}  // namespace

BENCHMARK_MAIN();
