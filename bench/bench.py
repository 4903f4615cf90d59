#!/usr/bin/python3
"""`make bench`: jitgate against direct PostgreSQL and pgbouncer, side by side, as ratios.

Starts everything itself (bench/env.py), runs the workloads (bench/workloads.py) and the
Google Benchmark kernels (bench/kernels.py), prints the tables and writes them into
docs/benchmarks.md between the generated-section markers. See bench/README.md.
"""
import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import env as benchenv  # noqa: E402
import http_bench  # noqa: E402
import http_large  # noqa: E402
import kernels  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402

ROOT = benchenv.ROOT
SECTIONS = ["pgbench", "rag", "large", "connect", "many", "kernels", "http", "http-large"]
PG_SECTIONS = SECTIONS[:5]  # the sections that need PostgreSQL and the gateways of bench/env.py

PROFILES = {
    # seconds per pgbench/RAG run, interleaved repetitions, large-result bytes, connections
    "full": dict(seconds=5, reps=3, large=1 << 30, connects=200, many=2000, many_tx=50,
                 kernel_min_time=0.3, chunks=40000, http_seconds=5),
    "quick": dict(seconds=2, reps=1, large=128 << 20, connects=40, many=300, many_tx=20,
                  kernel_min_time=0.05, chunks=8000, http_seconds=2),
}


def log(msg):
    print(msg, flush=True)


