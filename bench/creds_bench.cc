// Session credential setup cost: the SCRAM verifier at several iteration counts, and — when a
// PostgreSQL is named by the environment — the live path a session pays: create the session
// role, log in as it over SCRAM-SHA-256, end and drop it.
//
//   JG_CREDS_BENCH_PORT=5432 JG_CREDS_BENCH_ADMIN=jitgate_admin
//   JG_CREDS_BENCH_ADMIN_PASSWORD_FILE=pw JG_CREDS_BENCH_DB=kb JG_CREDS_BENCH_ROLE=kb_reader
//   build/bench/creds_bench          (all on one command line)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <mutex>

#include "config/node.h"
#include "core/log.h"
#include "creds/admin_pool.h"
#include "creds/issuer.h"
#include "creds/scram_verifier.h"

namespace jg::creds {
namespace {

void BM_ScramVerifier(benchmark::State& state) {
  Secret pw = sessionPassword();
  const int iterations = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto v = scramVerifier(pw.reveal(), "0123456789abcdef", iterations);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ScramVerifier)->Arg(1)->Arg(16)->Arg(4096)->Unit(benchmark::kMicrosecond);

void quietLogs() {
  static std::once_flag once;
  std::call_once(once, [] { log::setup(log::Format::kText, "error"); });
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::unique_ptr<Issuer> liveIssuer(int iterations, int pool_size, std::string* why) {
  const char* port = env("JG_CREDS_BENCH_PORT");
  const char* admin = env("JG_CREDS_BENCH_ADMIN");
  const char* pw_file = env("JG_CREDS_BENCH_ADMIN_PASSWORD_FILE");
  const char* db = env("JG_CREDS_BENCH_DB");
  const char* role = env("JG_CREDS_BENCH_ROLE");
  if (!port || !admin || !pw_file || !db || !role) {
    *why = "set JG_CREDS_BENCH_{PORT,ADMIN,ADMIN_PASSWORD_FILE,DB,ROLE}";
    return nullptr;
  }
  auto pw = config::readSecretFile(pw_file);
  if (!pw) {
    *why = pw.status().message();
    return nullptr;
  }
  ResourceCreds rc;
  rc.resource = "bench";
  rc.mode = Mode::kEphemeral;
  rc.admin.port = static_cast<uint16_t>(std::atoi(port));
  rc.admin.database = db;
  rc.admin.user = admin;
  rc.admin.password = Secret(*pw);
  rc.admin.sslmode = "disable";
  rc.upstream = rc.admin;
  rc.upstream.user.clear();
  rc.upstream.password = Secret();
  rc.roles["reader"] = role;
  rc.scram_iterations = iterations;
  rc.pool_size = pool_size;
  std::map<std::string, ResourceCreds> m;
  m.emplace("bench", std::move(rc));
  auto issuer = Issuer::create(std::move(m), "bench", Clock::system());
  if (!issuer) {
    *why = issuer.status().message();
    return nullptr;
  }
  return std::move(*issuer);
}

// The whole per-session cost: issue, log in as the role, log out, release.
void BM_SessionCredentialLifecycle(benchmark::State& state) {
  quietLogs();
  std::string why;
  auto issuer = liveIssuer(static_cast<int>(state.range(0)), 2, &why);
  if (!issuer) {
    state.SkipWithError(why.c_str());
    return;
  }
  const ResourceCreds& rc = *issuer->settings("bench");
  for (auto _ : state) {
    auto lease = issuer->issue("bench", "reader", "bench",
                               std::chrono::system_clock::now() + std::chrono::minutes(5));
    if (!lease) {
      state.SkipWithError(lease.status().message().c_str());
      return;
    }
    ConnTarget as = rc.upstream;
    as.user = lease->user;
    as.password = lease->password;
    auto conn = connectPg(as, "bench");
    if (!conn) {
      state.SkipWithError(conn.status().message().c_str());
      return;
    }
    conn->reset();
    issuer->release(*lease);
  }
}
BENCHMARK(BM_SessionCredentialLifecycle)
    ->Arg(16)
    ->Arg(4096)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The steps one by one, each timed alone: create the role, log in as it (and out), end it.
enum Step { kIssue, kLogin, kRelease };

void BM_Step(benchmark::State& state) {
  quietLogs();
  std::string why;
  auto issuer = liveIssuer(16, 2, &why);
  if (!issuer) {
    state.SkipWithError(why.c_str());
    return;
  }
  const ResourceCreds& rc = *issuer->settings("bench");
  const auto step = static_cast<Step>(state.range(0));
  using Clk = std::chrono::steady_clock;
  for (auto _ : state) {
    auto t0 = Clk::now();
    auto lease = issuer->issue("bench", "reader", "bench",
                               std::chrono::system_clock::now() + std::chrono::minutes(5));
    if (!lease) {
      state.SkipWithError(lease.status().message().c_str());
      return;
    }
    auto t1 = Clk::now();
    ConnTarget as = rc.upstream;
    as.user = lease->user;
    as.password = lease->password;
    auto conn = connectPg(as, "bench");
    if (!conn) {
      state.SkipWithError(conn.status().message().c_str());
      return;
    }
    conn->reset();
    auto t2 = Clk::now();
    issuer->release(*lease);
    auto t3 = Clk::now();
    const auto d = step == kIssue ? t1 - t0 : step == kLogin ? t2 - t1 : t3 - t2;
    state.SetIterationTime(std::chrono::duration<double>(d).count());
  }
}
BENCHMARK(BM_Step)
    ->ArgName("issue0_login1_release2")
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// Baseline for the login step: logging in again and again as the (long-lived) admin user.
void BM_BaselineLoginAsAdmin(benchmark::State& state) {
  quietLogs();
  std::string why;
  auto issuer = liveIssuer(16, 2, &why);
  if (!issuer) {
    state.SkipWithError(why.c_str());
    return;
  }
  const ConnTarget& admin = issuer->settings("bench")->admin;
  for (auto _ : state) {
    auto conn = connectPg(admin, "bench");
    if (!conn) {
      state.SkipWithError(conn.status().message().c_str());
      break;
    }
  }
}
BENCHMARK(BM_BaselineLoginAsAdmin)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace jg::creds

BENCHMARK_MAIN();
