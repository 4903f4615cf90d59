"""Runs the Google Benchmark kernels (build/bench/*_bench) and keeps their key figures."""
import json
import os
import subprocess
import tempfile
from pathlib import Path

# binary -> (what it measures, benchmark filter regex)
KERNELS = {
    "mask_bench": ("masking: detectors on text/JSON cells, MB/s per core", "."),
    "sql_bench": ("classification per statement: cold (parse) and cached (fingerprint hit)", "."),
    "jwt_bench": ("JWT verification: signature only, verifier uncached, cached token", "."),
    "audit_bench": ("audit append: strict and batched durability, encoding", "."),
    "codec_bench": ("PostgreSQL codec: framing and re-encoding", "."),
}


def run_kernels(bench_dir, min_time, log=print):
    """{binary: {"what", "command", "rows": [{name, label, ns, rate}], "error"}}."""
    out = {}
    kernels = dict(KERNELS)
    for extra in sorted(Path(bench_dir).glob("*_bench")):  # kernels added later run too
        kernels.setdefault(extra.name, ("", "."))
    for binary, (what, flt) in kernels.items():
        path = Path(bench_dir) / binary
        # JSON goes to a file: some kernels log to stdout while they set up.
        fd, json_path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        cmd = [str(path), f"--benchmark_min_time={min_time}", f"--benchmark_filter={flt}",
               f"--benchmark_out={json_path}", "--benchmark_out_format=json"]
        entry = {"what": what, "command": " ".join([f"{Path(bench_dir).name}/{binary}"] + cmd[1:3]),
                 "rows": []}
        out[binary] = entry
        if not path.exists():
            entry["error"] = f"{path} not built"
            continue
        log(f"  {binary}")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        try:
            data = json.loads(Path(json_path).read_text())
        except (json.JSONDecodeError, OSError):
            entry["error"] = (r.stderr.strip().splitlines() or ["no output"])[-1][:200]
            continue
        finally:
            os.unlink(json_path)
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            row = {"name": b["name"], "label": b.get("label", ""),
                   "ns": b.get("cpu_time", 0) * scale}
            if b.get("error_occurred"):
                row["error"] = b.get("error_message", "error")
            if "bytes_per_second" in b:
                row["rate"] = f"{b['bytes_per_second'] / 1e6:,.0f} MB/s"
            elif "items_per_second" in b:
                row["rate"] = f"{b['items_per_second']:,.0f} /s"
            elif row["ns"]:
                row["rate"] = f"{1e9 / row['ns']:,.0f} /s"
            entry["rows"].append(row)
    return out
