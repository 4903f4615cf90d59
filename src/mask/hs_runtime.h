// HsRuntime: the Vectorscan scan routine and compile target that find every match on this CPU.
//
// Vectorscan 5.4.9 (Debian 12's libvectorscan5) is a "fat runtime": hs_scan dispatches to a
// routine built for the CPU (core2, corei7, avx2, avx512). Its AVX-512 routine misses matches
// on AVX-512 VBMI CPUs: `@[a-z]+\.` compiled alone is not found past ~60 bytes into a buffer,
// for most offsets. A masking engine that misses matches fails open, so before the first
// database is compiled the dispatched hs_scan is checked against planted matches at every offset
// of a few probe patterns. When it misses any, the runtime switches to the best routine that
// passes the same check (looked up by name: avx2_hs_scan, corei7_hs_scan, core2_hs_scan) and
// compiles databases for that target; when none passes, masking cannot start (fail closed).
//
// Initialized once per process; thread-safe afterwards.
#pragma once

#include <hs/hs.h>

#include <string>

#include "core/status.h"

namespace jg::mask {

using HsScanFn = hs_error_t (*)(const hs_database_t*, const char*, unsigned, unsigned,
                                hs_scratch_t*, match_event_handler, void*);

struct HsRuntime {
  HsScanFn scan = nullptr;
  const hs_platform_info_t* platform = nullptr;  // compile target; null = the host
  std::string routine;                           // "hs_scan" or the routine switched to
};

// The checked runtime, or why no Vectorscan routine finds every match here.
const Result<HsRuntime>& hsRuntime();

// For tests: whether `scan` finds every planted match of the probe patterns.
bool hsScanFindsEveryMatch(HsScanFn scan, const hs_platform_info_t* platform);

}  // namespace jg::mask
