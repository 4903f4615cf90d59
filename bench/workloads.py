"""The benchmark workloads. Each returns plain dicts; bench/report.py turns them into tables.

Runs of different configurations are interleaved (A B C A B C ...) and summarised by medians,
because the machine is shared: a noisy neighbour then hurts every configuration alike.
"""
import asyncio
import glob
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from env import PGBENCH
import pgclient

CHUNK_SQL = """
CREATE TABLE chunks (chunk_id int PRIMARY KEY, doc_id int NOT NULL, title text,
                     author_email text, body text NOT NULL);
INSERT INTO chunks
SELECT g, g / 8, 'document ' || (g / 8),
       'author' || (g % 997) || '@corp.example',
       left(repeat(md5(g::text) || ' Refunds are processed within five business days; a disputed '
                   'charge is investigated by the payments team before any reversal. ', 40),
            1024 + (g * 7919) % 3072)
       || CASE WHEN g % 10 = 0 THEN ' Customer contact: jane.roe' || g || '@example.com, phone '
                                    '+1 415 555 ' || lpad((g % 10000)::text, 4, '0')
               WHEN g % 10 = 5 THEN ' Card on file 4111 1111 1111 1111, SSN 078-05-1120.'
               ELSE '' END
FROM generate_series(1, {n}) g;
CREATE INDEX ON chunks (doc_id);
ALTER TABLE chunks OWNER TO app;
ANALYZE chunks;
"""

RAG_QUERY = "select chunk_id, title, body from chunks where doc_id = %s order by chunk_id limit %s"


def load_data(env, chunks, log=print):
    log("loading pgbench scale 10 and the RAG chunks table")
    t = env.targets["direct"]
    r = subprocess.run([PGBENCH, "-i", "-s", "10", "-q", "--unlogged-tables"], env=t.pgenv("bench"),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("pgbench -i failed: " + r.stderr)
    env.pg.sql(CHUNK_SQL.format(n=chunks), db="kb")
    env.pg.sql("VACUUM ANALYZE", db="bench")


def _percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# -- 1. pgbench ------------------------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/<pid>/stat); None when unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def pgbench_once(target, mode, clients, seconds):
    """One pgbench -S run; latencies come from the per-transaction log (microseconds), and the
    proxy's CPU time (utime+stime) per transaction from /proc."""
    logdir = tempfile.mkdtemp(prefix="jg-pgbench-")
    pid = target.proxy_pid()
    cpu_before = cpu_seconds(pid)
    try:
        args = [PGBENCH, "-n", "-S", "-M", mode, "-c", str(clients), "-j",
                str(min(clients, 2)), "-T", str(seconds), "-l",
                "--log-prefix", os.path.join(logdir, "tx")]
        r = subprocess.run(args, env=target.pgenv("bench"), capture_output=True, text=True,
                           timeout=seconds * 4 + 120, cwd=logdir)
        cpu_after = cpu_seconds(pid)
        m = re.search(r"tps = ([0-9.]+) \(without initial", r.stdout)
        n = re.search(r"number of transactions actually processed: ([0-9]+)", r.stdout)
        if r.returncode != 0 or not m:
            return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:]}
        cpu_us = None
        if cpu_before is not None and cpu_after is not None and n and int(n.group(1)) > 0:
            cpu_us = (cpu_after - cpu_before) * 1e6 / int(n.group(1))
        lat = []
        for path in glob.glob(os.path.join(logdir, "tx*")):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        lat.append(int(parts[2]))
        lat.sort()
        return {"tps": float(m.group(1)), "avg_us": sum(lat) / len(lat),
                "p50_us": _percentile(lat, 0.5), "p99_us": _percentile(lat, 0.99),
                "cpu_us": cpu_us, "tx": int(n.group(1)) if n else None,
                "args": " ".join(args[1:-2])}
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def pgbench_suite(env, targets, modes, client_counts, seconds, reps, log=print):
    """{(mode, clients): {target: {tps, avg_us, p50_us, p99_us, runs}}}, medians over reps."""
    raw = {}
    for rep in range(reps):
        for mode in modes:
            for clients in client_counts:
                for name in targets:
                    res = pgbench_once(env.targets[name], mode, clients, seconds)
                    raw.setdefault((mode, clients), {}).setdefault(name, []).append(res)
                    log(f"  pgbench -M {mode} -c {clients} rep {rep + 1}/{reps} {name}: " + (
                        f"{res['tps']:.0f} tps, p50 {res['p50_us']:.0f} us"
                        if "tps" in res else f"error {res['error']}"))
    out = {}
    for key, per_target in raw.items():
        for name, runs in per_target.items():
            ok = [r for r in runs if "tps" in r]
            summary = {"runs": len(ok), "errors": [r["error"] for r in runs if "error" in r]}
            for k in ("tps", "avg_us", "p50_us", "p99_us"):
                summary[k] = _median([r[k] for r in ok])
            cpu = [r["cpu_us"] for r in ok if r.get("cpu_us") is not None]
            summary["cpu_us"] = _median(cpu) if cpu else None
            out.setdefault(key, {})[name] = summary
    return out


