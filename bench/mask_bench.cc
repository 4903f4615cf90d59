// Masking throughput per core (MB/s of cell bytes), all built-in detectors on:
//   BM_Clean1K     1 KB English text cells without PII (the fast path)
//   BM_Pii1Pct1K   the same, 1% of cells holding one planted value
//   BM_AllPii1K    every cell holding one planted value (the exact path, for reference)
//   BM_Json4K      4 KB JSON documents (jsonb text format), 1% holding PII
//   BM_Hex2K       2 KB cells of md5 hex (`repeat(md5(g::text), 64)`), no PII
//   BM_HexEmail1Pct2K  the same, 1% of cells ending in an e-mail address glued to the hex (the
//                  gateway's large-result workload, bench/workloads.py)
//   BM_Uuid2K      2 KB cells of UUIDs separated by ", "
//   BM_Base64_2K   2 KB base64 blobs (random bytes, no line breaks)
//   BM_NumericCsv2K  2 KB of comma-separated numbers: ids, prices, epoch milliseconds,
//                  coordinates, counts
//   BM_KeyValueLog1K  1 KB of key=value log lines with times, paths and URLs without
//                  credentials, no PII (dense in the `=`, `:` and `://` the secret and URI
//                  prefilters anchor on)
//   BM_StdRegex*   a reference loop over the same exact patterns with std::regex
//   BM_BodyJsonSearch1M  a ~1 MB vector-search response (Qdrant-like: result[] of id, score,
//                  payload.text of ~500 characters, payload.email) streamed through the JSON
//                  body masker in 64 KB chunks, a path rule on payload.email, 5% of the texts
//                  holding one planted value (--benchmark_filter=Body)
// MB/s are computed from CPU time (Google Benchmark's default), so they hold on a busy machine.
// Run: build/bench/mask_bench --benchmark_min_time=1 --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "mask/body.h"
#include "mask/cell.h"
#include "mask/detectors.h"
#include "mask/engine.h"
#include "mask/scanner.h"
#include "mask/strategy.h"

namespace {

using namespace jg::mask;

constexpr const char* kWords[] = {
    "the",       "of",        "and",       "to",        "in",      "is",       "that",
    "for",       "it",        "as",        "was",       "with",    "be",       "by",
    "on",        "not",       "he",        "this",      "are",     "or",       "his",
    "from",      "at",        "which",     "but",       "have",    "an",       "they",
    "you",       "were",      "her",       "she",       "there",   "been",     "one",
    "all",       "we",        "their",     "has",       "would",   "when",     "if",
    "so",        "no",        "what",      "more",      "out",     "up",       "into",
    "do",        "any",       "your",      "about",     "time",    "model",    "retrieval",
    "document",  "customer",  "account",   "support",   "request", "order",    "shipping",
    "invoice",   "product",   "quality",   "report",    "meeting", "project",  "deadline",
    "release",   "feature",   "database",  "query",     "results", "summary",  "analysis",
    "market",    "quarter",   "revenue",   "growth",    "team",    "manager",  "contract",
    "policy",    "review",    "approval",  "access",    "data",    "pipeline", "index",
    "vector",    "search",    "answer",    "question",  "context", "language", "system",
    "service",   "latency",   "update",    "Monday",    "January", "London",   "Paris",
    "America",   "company",   "people",    "because",   "however", "although", "therefore",
    "important", "available", "different", "following",
};

std::string englishText(std::mt19937& rng, size_t bytes) {
  std::string s;
  std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
  std::uniform_int_distribution<int> pct(0, 99);
  bool capital = true;
  while (s.size() < bytes) {
    std::string w = kWords[word(rng)];
    if (capital) {
      w[0] = static_cast<char>(std::toupper(w[0]));
      capital = false;
    }
    s += w;
    int p = pct(rng);
    if (p < 8) {
      s += ". ";
      capital = true;
    } else if (p < 14) {
      s += ", ";
    } else if (p < 16) {
      s += " " + std::to_string(1990 + p) + " ";  // years and small numbers
    } else {
      s += ' ';
    }
  }
  s.resize(bytes);
  return s;
}

const char* kPii[] = {"alice.smith@example.com",
                      "4111 1111 1111 1111",
                      "+1 415 555 2671",
                      "123-45-6789",
                      "DE89 3704 0044 0532 0130 00",
                      "10.0.12.7",
                      "AKIAIOSFODNN7EXAMPLE",
                      "password=hunter2"};

std::vector<std::string> cells(size_t n, size_t bytes, int pii_per_100, bool json) {
  std::mt19937 rng(42);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string t = englishText(rng, json ? 60 : bytes);
    if (static_cast<int>(i % 100) < pii_per_100) {
      t.replace(t.size() / 2, 0, std::string(" ") + kPii[i % std::size(kPii)] + " ");
    }
    if (!json) {
      out.push_back(t);
      continue;
    }
    std::string doc = "{\"id\": " + std::to_string(i) + ", \"chunks\": [";
    for (int k = 0; doc.size() < bytes - 100; ++k) {
      doc += (k ? ", " : "") + std::string("{\"n\": ") + std::to_string(k) + ", \"text\": \"" +
             (k == 3 ? t : englishText(rng, 60)) + "\"}";
    }
    doc += "], \"source\": \"kb\"}";
    out.push_back(doc);
  }
  return out;
}

