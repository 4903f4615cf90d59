// Token verification costs: the signature check per algorithm (decode + verify against one key),
// the full uncached Verifier path (decode, key lookup, signature, claims), and the cached path a
// reconnecting client takes (hash + lookup).
#include <benchmark/benchmark.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "identity/jwt.h"
#include "identity/jwt_sign.h"
#include "identity/verifier.h"

namespace {

using jg::identity::Alg;

struct Fixture {
  Alg alg;
  jg::identity::PKeyPtr key;
  jg::identity::Jwk jwk;
  std::string token;
};

const Fixture& fixture(Alg alg) {
  static std::map<Alg, Fixture> cache;
  auto it = cache.find(alg);
  if (it != cache.end()) {
    return it->second;
  }
  Fixture f{alg, *jg::identity::generateKey(alg), {}, {}};
  const std::string kid = "bench-" + std::string(jg::identity::algName(alg));
  f.jwk = *jg::identity::parseJwk(*jg::identity::publicJwk(f.key, kid, jg::identity::algName(alg)));
  const int64_t now = jg::Clock::system().nowUnixSeconds();
  boost::json::object claims{{"iss", "https://idp.bench"},
                             {"aud", "jitgate"},
                             {"sub", "rag-pipeline"},
                             {"client_id", "rag-pipeline"},
                             {"groups", {"rag", "kb-readers", "analysts"}},
                             {"scope", "db.read"},
                             {"iat", now},
                             {"exp", now + 3600}};
  f.token = *jg::identity::signJws(alg, f.key, kid, {{"typ", "at+jwt"}}, claims);
  return cache.emplace(alg, std::move(f)).first->second;
}

std::unique_ptr<jg::identity::Verifier> makeVerifier(const Fixture& f, size_t cache_size) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string file = (dir / ("jg-bench-jwks-" + std::to_string(::getpid()))).string();
  boost::json::array keys{*jg::identity::publicJwk(f.key, f.jwk.kid, jg::identity::algName(f.alg))};
  std::ofstream(file) << boost::json::serialize(boost::json::object{{"keys", keys}});
  jg::identity::Settings settings;
  jg::identity::IssuerSettings issuer;
  issuer.issuer = "https://idp.bench";
  issuer.audiences = {"jitgate"};
  issuer.jwks_file = file;
  settings.issuers = {issuer};
  settings.token_cache_size = cache_size;
  auto verifier = jg::identity::Verifier::create(settings, jg::Clock::system(), nullptr);
  auto v = std::move(*verifier);
  (void)v->refreshKeys();
  std::remove(file.c_str());
  return v;
}

void BM_SignatureVerify(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<Alg>(state.range(0)));
  for (auto _ : state) {
    auto jws = jg::identity::decodeJws(f.token);
    benchmark::DoNotOptimize(jg::identity::verifyJws(*jws, f.jwk).isOk());
  }
  state.SetLabel(std::string(jg::identity::algName(f.alg)));
}

void BM_VerifierUncached(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<Alg>(state.range(0)));
  auto verifier = makeVerifier(f, 0);
  for (auto _ : state) {
    auto id = verifier->verify(f.token);
    if (!id) {
      state.SkipWithError(id.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(id->subject.data());
  }
  state.SetLabel(std::string(jg::identity::algName(f.alg)));
}

void BM_VerifierCachedToken(benchmark::State& state) {
  const Fixture& f = fixture(Alg::kRS256);
  auto verifier = makeVerifier(f, 10000);
  (void)verifier->verify(f.token);
  for (auto _ : state) {
    auto id = verifier->verify(f.token);
    benchmark::DoNotOptimize(id->subject.data());
  }
}

void allAlgs(benchmark::internal::Benchmark* b) {
  for (int a = 0; a <= static_cast<int>(Alg::kEdDSA); ++a) {
    b->Arg(a);
  }
}

BENCHMARK(BM_SignatureVerify)->Apply(allAlgs);
BENCHMARK(BM_VerifierUncached)->Apply(allAlgs);
BENCHMARK(BM_VerifierCachedToken)->ThreadRange(1, 2);

}  // namespace

BENCHMARK_MAIN();
