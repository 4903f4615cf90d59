"""`bench/run.sh --only replicas`: gateway replicas on one PostgreSQL state store behind HAProxy.

(a) Connection setup with reviews and grants in play: a client admitted under an approved
    session grant (one grant lookup per connect), through a gateway with the PostgreSQL store
    and through one with the SQLite store; pgbouncer and direct PostgreSQL beside them.
(b) pgbench -S -c 8 through HAProxy (TCP mode) to 1, 2 and 3 jitgate replicas on one
    PostgreSQL store, and to pgbouncer; direct PostgreSQL beside them. Aggregate throughput and
    CPU per transaction: utime+stime of every replica process, summed, divided by the
    transactions (HAProxy's own CPU is reported apart). Configurations interleaved, medians.

The replicas are tests/e2e/replicas.py's (OIDC, a three-rule policy, batched audit, the store
over TLS), as test_deployment.py and `make demo-ha` run them.
"""
import importlib.util
import os
import re
import shutil
import statistics
import tempfile
import time
import types
from pathlib import Path

import env as benchenv
import pgclient
import report
import workloads

# tests/e2e/replicas.py under another name: this file is `replicas` on bench's path.
_spec = importlib.util.spec_from_file_location(
    "e2e_replicas", benchenv.ROOT / "tests" / "e2e" / "replicas.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

POLICIES = """policies:
  - { id: rag-read, reason: RAG pipelines read the benchmark database,
      match: { groups: [rag], resource: bench }, allow: [read, session] }
  - { id: contractor-read, reason: contractors read once admitted,
      match: { groups: [contractors], resource: bench }, allow: [read] }
  - { id: contractor-session, reason: a data owner admits contractors,
      match: { groups: [contractors], resource: bench }, action: review, scope: session,
      mode: fail_fast, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
"""

STORE = {"db": "jitgate_bench_state", "role": "jitgate_bench", "password": "bench-Store-7a3d"}
CLIENTS = 8


def _replica(env, name, store, owned, sqlite=False, record=True):
    """A replica on the shared store (or, with `sqlite`, the same gateway on a SQLite store of
    its own; without `record`, with no audit section); stopped through `owned` before the store
    is dropped."""
    r = e2e.Replica(env.pg, env.idp, name, store, POLICIES,
                    resources=[{"name": "bench", "database": "bench"}])
    if sqlite:
        r.extra_yaml = r.extra_yaml.replace(f'store: "{r.store_url}"',
                                            f"store: sqlite://{r.dir}/state.db")
    if not record:
        r.extra_yaml = "".join(line for line in r.extra_yaml.splitlines(keepends=True)
                               if not line.startswith("audit:"))
    owned.append(r.cleanup)
    return r.start()


def _admit(gw, token, owner):
    """The contractor's first connect asks for a review; a data owner approves it."""
    try:
        pgclient.connect_time(gw.port, "carol", token, "bench")
    except pgclient.PgError as exc:
        found = re.search(r"review (r-[a-z0-9]+)", str(exc))
        if not found:
            raise
        gw.review(owner, "approve", found.group(1))
        return
    raise RuntimeError(f"{gw.name}: the contractor was admitted without a review")


def connect_setup(env, store, n, owned, log):
    """{name: {p50_ms, p99_ms, n}}: n sequential connects each, interleaved, fresh tokens."""
    owner = env.idp.token(user="dana", groups=["data-owners"])
    gws = {"jitgate, PostgreSQL store": _replica(env, "pg-store", store, owned),
           "jitgate, SQLite store": _replica(env, "sqlite-store", store, owned, sqlite=True)}
    for gw in gws.values():
        _admit(gw, env.idp.token(user="carol", groups=["contractors"]), owner)
    tokens = [env.idp.token(user="carol", groups=["contractors"]) for _ in range(n)]
    direct, bouncer = env.targets["direct"], env.targets["pgbouncer"]
    plans = {name: (gw.port, "carol", None, gw.proc.pid) for name, gw in gws.items()}
    plans["pgbouncer"] = (bouncer.port, bouncer.user, bouncer.password(), bouncer.pid())
    plans["direct"] = (direct.port, direct.user, direct.password(), None)
    times = {name: [] for name in plans}
    cpu = {name: 0.0 for name in plans}
    for i in range(n):
        for name, (port, user, password, pid) in plans.items():
            before = workloads.cpu_seconds(pid)
            times[name].append(pgclient.connect_time(port, user, password or tokens[i], "bench"))
            after = workloads.cpu_seconds(pid)
            cpu[name] = None if before is None or after is None else cpu[name] + after - before
    out = {}
    for name, ts in times.items():
        ts.sort()
        out[name] = {"n": len(ts), "p50_ms": 1e3 * workloads._percentile(ts, 0.5),
                     "p99_ms": 1e3 * workloads._percentile(ts, 0.99),
                     "cpu_ms": None if cpu[name] is None else 1e3 * cpu[name] / len(ts)}
        log(f"  connect {name}: p50 {out[name]['p50_ms']:.2f} ms, "
            f"p99 {out[name]['p99_ms']:.2f} ms")
    for gw in gws.values():
        gw.stop()
    return out


def _cpu(pids):
    values = [workloads.cpu_seconds(p) for p in pids]
    return None if any(v is None for v in values) else sum(values)


def _pgbench(target, proxy_pids, lb_pid, seconds):
    """One pgbench -S -c 8 run; CPU per transaction of the proxies (summed) and of HAProxy."""
    before, lb_before = _cpu(proxy_pids), _cpu([lb_pid] if lb_pid else [])
    res = workloads.pgbench_once(target, "simple", CLIENTS, seconds)
    after, lb_after = _cpu(proxy_pids), _cpu([lb_pid] if lb_pid else [])
    tx = res.get("tx")
    if tx and proxy_pids and before is not None and after is not None:
        res["cpu_us"] = (after - before) * 1e6 / tx
    if tx and lb_pid and lb_before is not None and lb_after is not None:
        res["lb_cpu_us"] = (lb_after - lb_before) * 1e6 / tx
    return res


def _balanced(servers, tmp, owned):
    d = Path(tempfile.mkdtemp(prefix="jg-bench-lb-", dir=tmp))
    lb = e2e.HaProxy(d, servers).start()
    owned.append(lb.stop)
    return lb


def throughput(env, store, seconds, reps, owned, log):
    """{name: {tps, cpu_us, lb_cpu_us, runs, errors}}, medians over reps, interleaved."""
    replicas = [_replica(env, f"r{i}", store, owned) for i in range(1, 4)]
    alone = _replica(env, "r1-sqlite", store, owned, sqlite=True)
    quiet = _replica(env, "r1-unrecorded", store, owned, record=False)
    token = env.token
    tmp = tempfile.mkdtemp(prefix="jg-bench-replicas-")
    owned.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    bouncer = env.targets["pgbouncer"]
    plans = {"direct (no HAProxy)": (env.targets["direct"], [], None)}
    lb = _balanced([types.SimpleNamespace(name="pgbouncer", port=bouncer.port, admin_port=None)],
                   tmp, owned)
    plans["pgbouncer behind HAProxy"] = (
        benchenv.Target("pgbouncer/haproxy", lb.pg_port, bouncer.user, bouncer.password, True),
        [bouncer.pid()], lb.proc.pid)
    lb = _balanced([alone], tmp, owned)
    e2e.wait_all_up(lb, [alone], token(), user="bench", db="bench")
    plans["jitgate ×1, SQLite store, behind HAProxy"] = (
        benchenv.Target("jitgate x1 sqlite", lb.pg_port, "bench", token, True),
        [alone.proc.pid], lb.proc.pid)
    lb = _balanced([quiet], tmp, owned)
    e2e.wait_all_up(lb, [quiet], token(), user="bench", db="bench")
    plans["jitgate ×1, PostgreSQL store, no recording, behind HAProxy"] = (
        benchenv.Target("jitgate x1 unrecorded", lb.pg_port, "bench", token, True),
        [quiet.proc.pid], lb.proc.pid)
    for k in (1, 2, 3):
        lb = _balanced(replicas[:k], tmp, owned)
        e2e.wait_all_up(lb, replicas[:k], token(), user="bench", db="bench")
        plans[f"jitgate ×{k}, PostgreSQL store, behind HAProxy"] = (
            benchenv.Target(f"jitgate x{k}", lb.pg_port, "bench", token, True),
            [r.proc.pid for r in replicas[:k]], lb.proc.pid)
    raw = {name: [] for name in plans}
    for rep in range(reps):
        for name, (target, pids, lb_pid) in plans.items():
            res = _pgbench(target, pids, lb_pid, seconds)
            raw[name].append(res)
            log(f"  pgbench -S -c {CLIENTS} rep {rep + 1}/{reps} {name}: " + (
                f"{res['tps']:.0f} tps, gateway CPU {res.get('cpu_us') or 0:.1f} us/tx"
                if "tps" in res else f"error {res['error']}"))
    out = {}
    for name, runs in raw.items():
        ok = [r for r in runs if "tps" in r]
        out[name] = {"runs": len(ok), "errors": [r["error"] for r in runs if "error" in r]}
        for key in ("tps", "cpu_us", "lb_cpu_us"):
            values = [r[key] for r in ok if r.get(key) is not None]
            out[name][key] = statistics.median(values) if values else None
    return out


def run(env, P, log):
    """Both parts on a started environment (bench/env.py start_base, pgbench data loaded)."""
    started, load_before = time.time(), os.getloadavg()[0]
    owned = []  # replicas and balancers, stopped before the store is dropped
    with e2e.shared_store(env.pg, STORE["db"], STORE["role"], STORE["password"]) as store:
        try:
            connect = connect_setup(env, store, P["connects"], owned, log)
            tput = throughput(env, store, P["seconds"], P["reps"], owned, log)
        finally:
            for fn in reversed(owned):
                fn()
    return {"connect": connect, "pgbench": tput, "minutes": (time.time() - started) / 60,
            "load": (load_before, os.getloadavg()[0])}


def _fmt(v, fmt="{:,.0f}"):
    return "n/a" if v is None else fmt.format(v)


def render(res, P):
    c, t = res["connect"], res["pgbench"]
    base = t.get("direct (no HAProxy)", {}).get("tps")
    lines = [f"#### (a) Connection setup with a session grant ({P['connects']} sequential "
             "connects per configuration, interleaved; TCP → TLS → token → grant lookup → "
             "ReadyForQuery)", "",
             report._table(["configuration", "p50 ms", "p99 ms", "proxy CPU ms/connect"],
                           [(n, _fmt(r["p50_ms"], "{:.2f}"), _fmt(r["p99_ms"], "{:.2f}"),
                             _fmt(r["cpu_ms"], "{:.2f}")) for n, r in c.items()]), "",
             f"#### (b) pgbench -S -M simple -c {CLIENTS}, scale 10, through HAProxy 2.6 "
             f"(TCP mode) ({P['reps']} interleaved runs of {P['seconds']} s, medians)", "",
             report._table(
                 ["configuration", "tps", "ratio to direct", "proxy CPU µs/tx (all replicas)",
                  "HAProxy CPU µs/tx"],
                 [(n, _fmt(r["tps"]),
                   _fmt(r["tps"] / base, "{:.2f}") if r["tps"] and base else "n/a",
                   _fmt(r["cpu_us"], "{:.1f}"), _fmt(r["lb_cpu_us"], "{:.1f}"))
                  for n, r in t.items()])]
    errors = [f"{n}: {r['errors']}" for n, r in t.items() if r["errors"]]
    if errors:
        lines += ["", "Errors: " + "; ".join(errors)]
    return "\n".join(lines) + "\n"