std::string md5Hex(const std::string& in) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) {
    s.push_back(kHex[md[i] >> 4]);
    s.push_back(kHex[md[i] & 15]);
  }
  return s;
}

// `repeat(md5(g::text), 64)`; with `email`, one md5 less and 'ada' || (g % 1000) ||
// '@example.com' appended, as the large-result workload does for one row in 100.
std::vector<std::string> hexCells(size_t n, bool email) {
  std::vector<std::string> out;
  for (size_t g = 1; g <= n; ++g) {
    std::string h = md5Hex(std::to_string(g)), s;
    bool planted = email && g % 100 == 0;
    for (int k = 0; k < (planted ? 63 : 64); ++k) {
      s += h;
    }
    if (planted) {
      s += "ada" + std::to_string(g % 1000) + "@example.com";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> uuidCells(size_t n, size_t bytes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> nib(0, 15);
  static constexpr char kHex[] = "0123456789abcdef";
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    while (s.size() < bytes) {
      for (int k = 0; k < 36; ++k) {
        char c = kHex[nib(rng)];
        if (k == 8 || k == 13 || k == 18 || k == 23) {
          c = '-';
        } else if (k == 14) {
          c = '4';
        } else if (k == 19) {
          c = "89ab"[nib(rng) & 3];
        }
        s.push_back(c);
      }
      s += ", ";
    }
    s.resize(bytes);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> base64Cells(size_t n, size_t bytes) {
  std::mt19937 rng(11);
  std::vector<std::string> out;
  std::vector<unsigned char> raw(bytes);
  std::string s(bytes + 4, '\0');
  for (size_t i = 0; i < n; ++i) {
    for (unsigned char& b : raw) {
      b = static_cast<unsigned char>(rng());
    }
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(s.data()), raw.data(),
                              static_cast<int>(raw.size() * 3 / 4));
    out.push_back(s.substr(0, std::min<size_t>(static_cast<size_t>(len), bytes)));
  }
  return out;
}

std::vector<std::string> numericCsvCells(size_t n, size_t bytes) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<int64_t> id(1, 9999999), ms(1600000000000, 1799999999999),
      cents(1, 9999999), count(0, 999), micro(0, 180000000);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    while (s.size() < bytes) {
      int64_t c = cents(rng), m = micro(rng);
      switch (kind(rng)) {
        case 0:
          s += std::to_string(id(rng));
          break;
        case 1:
          s += std::to_string(ms(rng));  // epoch milliseconds: 13 digits
          break;
        case 2:
          s += std::to_string(c / 100) + "." + std::to_string(100 + c % 100).substr(1);
          break;
        case 3:
          s += std::to_string(count(rng));
          break;
        case 4:
          s += (m % 2 ? "-" : "") + std::to_string(m / 1000000) + "." +
               std::to_string(1000000 + m % 1000000).substr(1);
          break;
        default:
          s += std::to_string(id(rng) * 1000 + count(rng));  // 7-10 digit ids
      }
      s += s.size() % 97 < 8 ? "\n" : ",";
    }
    s.resize(bytes);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> keyValueLogCells(size_t n, size_t bytes) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> id(1, 999999), sec(0, 59), ms(1, 900), pick(0, 3);
  const char* svcs[] = {"orders", "search", "billing", "auth-gateway"};
  const char* paths[] = {"/v1/orders/", "/v1/items?page=", "/healthz?probe=", "/v2/token/refresh/"};
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    while (s.size() < bytes) {
      int p = pick(rng);
      s += "2024-03-05T10:" + std::to_string(10 + sec(rng) % 50) + ":" +
           std::to_string(10 + sec(rng) % 50) + "Z level=info svc=" + svcs[p] +
           " method=GET path=" + paths[p] + std::to_string(id(rng)) +
           " status=200 latency_ms=" + std::to_string(ms(rng)) + " upstream=http://" + svcs[p] +
           ".internal:8080/v1 user_id=" + std::to_string(id(rng)) + " retry=false\n";
    }
    s.resize(bytes);
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<const Engine> engine() {
  static std::shared_ptr<const Engine> e = [] {
    Settings s;
    s.defaults.detectors = builtinDetectorNames();
    return *Engine::create(s, "");
  }();
  return e;
}

void runScanner(benchmark::State& state, const std::vector<std::string>& data, uint32_t oid) {
  Scanner scanner(engine());
  ColumnPlan plan = planColumn(*engine()->profile(), oid, 0, nullptr);
  std::string out;
  Counters counters;
  size_t bytes = 0, i = 0;
  for (auto _ : state) {
    const std::string& cell = data[i++ % data.size()];
    auto r = scanner.maskCell(plan, cell, out, counters);
    benchmark::DoNotOptimize(r);
    bytes += cell.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["masked_cells"] = static_cast<double>(counters.cells_masked);
}

void BM_Clean1K(benchmark::State& state) {
  static auto data = cells(1000, 1024, 0, false);
  runScanner(state, data, oid::kText);
}
void BM_Pii1Pct1K(benchmark::State& state) {
  static auto data = cells(1000, 1024, 1, false);
  runScanner(state, data, oid::kText);
}
void BM_AllPii1K(benchmark::State& state) {  // the slow path on every cell, for reference
  static auto data = cells(1000, 1024, 100, false);
  runScanner(state, data, oid::kText);
}
void BM_Json4K(benchmark::State& state) {
  static auto data = cells(200, 4096, 1, true);
  runScanner(state, data, oid::kJsonb);
}
void BM_Hex2K(benchmark::State& state) {
  static auto data = hexCells(1000, false);
  runScanner(state, data, oid::kText);
}
void BM_HexEmail1Pct2K(benchmark::State& state) {
  static auto data = hexCells(1000, true);
  runScanner(state, data, oid::kText);
}
void BM_Uuid2K(benchmark::State& state) {
  static auto data = uuidCells(1000, 2048);
  runScanner(state, data, oid::kText);
}
void BM_Base64_2K(benchmark::State& state) {
  static auto data = base64Cells(1000, 2048);
  runScanner(state, data, oid::kText);
}
void BM_NumericCsv2K(benchmark::State& state) {
  static auto data = numericCsvCells(1000, 2048);
  runScanner(state, data, oid::kText);
}
void BM_KeyValueLog1K(benchmark::State& state) {
  static auto data = keyValueLogCells(1000, 1024);
  runScanner(state, data, oid::kText);
}

// The reference: every exact pattern compiled with std::regex, applied to each cell in turn.
void runStdRegex(benchmark::State& state, const std::vector<std::string>& data) {
  std::vector<std::regex> res;
  for (const DetectorSpec& d : builtinDetectors()) {
    for (const PatternSpec& p : d.patterns) {
      auto flags = std::regex::ECMAScript | std::regex::optimize;
      if (p.flags & 1) {  // HS_FLAG_CASELESS
        flags |= std::regex::icase;
      }
      res.emplace_back(p.exact, flags);
    }
  }
  size_t bytes = 0, i = 0, hits = 0;
  for (auto _ : state) {
    const std::string& cell = data[i++ % data.size()];
    for (const std::regex& re : res) {
      hits += std::regex_search(cell, re);
    }
    bytes += cell.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["hits"] = static_cast<double>(hits);
}
void BM_StdRegexClean1K(benchmark::State& state) {
  static auto data = cells(1000, 1024, 0, false);
  runStdRegex(state, data);
}
void BM_StdRegexJson4K(benchmark::State& state) {
  static auto data = cells(200, 4096, 1, true);
  runStdRegex(state, data);
}

// {"result":[{"id":..,"score":..,"payload":{"text":"...","email":"..."}},...],"status":"ok"}
std::string searchResponse(size_t bytes) {
  std::mt19937 rng(23);
  std::uniform_int_distribution<int> score(0, 999999);
  std::string doc = R"({"result":[)";
  for (size_t i = 0; doc.size() < bytes; ++i) {
    std::string text = englishText(rng, 500);
    if (i % 20 == 7) {
      text.replace(text.size() / 2, 0, std::string(" ") + kPii[i % std::size(kPii)] + " ");
    }
    doc += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(100000 + i) +
           R"(,"score":0.)" + std::to_string(score(rng)) + R"(,"payload":{"text":")" + text +
           R"(","email":"user)" + std::to_string(i) + R"(@example.com"}})";
  }
  doc += R"(],"status":"ok","time":0.0042})";
  return doc;
}

void BM_BodyJsonSearch1M(benchmark::State& state) {
  static const std::string doc = searchResponse(1 << 20);
  auto plan = BodyPlan::compile(engine()->profile(), {{.path = "$.result[*].payload.email"}},
                                {"$.result[*].id"}, "$.result");
  if (!plan) {
    state.SkipWithError(plan.status().message().c_str());
    return;
  }
  Scanner scanner(engine());
  constexpr size_t kChunk = 64 << 10;
  std::string out;
  size_t bytes = 0;
  uint64_t masked = 0;
  for (auto _ : state) {
    auto masker = makeBodyMasker(BodyKind::kJson, **plan, scanner, {});
    for (size_t at = 0; at < doc.size(); at += kChunk) {
      out.clear();
      if (!masker->write(std::string_view(doc).substr(at, kChunk), out)) {
        state.SkipWithError("masking failed");
        return;
      }
      benchmark::DoNotOptimize(out.data());
    }
    if (!masker->finish(out)) {
      state.SkipWithError("masking failed");
      return;
    }
    masked = masker->counters().values_masked;
    benchmark::DoNotOptimize(masker->takeDocumentIds());
    bytes += doc.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["values_masked"] = static_cast<double>(masked);
}

// One tokenized value (the tokenize strategy, HMAC-SHA256 under the token key): what a
// tokenize rule costs per masked value on top of finding it.
static void BM_TokenizeValue(benchmark::State& state) {
  Keyer keyer("0123456789abcdef0123456789abcdef");
  const std::string value = "maria.garcia@example.com";
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!keyer.token(value, out)) {
      state.SkipWithError("tokenize failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Clean1K);
BENCHMARK(BM_Pii1Pct1K);
BENCHMARK(BM_AllPii1K);
BENCHMARK(BM_Json4K);
BENCHMARK(BM_Hex2K);
BENCHMARK(BM_HexEmail1Pct2K);
BENCHMARK(BM_Uuid2K);
BENCHMARK(BM_Base64_2K);
BENCHMARK(BM_NumericCsv2K);
BENCHMARK(BM_KeyValueLog1K);
BENCHMARK(BM_StdRegexClean1K);
BENCHMARK(BM_StdRegexJson4K);
BENCHMARK(BM_BodyJsonSearch1M);
BENCHMARK(BM_TokenizeValue);

}  // namespace

BENCHMARK_MAIN();
