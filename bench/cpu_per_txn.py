#!/usr/bin/python3
"""Proxy CPU per transaction (and system calls per transaction) of each proxy, side by side.

    JITGATE_BIN=build/jitgate JITGATE_BASELINE_BIN=/tmp/jitgate-before \\
        bench/cpu_per_txn.py --modes prepared,simple --reps 3

Starts the benchmark environment (bench/env.py: pgbouncer and the jitgate configurations, and
with JITGATE_BASELINE_BIN the same configurations on an older build), runs `pgbench -S -c 8`
against each proxy in turn, interleaved, and prints the medians of the proxy's utime+stime from
/proc divided by transactions. With --syscalls, one more run per proxy counts its system calls
and context switches with `perf stat` (they slow the proxy a little, so they get a run of their
own). A quicker, narrower companion of `bench/run.sh --only pgbench` for before/after figures.
"""
import argparse
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import env as benchenv  # noqa: E402
import workloads  # noqa: E402


def syscalls_per_txn(target, mode, clients, seconds):
    """(system calls, context switches) per transaction of the proxy during one pgbench run."""
    res = {}
    th = threading.Thread(
        target=lambda: res.setdefault("r", workloads.pgbench_once(target, mode, clients, seconds)))
    th.start()
    time.sleep(1)
    window = max(1, seconds - 2)
    out = subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter,context-switches", "-p",
                          str(target.proxy_pid()), "--", "sleep", str(window)],
                         capture_output=True, text=True).stderr
    th.join()
    tps = res["r"].get("tps")
    counts = [re.search(r"([\d,]+)\s+" + ev, out) for ev in ("raw_syscalls:sys_enter",
                                                            "context-switches")]
    if not tps or not all(counts):
        return None
    return tuple(int(c.group(1).replace(",", "")) / (window * tps) for c in counts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="prepared,simple")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="pgbouncer|jitgate oidc+policy|jitgate full (batched)",
                    help="|-separated name prefixes of the proxies to run")
    ap.add_argument("--syscalls", action="store_true")
    args = ap.parse_args()
    prefixes = args.only.split("|")
    e = benchenv.Environment()
    try:
        e.start()
        workloads.load_data(e, 2000)
        names = [n for n in e.targets if n != "direct" and any(n.startswith(p) for p in prefixes)]
        print(f"| mode | proxy | CPU µs/txn (median of {args.reps}) | runs | TPS |"
              + (" syscalls/txn | context switches/txn |" if args.syscalls else ""))
        print("|---|---|---:|---|---:|" + ("---:|---:|" if args.syscalls else ""))
        for mode in args.modes.split(","):
            runs = {n: [] for n in names}
            for _ in range(args.reps):
                for n in names:
                    runs[n].append(workloads.pgbench_once(e.targets[n], mode, args.clients,
                                                          args.seconds))
            for n in names:
                cpu = [r["cpu_us"] for r in runs[n] if r.get("cpu_us")]
                tps = [r["tps"] for r in runs[n] if r.get("tps")]
                line = (f"| {mode} | {n} | {statistics.median(cpu):.1f} | "
                        f"{', '.join(f'{c:.1f}' for c in cpu)} | {statistics.median(tps):,.0f} |")
                if args.syscalls:
                    sc = syscalls_per_txn(e.targets[n], mode, args.clients, args.seconds)
                    line += f" {sc[0]:.2f} | {sc[1]:.2f} |" if sc else " – | – |"
                print(line, flush=True)
    finally:
        e.cleanup()


if __name__ == "__main__":
    main()