def git(*args):
    r = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return r.stdout.strip()


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def targets_status(pgb, large, names):
    """The issue's targets, each as (target, measured, met?)."""
    rows = []
    for mode in ("simple", "extended", "prepared"):
        per = pgb.get((mode, 8), {})
        d = per.get("direct", {}).get("tps")
        bouncer = per.get("pgbouncer", {}).get("tps")
        for name in ("jitgate full", "jitgate oidc+policy"):
            t = per.get(name, {}).get("tps")
            if name in names and d and bouncer and t:
                rows.append((f"{name} ≥ pgbouncer's ratio, -S -M {mode} -c 8 (goal 0.85)",
                             f"{t / d:.2f} vs pgbouncer {bouncer / d:.2f}",
                             "met" if t >= bouncer else "missed"))
        t = per.get("jitgate pass-through", {}).get("tps")
        if d and t:
            rows.append((f"pass-through ≥ 0.9 of direct, -S -M {mode} -c 8", f"{t / d:.2f}",
                         "met" if t / d >= 0.9 else "missed"))
    for mode in ("simple", "extended", "prepared"):
        per = pgb.get((mode, 1), {})
        d = per.get("direct", {}).get("p50_us")
        for name in ("jitgate full", "jitgate oidc+policy"):
            t = per.get(name, {}).get("p50_us")
            if name in names and d and t:
                rows.append((f"{name}: one client adds ≤ 30 µs to the median, -M {mode}",
                             f"{t - d:+.0f} µs ({d:.0f} → {t:.0f})",
                             "met" if t - d <= 30 else "missed"))
    if large:
        res = large["results"]
        d = res.get("direct", {}).get("seconds")
        for name in ("jitgate full", "jitgate oidc+policy"):
            r = res.get(name, {})
            if name in names and d and r.get("seconds"):
                ratio = d / r["seconds"]
                rows.append((f"{name}: large result ≥ 0.8 of direct throughput", f"{ratio:.2f}",
                             "met" if ratio >= 0.8 else "missed"))
                rows.append((f"{name}: large result peak RSS < 64 MB",
                             f"{r['peak_rss_mb']:.1f} MB",
                             "met" if r["peak_rss_mb"] < 64 else "missed"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a ~3 minute version")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--bench-dir", default=os.environ.get(
        "JITGATE_BENCH_DIR", str(Path(benchenv.JITGATE).parent / "bench")))
    args = ap.parse_args()
    profile_name = "quick" if args.quick else "full"
    P = dict(PROFILES[profile_name])
    for key in P:  # BENCH_SECONDS=3 etc. override a profile value
        if os.environ.get("BENCH_" + key.upper()):
            P[key] = type(P[key])(os.environ["BENCH_" + key.upper()])
    only = [s for s in args.only.split(",") if s]
    fd_limit = raise_fd_limit(4 * P["many"] + 1024)
    needs_pg = any(s in only for s in PG_SECTIONS)
    if needs_pg and not Path(benchenv.JITGATE).exists():
        sys.exit(f"bench: {benchenv.JITGATE} does not exist (build it or set JITGATE_BIN)")
    started = time.time()
    meta = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "src")),
            "nproc": os.cpu_count(), "profile": profile_name, "fd_limit": fd_limit,
            "cpu": _cpu_model(), "jitgate": str(benchenv.JITGATE)}
    e = benchenv.Environment(max_connections=P["many"] + 300)
    results = {}
    try:
        if needs_pg:
            e.start(log)
            workloads.load_data(e, P["chunks"], log)
        names = list(e.targets)
        gw_names = [n for n in names if n.startswith("jitgate")]
        if "pgbench" in only:
            log("1. pgbench select-only")
            results["pgbench"] = workloads.pgbench_suite(
                e, names, ["simple", "extended", "prepared"], [1, 8], P["seconds"], P["reps"], log)
        if "rag" in only:
            log("2. RAG retriever")
            results["rag"] = workloads.rag_suite(e, names, 4, P["seconds"], P["reps"], 8,
                                                 P["chunks"] // 8, log)
        if "large" in only:
            log("3. large result")
            results["large"] = workloads.large_result(e, ["direct"] + gw_names, P["large"], log)
        if "connect" in only:
            log("4. connection setup")
            results["connect"] = workloads.connect_suite(e, names, P["connects"], log)
        if "many" in only:
            log(f"5. many clients ({P['many']})")
            best = "jitgate full" if "jitgate full" in names else "jitgate oidc+policy"
            results["many"] = workloads.many_clients(e, ["direct", best], P["many"],
                                                     P["many_tx"], log)
    finally:
        e.cleanup()
    if "kernels" in only:
        log("6. kernels")
        results["kernels"] = kernels.run_kernels(args.bench_dir, P["kernel_min_time"], log)
    if "http" in only:
        log("7. HTTP proxy overhead (bench/http_bench.py)")
        results["http"] = http_bench.run(P["http_seconds"], P["reps"], 8, 1, log)
    if "http-large" in only:
        log("8. a large JSON response through the HTTP front end (bench/http_large.py)")
        results["http-large"] = http_large.run(P["large"] >> 20, log)
    meta["minutes"] = (time.time() - started) / 60
    md = render(meta, P, e, names, results)
    print("\n" + md)
    if not args.no_docs:
        report.write_docs(args.docs, md)
        log(f"\nwritten to {args.docs}")


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def render(meta, P, e, names, results):
    un = e.unavailable
    out = ["## Results of `make bench`", "",
           f"Generated {meta['date']} at commit `{meta['commit']}`"
           + (" (with uncommitted changes under src/)" if meta["dirty"] else "")
           + f", `nproc` = {meta['nproc']} ({meta['cpu']}), profile **{meta['profile']}** "
           f"(`bench/run.sh{' --quick' if meta['profile'] == 'quick' else ''}`), "
           f"{meta['minutes']:.1f} min, open-file limit {meta['fd_limit']}, binary "
           f"`{os.path.relpath(meta['jitgate'], ROOT)}`. "
           "PostgreSQL, pgbouncer, the gateway and the clients share these cores, so every "
           "figure is a median of interleaved runs and is read as a ratio to *direct* in the "
           "same run.", "",
           "| configuration | what |", "|---|---|"]
    for name in names:
        out.append(f"| {name} | {e.targets[name].note} |")
    for name, why in un.items():
        out.append(f"| {name} | {why} |")
    out += ["", "Gateway features in *jitgate full*: " + ", ".join(
        f"{k}: {v}" for k, v in e.features.items()) + ".", ""]
    if "pgbench" in results:
        status = targets_status(results["pgbench"], results.get("large"), names)
        out += ["### Targets", "", report._table(["target", "measured", "status"], status), ""]
        out += [f"### 1. pgbench select-only, scale 10 ({P['reps']} interleaved runs of "
                f"{P['seconds']} s each, medians; latency from the per-transaction log)", "",
                report.pgbench_table(results["pgbench"], names, un), ""]
    if "rag" in results:
        out += [f"### 2. RAG retriever (psycopg, prepared; 4 processes each fetch the top 8 "
                f"chunks of a random document by key, 1–4 KB of text each, 20 % with PII; "
                f"{P['reps']} interleaved runs of {P['seconds']} s, medians)", "",
                report.rag_table(results["rag"], names, un), ""]
    if "large" in results:
        lg = results["large"]
        out += [f"### 3. Large result ({lg['rows']:,} text rows of ~2 KB, 1 % with an e-mail "
                "address, simple query, streamed by a framing-only client; one run each)", "",
                report.large_table(lg, [n for n in names if n == "direct" or
                                        n.startswith("jitgate")], un), ""]
    if "connect" in results:
        out += [f"### 4. Connection setup (TCP connect → TLS → authentication → ReadyForQuery; "
                f"{P['connects']} sequential connections per configuration, interleaved)", "",
                report.connect_table(results["connect"], names, un), "",
                "pgbouncer reuses its pooled server connections, so it skips the backend fork "
                "that direct and jitgate pay. jitgate's setup includes token verification, "
                "session-level policy binding and a SCRAM-over-TLS upstream connection; "
                "ephemeral roles are " + e.features.get("ephemeral roles", "n/a") + ".", ""]
    if "many" in results:
        out += [f"### 5. Many clients ({P['many']} concurrent connections)", "",
                report.many_table(results["many"], P["many"]), "",
                "Idle: sessions opened by one asyncio client, one `select 1` each, then held; "
                "RSS per session = growth of the gateway's RSS / sessions. Active: `pgbench -S "
                f"-M prepared -c {P['many']} -j 2 -t {P['many_tx']}` (TPS without connection "
                "time). jitgate opens one "
                "upstream connection per session (no pooling), so PostgreSQL runs with "
                f"max_connections = {P['many'] + 300}.", ""]
    if "kernels" in results:
        out += ["### 6. Kernels (Google Benchmark, one core, CPU time)", "",
                report.kernels_table(results["kernels"]), ""]
    if "http" in results:
        out += ["### 7. HTTP: a vector-search API direct, through nginx and through jitgate", "",
                http_bench.table(results["http"]), "",
                "The upstream is nginx answering every search with the same JSON; jitgate "
                "rows that its binary cannot serve yet (no HTTP front end) are listed as "
                "skipped.", ""]
    if "http-large" in results:
        out += ["### 8. HTTP: one large JSON response, masked and recorded as it streams", "",
                http_large.table(results["http-large"]), ""]
    out += ["### Commands", "", "```", "make bench            # = bench/run.sh (build/jitgate)",
            "bench/run.sh --quick  # ~3 minutes",
            "JITGATE_BIN=build-x/jitgate bench/run.sh --only pgbench,large --no-docs",
            "bench/run.sh --only http --no-docs   # = bench/http_bench.py",
            "bench/run.sh --only http-large --no-docs   # = bench/http_large.py"]
    if "pgbench" in results:
        out += ["# 1. for each mode, clients, repetition, configuration (interleaved):",
                f"pgbench -n -S -M {{simple|extended|prepared}} -c {{1|8}} -j {{1|2}} "
                f"-T {P['seconds']} -l   # PGSSLMODE=require"]
    if "large" in results:
        out += ["# 3. " + results["large"]["sql"]]
    for entry in results.get("kernels", {}).values():
        out.append("# 6. " + entry["command"])
    out += ["```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
