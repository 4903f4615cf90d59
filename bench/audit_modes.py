#!/usr/bin/python3
"""pgbench -S -c 8 through jitgate with session recording strict, batched and off, as ratios to
direct PostgreSQL in the same run (interleaved, medians). Writes its section of
docs/benchmarks.md between <!-- audit-modes:begin --> and <!-- audit-modes:end -->.

Usage: bench/audit_modes.py [--seconds 8] [--reps 3] [--no-docs]
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import Gateway, PgServer, make_keys  # noqa: E402

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def audit_yaml(d, mode):
    if mode == "none":
        return ""
    return (f"audit: {{ dir: {d}/log-{mode}, durability: {mode}, raw_payloads: encrypted, "
            f"key_file: {d}/raw.key, signing_key_file: {d}/sign.pem }}\n")


def pgbench(env, seconds):
    r = subprocess.run([PGBENCH, "-n", "-S", "-M", "prepared", "-c", "8", "-j", "2", "-T",
                        str(seconds)], env=env, capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", r.stdout)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    with PgServer() as pg:
        pg.create_db("bench")
        d = make_keys(pg.dir / "audit-bench")
        gws = {mode: Gateway(pg, resources=[{"name": "bench"}],
                             extra_yaml=audit_yaml(d, mode)).start()
               for mode in ("none", "off", "batched", "strict")}
        try:
            direct = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(pg.port), PGDATABASE="bench",
                          PGUSER="app", PGPASSWORD=pg.APP_PASSWORD, PGSSLMODE="require")
            subprocess.run([PGBENCH, "-i", "-s", "10", "-q"], env=direct, check=True,
                           capture_output=True)
            results = {name: [] for name in ["direct", *gws]}
            for _ in range(args.reps):
                results["direct"].append(pgbench(direct, args.seconds))
                for mode, gw in gws.items():
                    results[mode].append(pgbench(gw.env("bench"), args.seconds))
        finally:
            for gw in gws.values():
                gw.cleanup()
    med = {k: statistics.median(v) for k, v in results.items()}
    labels = {"direct": "direct", "none": "jitgate, no recording", "off": "jitgate, audit off",
              "batched": "jitgate, audit batched", "strict": "jitgate, audit strict"}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = ["<!-- audit-modes:begin -->",
             "## Recording cost: audit durability modes",
             "",
             f"{datetime.date.today()}, commit {commit}, nproc {os.cpu_count()}, "
             f"`bench/audit_modes.py --seconds {args.seconds} --reps {args.reps}`: "
             "`pgbench -n -S -M prepared -c 8 -j 2` over TLS, scale 10, interleaved, medians.",
             "",
             "| configuration | TPS (median) | ratio to direct | ratio to no recording |",
             "|---|---|---|---|"]
    for k in ["direct", "none", "off", "batched", "strict"]:
        lines.append(f"| {labels[k]} | {med[k]:,.0f} | {med[k] / med['direct']:.2f} | "
                     f"{med[k] / med['none']:.2f} |")
    lines += ["", "Strict mode waits for the group-committed fsync of each statement's record "
              "before forwarding it and for the result's records before its completion; "
              "batched waits for neither.", "<!-- audit-modes:end -->"]
    section = "\n".join(lines)
    print(section)
    if not args.no_docs:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text()
        if "<!-- audit-modes:begin -->" in text:
            text = re.sub(r"<!-- audit-modes:begin -->.*<!-- audit-modes:end -->", section, text,
                          flags=re.S)
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        doc.write_text(text)


if __name__ == "__main__":
    main()