# -- 2. RAG retriever ------------------------------------------------------------------------


def _rag_worker(conninfo, seconds, k, max_doc, seed, queue):
    import psycopg
    rnd = random.Random(seed)
    lat, nbytes, rows = [], 0, 0
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            deadline = time.perf_counter() + seconds
            while True:
                start = time.perf_counter()
                if start >= deadline:
                    break
                res = conn.execute(RAG_QUERY, (rnd.randint(1, max_doc), k), prepare=True).fetchall()
                lat.append(time.perf_counter() - start)
                rows += len(res)
                nbytes += sum(len(r[2]) for r in res)
        queue.put({"lat": lat, "bytes": nbytes, "rows": rows})
    except Exception as exc:  # reported in the table
        queue.put({"error": str(exc)[:200]})


def rag_once(target, workers, seconds, k, max_doc):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rag_worker, args=(target.conninfo("kb"), seconds, k, max_doc,
                                                   i * 7919 + int(time.time()), queue))
             for i in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return {"error": errors[0]}
    lat = sorted(x for r in results for x in r["lat"])
    return {"qps": len(lat) / seconds, "avg_us": 1e6 * sum(lat) / len(lat),
            "p50_us": 1e6 * _percentile(lat, 0.5), "p99_us": 1e6 * _percentile(lat, 0.99),
            "mb_s": sum(r["bytes"] for r in results) / seconds / 1e6,
            "rows_per_query": sum(r["rows"] for r in results) / len(lat)}


def rag_suite(env, targets, workers, seconds, reps, k, max_doc, log=print):
    raw = {}
    for rep in range(reps):
        for name in targets:
            res = rag_once(env.targets[name], workers, seconds, k, max_doc)
            raw.setdefault(name, []).append(res)
            log(f"  rag rep {rep + 1}/{reps} {name}: " + (
                f"{res['qps']:.0f} q/s, p50 {res['p50_us']:.0f} us" if "qps" in res
                else f"error {res['error']}"))
    out = {}
    for name, runs in raw.items():
        ok = [r for r in runs if "qps" in r]
        out[name] = {"runs": len(ok), "errors": [r["error"] for r in runs if "error" in r]}
        for key in ("qps", "avg_us", "p50_us", "p99_us", "mb_s", "rows_per_query"):
            out[name][key] = _median([r[key] for r in ok])
    return out


# -- 3. large result -------------------------------------------------------------------------


def large_sql(total_bytes):
    rows = total_bytes // 2048
    # 2 KB text rows; one row in 100 carries an e-mail address the detectors must mask.
    return ("select repeat(md5(g::text), 64 - (g % 100 = 0)::int) || "
            "case when g % 100 = 0 then 'ada' || (g % 1000) || '@example.com' else '' end "
            f"from generate_series(1, {rows}) g"), rows


