#!/usr/bin/env bash
# `make bench`: end-to-end benchmarks of jitgate against direct PostgreSQL and pgbouncer, plus
# the Google Benchmark kernels; prints the tables and updates docs/benchmarks.md.
#
#   bench/run.sh                 full run (~10-15 minutes on 2 cores)
#   bench/run.sh --quick         ~3 minutes, smaller sizes, one repetition
#   bench/run.sh --only pgbench,large --no-docs
#   bench/run.sh --only http --no-docs   HTTP proxy overhead (bench/http_bench.py: wrk, nginx)
#
# Environment: JITGATE_BIN (default build/jitgate), JITGATE_BENCH_DIR (default: the bench/
# folder beside the binary), BENCH_SECONDS, BENCH_REPS, BENCH_LARGE, BENCH_MANY... override the
# profile. JITGATE_BASELINE_BIN names an older build: each jitgate configuration then also runs
# on it, interleaved, as "<configuration> (baseline)", for before/after figures from one run.
# Needs root (PostgreSQL and pgbouncer run as the `postgres` OS user).
set -euo pipefail
cd "$(dirname "$0")/.."
export JITGATE_BIN="${JITGATE_BIN:-$PWD/build/jitgate}"
if [[ ! -x "$JITGATE_BIN" && " $* " != *" --only http "* ]]; then
  echo "bench: $JITGATE_BIN is missing; run 'make build' or set JITGATE_BIN" >&2
  exit 1
fi
# 2,000 client sessions: the clients, the gateway (2 fds per session) and pgbench need room.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 bench/bench.py "$@"
