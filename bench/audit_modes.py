#!/usr/bin/python3
"""pgbench -S -c 8 through jitgate with session recording strict, batched and off (and strict
with the search index), as ratios to direct PostgreSQL and to the gateway without recording in
the same run (interleaved, medians), plus the fdatasync latency of the disk the log is on, which
bounds strict mode. Writes its section of docs/benchmarks.md between <!-- audit-modes:begin -->
and <!-- audit-modes:end -->, keeping the hand-written reading that follows
<!-- audit-modes:reading --> inside it.

The gateway binary is the one the e2e harness uses: $JITGATE_BIN, default build/jitgate.

Usage: JITGATE_BIN=build-x/jitgate bench/audit_modes.py [--seconds 8] [--reps 3] [--no-docs]
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import JITGATE, Gateway, PgServer, make_keys  # noqa: E402

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
CLIENTS = 8
CONFIGS = ("none", "off", "batched", "strict", "strict+index")


def audit_yaml(d, config):
    if config == "none":
        return ""
    mode, _, index = config.partition("+")
    store = f"store: sqlite://{d}/state-{mode}.db\n" if index else ""
    return (store + f"audit: {{ dir: {d}/log-{config}, durability: {mode}, "
            f"raw_payloads: encrypted, key_file: {d}/raw.key, signing_key_file: {d}/sign.pem }}\n")


def pgbench(env, seconds):
    r = subprocess.run([PGBENCH, "-n", "-S", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-T",
                        str(seconds)], env=env, capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", r.stdout)
    return float(m.group(1))


def fsync_latency(directory, preallocated, n=400):
    """Median microseconds of a 512-byte write + fdatasync: appending (the file grows) or
    rewriting preallocated space (fallocate, as the recorder does)."""
    path = Path(directory) / f"fsync-probe-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if preallocated:
            os.posix_fallocate(fd, 0, 1 << 20)
            os.fsync(fd)
        block = b"x" * 512
        times = []
        for i in range(n):
            t = time.perf_counter()
            os.pwrite(fd, block, i * len(block))
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1e6)
        return statistics.median(times)
    finally:
        os.close(fd)
        path.unlink()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    fsyncs = {"append": [], "prealloc": []}
    with PgServer() as pg:
        pg.create_db("bench")
        d = make_keys(pg.dir / "audit-bench")
        gws = {c: Gateway(pg, resources=[{"name": "bench"}],
                          extra_yaml=audit_yaml(d, c)).start() for c in CONFIGS}
        try:
            direct = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(pg.port), PGDATABASE="bench",
                          PGUSER="app", PGPASSWORD=pg.APP_PASSWORD, PGSSLMODE="require")
            subprocess.run([PGBENCH, "-i", "-s", "10", "-q"], env=direct, check=True,
                           capture_output=True)
            results = {name: [] for name in ["direct", *gws]}
            for _ in range(args.reps):
                fsyncs["append"].append(fsync_latency(d, preallocated=False))
                fsyncs["prealloc"].append(fsync_latency(d, preallocated=True))
                results["direct"].append(pgbench(direct, args.seconds))
                for config, gw in gws.items():
                    results[config].append(pgbench(gw.env("bench"), args.seconds))
        finally:
            for gw in gws.values():
                gw.cleanup()
    med = {k: statistics.median(v) for k, v in results.items()}
    fs = {k: statistics.median(v) for k, v in fsyncs.items()}
    # Strict: each transaction waits for two fsyncs in a row (its Bind before PostgreSQL sees
    # it, its result before the client does); a record that arrives while an fsync is in flight
    # waits for the rest of it and then its own (1.5 fsyncs on average).
    base_us = CLIENTS / med["none"] * 1e6
    floor_best = CLIENTS / (2 * fs["prealloc"] + base_us) * 1e6
    floor_avg = CLIENTS / (3 * fs["prealloc"] + base_us) * 1e6
    labels = {"direct": "direct", "none": "jitgate, no recording", "off": "jitgate, audit off",
              "batched": "jitgate, audit batched", "strict": "jitgate, audit strict",
              "strict+index": "jitgate, audit strict + search index"}
    binary = JITGATE.resolve()
    binary = binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = ["<!-- audit-modes:begin -->",
             "## Recording cost: audit durability modes",
             "",
             f"{datetime.date.today()}, commit {commit}, nproc {os.cpu_count()}, "
             f"`bench/audit_modes.py --seconds {args.seconds} --reps {args.reps}` "
             f"(binary `{binary}`): "
             f"`pgbench -n -S -M prepared -c {CLIENTS} -j 2` over TLS, scale 10, interleaved, "
             "medians. Raw payloads are on (encrypted); the search index (SQLite) is configured "
             "only where the row says so.",
             "",
             "| configuration | TPS (median) | ratio to direct | ratio to no recording |",
             "|---|---|---|---|"]
    for k in ["direct", *CONFIGS]:
        lines.append(f"| {labels[k]} | {med[k]:,.0f} | {med[k] / med['direct']:.2f} | "
                     f"{med[k] / med['none']:.2f} |")
    lines += ["",
              "Strict mode waits for the group-committed fsync of each statement's record "
              "before forwarding it and for the result's records before its completion; "
              "batched and off wait for neither.",
              "",
              f"fdatasync of a 512-byte write on the log's disk, median: {fs['append']:.0f} µs "
              f"appending, {fs['prealloc']:.0f} µs into preallocated space (as the recorder "
              f"writes). With two fsyncs per transaction, {CLIENTS} clients and the no-recording "
              f"round trip ({base_us:.0f} µs), strict cannot exceed ~{floor_best:,.0f} TPS "
              f"(each wait exactly one fsync) and should expect ~{floor_avg:,.0f} (a record "
              "arriving during an fsync waits 1.5 on average): "
              f"{floor_best / med['none']:.2f} and {floor_avg / med['none']:.2f} of no "
              "recording."]
    section = "\n".join(lines)
    print(section)
    if not args.no_docs:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text()
        m = re.search(r"<!-- audit-modes:begin -->.*?(<!-- audit-modes:reading -->.*?)?"
                      r"<!-- audit-modes:end -->", text, flags=re.S)
        reading = (m.group(1) if m and m.group(1) else "<!-- audit-modes:reading -->\n")
        full = section + "\n\n" + reading.rstrip() + "\n<!-- audit-modes:end -->"
        if m:
            text = text[:m.start()] + full + text[m.end():]
        else:
            text = text.rstrip() + "\n\n" + full + "\n"
        doc.write_text(text)


if __name__ == "__main__":
    main()
