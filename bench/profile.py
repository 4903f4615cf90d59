#!/usr/bin/python3
"""Profiles the gateway under a pgbench load with `perf` (Debian linux-perf).

    JITGATE_BIN=build-x/jitgate bench/profile.py --config "jitgate oidc+policy" -M prepared -c 8

Starts the benchmark environment (bench/env.py), runs pgbench -S against the chosen
configuration and records the gateway's on-CPU call graphs meanwhile; prints the hottest
symbols (self and children) and leaves perf.data in --out. Build with RelWithDebInfo (the
default) so the report has symbols.
"""
import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import env as benchenv  # noqa: E402
import workloads  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="jitgate oidc+policy")
    ap.add_argument("-M", "--mode", default="prepared")
    ap.add_argument("-c", "--clients", type=int, default=8)
    ap.add_argument("-T", "--seconds", type=int, default=8)
    ap.add_argument("--out", default="/tmp/jitgate-perf.data")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--focus", action="append", default=[],
                    help="symbol whose inclusive share to report (repeatable), e.g. "
                         "jg::server::Session::refuseStatement (policy: classify + decide)")
    args = ap.parse_args()
    e = benchenv.Environment()
    try:
        e.start()
        workloads.load_data(e, 2000)
        t = e.targets[args.config]
        pid = t.pid()
        result = {}

        def load():
            result["run"] = workloads.pgbench_once(t, args.mode, args.clients, args.seconds)

        th = threading.Thread(target=load)
        th.start()
        time.sleep(1.5)
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        subprocess.run(["perf", "record", "-F", "999", "-g", "--call-graph", "dwarf,16384",
                        "-o", args.out, "-p", str(pid), "--", "sleep",
                        str(max(1, args.seconds - 3))], capture_output=True)
        cpu1, wall1 = cpu_seconds(pid), time.monotonic()
        th.join()
        print(f"{args.config}: pgbench -S -M {args.mode} -c {args.clients}: {result['run']}")
        ncpu = len(os.sched_getaffinity(0))
        gw_share = (cpu1 - cpu0) / ((wall1 - wall0) * ncpu)
        tps = result["run"]["tps"]
        print(f"gateway CPU: {cpu1 - cpu0:.2f} s in {wall1 - wall0:.2f} s = "
              f"{100 * gw_share:.1f}% of the machine's {ncpu} cores; "
              f"{1e6 * (cpu1 - cpu0) / (wall1 - wall0) / tps:.1f} µs per transaction")
    finally:
        e.cleanup()
    if args.focus:
        r = subprocess.run(["perf", "report", "-i", args.out, "--stdio", "--children",
                            "--percent-limit", "0", "-g", "none", "--sort", "symbol"],
                           capture_output=True, text=True)
        for sym in args.focus:
            for line in r.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 4 and parts[3] == sym:
                    share = float(parts[0].rstrip("%"))
                    print(f"{sym}: {share:.2f}% of the gateway's samples (inclusive) = "
                          f"{share * gw_share:.2f}% of the machine's CPU")
                    break
            else:
                print(f"{sym}: no samples")
    for children in ("--no-children", "--children"):
        r = subprocess.run(["perf", "report", "-i", args.out, "--stdio", children,
                            "--percent-limit", "0.7", "-g", "none", "--sort", "symbol"],
                           capture_output=True, text=True)
        lines = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith("#")]
        print(f"\n== {children}\n" + "\n".join(lines[:args.top]))


def cpu_seconds(pid):
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
