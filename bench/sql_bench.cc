// Classification and policy cost on the hot path: cache hits, cold parses of typical RAG
// queries, and a full per-statement decision over a cached classification.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "config/node.h"
#include "policy/policy.h"
#include "sql/classifier.h"
#include "sql/session_context.h"

namespace {

const std::vector<std::string>& ragQueries() {
  static const std::vector<std::string> q = {
      "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
      "SELECT doc_id, chunk, embedding <=> $1 AS distance FROM public.chunks "
      "WHERE tenant_id = $2 ORDER BY embedding <=> $1 LIMIT 8",
      "WITH hits AS (SELECT doc_id, ts_rank(tsv, q) AS r FROM public.chunks, "
      "plainto_tsquery('english', $1) q WHERE tsv @@ q ORDER BY r DESC LIMIT 20) "
      "SELECT d.title, d.url, h.r FROM hits h JOIN public.documents d USING (doc_id)",
      "SELECT c.id, c.name, o.total FROM crm.customers c JOIN crm.orders o "
      "ON o.customer_id = c.id WHERE c.id = ANY($1::int[]) AND o.created_at > now() - "
      "interval '30 days'",
      "INSERT INTO public.query_log (who, q, at) VALUES ($1, $2, now())",
  };
  return q;
}

void BM_ClassifyCacheHit(benchmark::State& state) {
  jg::sql::Classifier c(1024);
  const std::string& q = ragQueries()[state.range(0)];
  (void)c.classify(q);
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.classify(q));
  }
}
BENCHMARK(BM_ClassifyCacheHit)->DenseRange(0, 4);

void BM_ClassifyCold(benchmark::State& state) {
  const std::string& q = ragQueries()[state.range(0)];
  for (auto _ : state) {
    benchmark::DoNotOptimize(jg::sql::classifyUncached(q));
  }
  state.SetLabel(std::to_string(q.size()) + " bytes");
}
BENCHMARK(BM_ClassifyCold)->DenseRange(0, 4);

// Cache with constant churn: every lookup misses and evicts (a workload of unique statements,
// which differ in more than their literals).
void BM_ClassifyMissAndEvict(benchmark::State& state) {
  jg::sql::Classifier c(64);
  int64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        c.classify("SELECT * FROM public.chunks_" + std::to_string(i++) + " WHERE id = 1"));
  }
}
BENCHMARK(BM_ClassifyMissAndEvict);

// The simple protocol with inlined values (pgbench -M simple, psql, ORMs): every text is new,
// and the cache answers from the entry of the statement's normalized form.
void BM_ClassifyLiteralVariants(benchmark::State& state) {
  jg::sql::Classifier c(1024);
  std::vector<std::string> texts;
  for (int i = 0; i < 4096; ++i) {
    texts.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " +
                    std::to_string(i * 7919 % 1000003) + ";");
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.classify(texts[i++ % texts.size()]));
  }
}
BENCHMARK(BM_ClassifyLiteralVariants);

std::shared_ptr<const jg::policy::Policy> benchPolicy() {
  auto node = jg::config::Node::parse(R"(
- { id: pipeline-read, match: { groups: [rag], resource: kb }, allow: [select], role: reader }
- { id: pii-review, match: { resource: kb, tables: [crm.customers] }, action: review,
    approvers: { groups: [data-owners], count: 1 }, grant: 1h }
- { id: no-vault, match: { tables: [vault.*] }, action: deny }
- { id: ssn, match: { columns: [ssn] }, action: deny }
)",
                                      "bench.yaml");
  jg::config::Errors errors;
  return *jg::policy::Policy::compile(*node, errors);
}

// What a session does per simple Query: cached classification, resolve, evaluate.
void BM_DecideCachedStatement(benchmark::State& state) {
  auto policy = benchPolicy();
  jg::identity::Identity who;
  who.subject = "rag-bot";
  who.groups = {"rag"};
  auto now = std::chrono::system_clock::now();
  jg::policy::Binding b = policy->bind(who, "kb", now);
  jg::sql::Classifier c(1024);
  jg::sql::SessionContext ctx;
  const std::string& q = ragQueries()[state.range(0)];
  for (auto _ : state) {
    auto cls = c.classify(q);
    benchmark::DoNotOptimize(policy->evaluateBatch(b, cls, ctx, now));
  }
}
BENCHMARK(BM_DecideCachedStatement)->DenseRange(0, 3);

}  // namespace

BENCHMARK_MAIN();
