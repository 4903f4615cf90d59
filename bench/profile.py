#!/usr/bin/python3
"""Profiles the gateway under a pgbench load with `perf` (Debian linux-perf).

    JITGATE_BIN=build-x/jitgate bench/profile.py --config "jitgate oidc+policy" -M prepared -c 8

Starts the benchmark environment (bench/env.py), runs pgbench -S against the chosen
configuration and records the gateway's on-CPU call graphs meanwhile; prints the hottest
symbols (self and children) and leaves perf.data in --out. Build with RelWithDebInfo (the
default) so the report has symbols.
"""
import argparse
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
        subprocess.run(["perf", "record", "-F", "999", "-g", "--call-graph", "dwarf,16384",
                        "-o", args.out, "-p", str(pid), "--", "sleep",
                        str(max(1, args.seconds - 3))], capture_output=True)
        th.join()
        print(f"{args.config}: pgbench -S -M {args.mode} -c {args.clients}: {result['run']}")
    finally:
        e.cleanup()
    for children in ("--no-children", "--children"):
        r = subprocess.run(["perf", "report", "-i", args.out, "--stdio", children,
                            "--percent-limit", "0.7", "-g", "none", "--sort", "symbol"],
                           capture_output=True, text=True)
        lines = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith("#")]
        print(f"\n== {children}\n" + "\n".join(lines[:args.top]))


if __name__ == "__main__":
    main()
