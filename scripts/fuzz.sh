#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs each one; then, unless
# --ci, runs the differential policy test (tests/e2e/test_policy_differential.py) long.
#
#   scripts/fuzz.sh          60 s per target; the corpus grows in fuzz/corpus-run/ (git-ignored);
#                            then 2000 random sessions through the gateway (build/jitgate, or
#                            JITGATE_BIN), checked against what PostgreSQL ran, from a random
#                            seed that is printed
#   scripts/fuzz.sh --ci     ~15 s per target on a throw-away copy of the seed corpus; exits
#                            non-zero if any target finds a crash, leak, timeout or UB (the
#                            differential test runs in the end-to-end suite, 40 sessions)
#
# Environment: FUZZ_SECONDS overrides the time per target, JOBS the build parallelism,
# FUZZ_BUILD the build directory. Crash inputs are kept in $FUZZ_BUILD/artifacts/.
# JITGATE_DIFF_SEED and JITGATE_DIFF_SESSIONS replay or resize the differential run; its report
# is kept in $FUZZ_BUILD/artifacts/differential-<seed>.log when it fails.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

mode=full
seconds=60
case "${1:-}" in
  --ci) mode=ci; seconds=15 ;;
  "") ;;
  *) echo "usage: $0 [--ci]" >&2; exit 2 ;;
esac
seconds=${FUZZ_SECONDS:-$seconds}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc)}
targets=(fuzz_frontend fuzz_backend)

for tool in clang clang++ cmake ninja; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz: $tool is required (run 'make deps')" >&2
    exit 2
  fi
done

# Imported targets (OpenSSL::Crypto, spdlog::spdlog) are found inside src/core in this reduced
# build; making them global lets src/proto/pg link them too.
if ! cmake -S . -B "$build" -G Ninja \
    -DJITGATE_FUZZ=ON -DJITGATE_TESTS=OFF -DJITGATE_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_FIND_PACKAGE_TARGETS_GLOBAL=ON \
    >"$build.configure.log" 2>&1; then
  cat "$build.configure.log" >&2
  echo "fuzz: configure failed" >&2
  exit 2
fi
rm -f "$build.configure.log"
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]}"; then
  echo "fuzz: build failed" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/jitgate-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"

failed=0
summary=()
for target in "${targets[@]}"; do
  kind=${target#fuzz_}
  if [[ $mode == ci ]]; then
    corpus="$work/corpus-$kind"
  else
    corpus="$root/fuzz/corpus-run/$kind"
  fi
  mkdir -p "$corpus"
  cp -n "$root/fuzz/corpus/$kind"/* "$corpus"/ 2>/dev/null || true
  log="$work/$target.log"
  echo "fuzz: running $target for ${seconds}s ..."
  "$build/fuzz/$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$target-" "$corpus" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [[ $rc -eq 0 ]]; then
    summary+=("$(printf 'fuzz: %-14s OK      %4ss  %10s runs  %5s edges' \
      "$target" "$seconds" "${runs:-?}" "${cov:-?}")")
  else
    failed=1
    kept=""
    for a in "$work/$target"-*; do
      [[ -e $a ]] || continue
      cp "$a" "$build/artifacts/"
      kept+=" $build/artifacts/$(basename "$a")"
    done
    grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | head -5 >&2
    summary+=("$(printf 'fuzz: %-14s FAILED  exit %s, input:%s (reproduce: %s/fuzz/%s <input>)' \
      "$target" "$rc" "${kept:- none}" "$build" "$target")")
  fi
done

if [[ $mode == full ]]; then
  seed=${JITGATE_DIFF_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
  sessions=${JITGATE_DIFF_SESSIONS:-2000}
  echo "fuzz: running the differential policy test, seed $seed, $sessions sessions ..."
  log="$work/differential.log"
  start=$SECONDS
  if JITGATE_DIFF_SEED=$seed JITGATE_DIFF_SESSIONS=$sessions /usr/bin/python3 -m pytest -q \
      -p no:cacheprovider "$root/tests/e2e/test_policy_differential.py" >"$log" 2>&1; then
    summary+=("$(printf 'fuzz: %-14s OK      %4ss  %10s sessions  seed %s' \
      differential "$((SECONDS - start))" "$sessions" "$seed")")
  else
    failed=1
    cp "$log" "$build/artifacts/differential-$seed.log"
    sed -n '/AssertionError: the server did/,/^E *$/s/^E *//p' "$log" | head -40 >&2
    summary+=("$(printf 'fuzz: %-14s FAILED  seed %s, report: %s' differential "$seed" \
      "$build/artifacts/differential-$seed.log")")
  fi
fi

printf '%s\n' "${summary[@]}"
exit $failed
