#include "mask/hs_runtime.h"

#include <dlfcn.h>

#include <string_view>

#include "core/log.h"
#include "core/log_fields.h"

namespace jg::mask {
namespace {

// Shapes of the built-in and typical custom detectors: one literal then a class, a class run,
// an alternation anchored on a word boundary.
constexpr const char* kProbes[] = {"@[a-z]+\\.", "[a-z0-9._%+-]+@[a-z0-9-]+\\.[a-z]{2,}",
                                   "\\bAKIA[0-9A-Z]{16}\\b", "\\b\\d{3}-\\d{2}-\\d{4}\\b"};
constexpr const char* kPlants[] = {"bob@example.com", "bob@example.com", "AKIAIOSFODNN7EXAMPLE",
                                   "123-45-6789"};

int countMatch(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  ++*static_cast<int*>(ctx);
  return 1;  // one is enough
}

bool probe(HsScanFn scan, const hs_platform_info_t* platform, const char* pattern,
           std::string_view plant) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(pattern, HS_FLAG_CASELESS, HS_MODE_BLOCK, platform, &db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return false;
  }
  hs_scratch_t* scratch = nullptr;
  bool ok = hs_alloc_scratch(db, &scratch) == HS_SUCCESS;
  std::string buf;
  for (size_t offset = 0; ok && offset < 300; ++offset) {
    for (size_t tail : {size_t{1}, size_t{67}}) {
      buf.assign(offset, 'x');
      buf += ' ';
      buf += plant;
      buf += ' ';
      buf.append(tail, 'y');
      int found = 0;
      hs_error_t rc =
          scan(db, buf.data(), static_cast<unsigned>(buf.size()), 0, scratch, countMatch, &found);
      ok = ok && (rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED) && found > 0;
    }
  }
  hs_free_scratch(scratch);
  hs_free_database(db);
  return ok;
}

Result<HsRuntime> select() {
  static hs_platform_info_t generic{};
  if (hsScanFindsEveryMatch(hs_scan, nullptr)) {
    return HsRuntime{hs_scan, nullptr, "hs_scan"};
  }
  for (const char* name : {"avx2_hs_scan", "corei7_hs_scan", "core2_hs_scan"}) {
    auto fn = reinterpret_cast<HsScanFn>(dlsym(RTLD_DEFAULT, name));
    if (fn == nullptr) {
      continue;
    }
    std::string_view n(name);
    generic = hs_platform_info_t{};
    generic.tune = HS_TUNE_FAMILY_GENERIC;
    generic.cpu_features = n.starts_with("avx2") ? HS_CPU_FEATURES_AVX2 : 0;
    if (hsScanFindsEveryMatch(fn, &generic)) {
      log::notice("",
                  "Vectorscan's hs_scan misses matches on this CPU (a defect of its AVX-512 "
                  "routine); masking scans with {} instead",
                  name);
      return HsRuntime{fn, &generic, name};
    }
  }
  return Status::error(Code::kInternal,
                       "the Vectorscan library misses pattern matches on this CPU and no working "
                       "scan routine was found; masking cannot run safely (install a Vectorscan "
                       "build with the fix, or run on a CPU without AVX-512)");
}

}  // namespace

bool hsScanFindsEveryMatch(HsScanFn scan, const hs_platform_info_t* platform) {
  for (size_t i = 0; i < std::size(kProbes); ++i) {
    if (!probe(scan, platform, kProbes[i], kPlants[i])) {
      return false;
    }
  }
  return true;
}

const Result<HsRuntime>& hsRuntime() {
  static const Result<HsRuntime> runtime = select();
  return runtime;
}

}  // namespace jg::mask