def _reset_peak_rss(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _status_kb(pid, field):
    """A /proc/<pid>/status figure in KB; None once the process is gone (a proxy that died is
    reported in its row, not a crash of the whole run)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def large_result(env, targets, total_bytes, log=print):
    sql, nrows = large_sql(total_bytes)
    out = {}
    for name in targets:
        t = env.targets[name]
        gw = t.gateway
        if gw is not None:
            reset = _reset_peak_rss(gw.proc.pid)
            rss_before = _status_kb(gw.proc.pid, "VmRSS")
        try:
            conn = pgclient.Connection(t.port, t.user, t.password(), "kb", t.tls).connect()
            start = time.perf_counter()
            rows, nbytes = conn.stream(sql)
            elapsed = time.perf_counter() - start
            conn.close()
        except Exception as exc:
            out[name] = {"error": str(exc)[:200]}
            log(f"  large result {name}: error {exc}")
            continue
        res = {"seconds": elapsed, "mb_s": nbytes / elapsed / 1e6, "rows": rows, "bytes": nbytes}
        if rows != nrows:
            res["error"] = f"{rows} rows instead of {nrows}"
        if gw is not None:
            res["peak_rss_mb"] = _status_kb(gw.proc.pid, "VmHWM") / 1024
            res["rss_before_mb"] = rss_before / 1024
            res["peak_is_lifetime"] = not reset
        out[name] = res
        log(f"  large result {name}: {nbytes / 1e6:.0f} MB in {elapsed:.1f} s "
            f"({res['mb_s']:.0f} MB/s)" + (f", peak RSS {res['peak_rss_mb']:.1f} MB"
                                           if gw is not None else ""))
    return {"sql": sql, "rows": nrows, "results": out}


# -- 4. connection setup ---------------------------------------------------------------------


def connect_suite(env, targets, n, log=print):
    """n sequential connections per target, interleaved; OIDC targets use a fresh token each."""
    tokens = {}
    for name in targets:
        t = env.targets[name]
        if t.password == env.token:
            tokens[name] = env.fresh_tokens(n)
    times = {name: [] for name in targets}
    errors = {}
    for i in range(n):
        for name in targets:
            t = env.targets[name]
            pw = tokens[name][i] if name in tokens else t.password()
            try:
                times[name].append(pgclient.connect_time(t.port, t.user, pw, "bench", t.tls))
            except Exception as exc:
                errors[name] = str(exc)[:200]
    out = {}
    for name, ts in times.items():
        ts.sort()
        out[name] = {"n": len(ts), "p50_ms": 1e3 * _percentile(ts, 0.5),
                     "p99_ms": 1e3 * _percentile(ts, 0.99), "error": errors.get(name),
                     "fresh_tokens": name in tokens}
        log(f"  connect {name}: p50 {out[name]['p50_ms']:.2f} ms, "
            f"p99 {out[name]['p99_ms']:.2f} ms")
    return out


# -- 5. many clients -------------------------------------------------------------------------


async def _hold_idle(target, n, measure, concurrency=64):
    """Opens n sessions, runs `select 1` on each, calls measure() while all are held, closes."""
    sem = asyncio.Semaphore(concurrency)
    pw = target.password()

    async def one():
        async with sem:
            return await pgclient.open_async(target.port, target.user, pw, "bench", target.tls)

    start = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    ok = await asyncio.gather(*(pgclient.query_async(r, w, "select 1") for r, w in conns),
                              return_exceptions=True)
    opened = time.perf_counter() - start
    bad = sum(1 for x in ok if isinstance(x, BaseException))
    await asyncio.sleep(0.5)
    measured = measure()
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    return len(conns) - bad, errors, opened, measured


class _RssSampler(threading.Thread):
    def __init__(self, pid, every=0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb, self.stop = pid, every, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, _status_kb(self.pid, "VmRSS") or 0)
            except OSError:
                return
            self.stop.wait(self.every)


def many_clients(env, targets, n, tx_per_client, log=print):
    out = {}
    for name in targets:
        t = env.targets[name]
        pid = t.proxy_pid()
        res = {}
        time.sleep(6 if name == "pgbouncer" else 1)  # earlier sessions' backends exit
        base_kb = _status_kb(pid, "VmRSS") if pid else None
        live, errors, opened, idle_kb = asyncio.run(
            _hold_idle(t, n, lambda: _status_kb(pid, "VmRSS") if pid else None))
        res["idle_open_s"] = opened
        res["idle_sessions"] = live
        res["idle_errors"] = (str(errors[0])[:160] if errors else None)
        if pid and base_kb and idle_kb:
            res["base_rss_mb"] = base_kb / 1024
            res["idle_rss_mb"] = idle_kb / 1024
            res["kb_per_session"] = (idle_kb - base_kb) / max(1, live)
        time.sleep(2)  # let upstream backends exit before the active run
        sampler = _RssSampler(pid) if pid else None
        if sampler:
            sampler.start()
        # -t, not -T: pgbench's -T clock includes connecting all clients, which can take longer
        # than the run itself with thousands of TLS + SCRAM connections.
        args = [PGBENCH, "-n", "-S", "-M", "prepared", "-c", str(n), "-j", "2", "-t",
                str(tx_per_client)]
        r = subprocess.run(args, env=t.pgenv("bench"), capture_output=True, text=True,
                           timeout=900)
        if sampler:
            sampler.stop.set()
            sampler.join()
            res["active_peak_rss_mb"] = sampler.peak_kb / 1024
        m = re.search(r"tps = ([0-9.]+) \(without initial", r.stdout)
        lat = re.search(r"latency average = ([0-9.]+) ms", r.stdout)
        if m:
            res["active_tps"] = float(m.group(1))
            res["active_avg_ms"] = float(lat.group(1)) if lat else None
        if r.returncode != 0 or not m:
            res["active_error"] = (r.stderr.strip().splitlines() or ["?"])[-1][:160]
        res["pgbench_args"] = " ".join(args[1:])
        out[name] = res
        log(f"  many clients {name}: {res}")
        time.sleep(2)
    return out
