#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs each one; then, unless
# --ci or a subset of targets is given, runs the differential policy test
# (tests/e2e/test_policy_differential.py) long.
#
#   scripts/fuzz.sh [target...]       10 million executions per target (FUZZ_RUNS), capped at
#                            FUZZ_MAX_SECONDS per target when set; the corpus grows in
#                            fuzz/corpus-run/ (git-ignored); prints executions, exec/s and
#                            coverage; then 2000 random sessions through the gateway
#                            (build/jitgate, or JITGATE_BIN), checked against what PostgreSQL
#                            ran, from a random seed that is printed
#   scripts/fuzz.sh --ci [target...]  8 s per target on a throw-away copy of the seed corpus;
#                            exits non-zero if any target finds a crash, leak, timeout or UB (the
#                            differential test runs in the end-to-end suite, 40 sessions)
#
# Targets (fuzz/fuzz_<name>.cc, seeds in fuzz/corpus/<name>/): frontend, backend (PostgreSQL
# codec), jwt (tokens, JWKS), sql (classifier, literal keys), mask (JSON, arrays, COPY lines,
# cells), body (streaming HTTP body maskers: JSON, NDJSON, SSE, text), config (configuration
# loader, policy compiler), audit (segment reader, record decoder, verifier), admin (admin API
# requests), http_request (HTTP front end: Beast parser, framing checks, targets, tokens,
# headers, content decoding), mcp (JSON-RPC bodies, SSE streams, tool argument schemas). Name
# them with or without the fuzz_ prefix.
#
# Environment: FUZZ_SECONDS overrides the time per target in --ci, FUZZ_RUNS the executions per
# target otherwise, FUZZ_MAX_SECONDS caps the time per target otherwise, JOBS the build
# parallelism, FUZZ_BUILD the build directory. Crash inputs are kept in $FUZZ_BUILD/artifacts/.
# JITGATE_DIFF_SEED and JITGATE_DIFF_SESSIONS replay or resize the differential run; its report
# is kept in $FUZZ_BUILD/artifacts/differential-<seed>.log when it fails.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(fuzz_frontend fuzz_backend fuzz_jwt fuzz_sql fuzz_mask fuzz_body fuzz_config
  fuzz_audit fuzz_admin fuzz_http_request fuzz_mcp)
mode=full
if [[ ${1:-} == --ci ]]; then
  mode=ci
  shift
fi
targets=()
for name in "$@"; do
  name=fuzz_${name#fuzz_}
  if [[ " ${all_targets[*]} " != *" $name "* ]]; then
    echo "usage: $0 [--ci] [target...]; targets: ${all_targets[*]}" >&2
    exit 2
  fi
  targets+=("$name")
done
differential=0
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=("${all_targets[@]}")
  [[ $mode == full ]] && differential=1
fi
seconds=${FUZZ_SECONDS:-8}
runs=${FUZZ_RUNS:-10000000}
max_seconds=${FUZZ_MAX_SECONDS:-0}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc)}

for tool in clang clang++ cmake ninja; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz: $tool is required (run 'make deps')" >&2
    exit 2
  fi
done

# Imported targets (OpenSSL::Crypto, spdlog::spdlog) are found inside src/core in this reduced
# build; making them global lets src/proto/pg and fuzz/ link them too.
if ! cmake -S . -B "$build" -G Ninja \
    -DJITGATE_FUZZ=ON -DJITGATE_TESTS=OFF -DJITGATE_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_FIND_PACKAGE_TARGETS_GLOBAL=ON \
    >"$build.configure.log" 2>&1; then
  cat "$build.configure.log" >&2
  echo "fuzz: configure failed" >&2
  exit 2
fi
rm -f "$build.configure.log"
build_start=$SECONDS
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]}"; then
  echo "fuzz: build failed" >&2
  exit 2
fi
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - build_start))s"

work=$(mktemp -d "${TMPDIR:-/tmp}/jitgate-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"

# One target: its corpus, the run, a summary line; crash inputs are copied to artifacts/.
run_target() {
  local target=$1 kind=${1#fuzz_} corpus log rc start elapsed execs cov rate edges limit
  if [[ $mode == ci ]]; then
    corpus="$work/corpus-$kind"
    limit=(-max_total_time="$seconds")
  else
    corpus="$root/fuzz/corpus-run/$kind"
    limit=(-runs="$runs")
    [[ $max_seconds -gt 0 ]] && limit+=(-max_total_time="$max_seconds")
  fi
  mkdir -p "$corpus"
  cp -n "$root/fuzz/corpus/$kind"/* "$corpus"/ 2>/dev/null || true
  log="$work/$target.log"
  echo "fuzz: running $target (${limit[*]}) ..."
  start=$SECONDS
  "$build/fuzz/$target" "${limit[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$target-" "$corpus" >"$log" 2>&1
  rc=$?
  elapsed=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  edges=$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline.*/\1/p' "$log" | head -1)
  if [[ $rc -eq 0 ]]; then
    summary+=("$(printf 'fuzz: %-14s OK      %5ss  %10s runs  %7s exec/s  %5s of %6s edges' \
      "$target" "$elapsed" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${edges:-?}")")
    return
  fi
  failed=1
  local kept="" a
  for a in "$work/$target"-*; do
    [[ -e $a ]] || continue
    cp "$a" "$build/artifacts/"
    kept+=" $build/artifacts/$(basename "$a")"
  done
  grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | head -5 >&2
  summary+=("$(printf 'fuzz: %-14s FAILED  exit %s, input:%s (reproduce: %s/fuzz/%s <input>)' \
    "$target" "$rc" "${kept:- none}" "$build" "$target")")
}

failed=0
summary=()
for target in "${targets[@]}"; do
  run_target "$target"
done

if [[ $differential -eq 1 ]]; then
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
