#!/usr/bin/python3
"""HTTP proxy overhead: wrk against an upstream directly, through nginx, and through jitgate.

Configurations, run interleaved in one process (each repetition visits every configuration):
  direct                  nginx returning a fixed ~4 KB Qdrant search response over TLS; it
                          answers 401 unless the request carries the upstream api-key
  nginx proxy             nginx as a plain reverse proxy, TLS on both sides (upstream keepalive)
  jitgate pass-through    the HTTP front end with the credential swap only
  jitgate policy          + OIDC token verification and a method/path policy
  jitgate mask+record     + JSON-path masking of the response and the audit recording
With JITGATE_BASELINE_BIN set, the three jitgate rows are measured for that build too
("baseline ..."), interleaved in the same run: a before/after on one machine state.
The jitgate rows need a binary with HTTP support: when `jitgate check-config` refuses the
configuration (say, `listen.http` is unknown) the row is skipped with that message.

Each run is `wrk -t1 -c<connections> -d<seconds>s --latency` posting a search request; reported:
requests/s (median of repetitions), ratios to direct and to nginx, p50/p99 latency, and the
proxy's CPU time per request (utime+stime of nginx's master and workers or of jitgate, from
/proc, divided by the requests wrk counted). Both proxies get one worker (nginx
`worker_processes 1`, jitgate `threads: 1`; --proxy-threads changes both).

    bench/http_bench.py [--seconds 5] [--reps 3] [--connections 8] [--proxy-threads 1]
    bench/run.sh --only http     (the same, as a section of `make bench`)

Needs wrk, nginx and openssl (scripts/deps.sh), node with `npm ci` for the OIDC provider.
Everything runs on loopback in temporary directories on free ports and is stopped at the end.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from embed import embed  # noqa: E402
from harness import JITGATE, free_port, make_cert, make_keys, wait_port  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SEARCH_PATH = "/collections/docs/points/search"
UPSTREAM_KEY = "bench-upstream-key-51c7"
RESPONSE_BYTES = 4096


def log(msg):
    print(msg, flush=True)


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds (/proc/<pid>/stat); None if one is gone."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


# -- the request and the response ------------------------------------------------------------------

def search_response():
    """A Qdrant search response of about RESPONSE_BYTES built from the sample knowledge base
    (ids, scores and payloads with e-mail addresses), as one line of JSON."""
    kb = json.loads((ROOT / "tests" / "peers" / "kb.json").read_text())
    points = kb["collections"]["docs"]["points"]
    hits, i = [], 0
    while True:
        p = points[i % len(points)]
        hits.append({"id": p["id"] + 100 * (i // len(points)), "version": 0,
                     "score": round(0.9 - 0.01 * i, 4),
                     "payload": {k: v for k, v in p["payload"].items() if k != "chunks"},
                     "vector": None})
        body = json.dumps({"result": hits, "status": "ok", "time": 0.0005},
                          separators=(",", ":"))
        if len(body) >= RESPONSE_BYTES - 200 or i > 50:
            break
        i += 1
    if any(c in body for c in "'\\$"):
        raise ValueError("the response must not hold ', \\ or $ (nginx string)")
    return body


def search_request():
    return json.dumps({"vector": embed("refund policy"), "limit": 5, "with_payload": True})


def wrk_script(directory, key):
    path = Path(directory) / "search.lua"
    path.write_text('wrk.method = "POST"\n'
                    f"wrk.body = [==[{search_request()}]==]\n"
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["api-key"] = [==[{key}]==]\n')
    return path


# -- nginx -----------------------------------------------------------------------------------------

NGINX_MAIN = """{user}worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
{body}
}}
"""

UPSTREAM_SERVER = """  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    default_type application/json;
    location / {{
      if ($http_api_key != "{upstream_key}") {{
        return 401 '{{"status":{{"error":"Invalid api-key"}},"time":0}}';
      }}
{response_parts}
      return 200 "{response_vars}";
    }}
  }}"""

PROXY_SERVER = """  upstream kb {{
    server 127.0.0.1:{upstream_port};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass https://kb;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {ca};
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }}
  }}"""


def nginx_text(text, part=2000):
    """`set` lines and the "$r0$r1..." value that together make `text` in an nginx `return`:
    nginx refuses a configuration token longer than 4 KB."""
    parts = [text[i:i + part] for i in range(0, len(text), part)]
    sets = "\n".join(f"      set $r{i} '{p}';" for i, p in enumerate(parts))
    return {"response_parts": sets, "response_vars": "".join(f"$r{i}" for i in range(len(parts)))}


class Nginx:
    def __init__(self, directory, name, server_block, workers):
        self.dir = Path(directory) / name
        self.dir.mkdir()
        user = "user root root;\n" if os.geteuid() == 0 else ""
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(NGINX_MAIN.format(user=user, workers=workers, d=self.dir,
                                               body=server_block))
        self.proc = None

    def start(self, port):
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(port, timeout=10, proc=self.proc)
        except (RuntimeError, TimeoutError) as err:
            raise RuntimeError(f"nginx did not start: {err}: {self.proc.stderr.read()[-800:]}")
        return self

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown, workers included
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for pid in self.pids():
                    os.kill(pid, 9)
                self.proc.wait()


# -- jitgate ---------------------------------------------------------------------------------------

# level: what each jitgate configuration adds; `None` identity = no identity section.
JITGATE_LEVELS = [
    ("jitgate pass-through", "credential swap only (no identity, no policy)", 0),
    ("jitgate policy", "+ OIDC token (api-key header) and a method/path policy", 1),
    ("jitgate mask+record", "+ JSON-path masking (tokenize) and audit recording", 2),
]

SEARCH_POLICY = """policies:
  - { id: search, match: { resource: kb-search, methods: [POST],
      paths: ["/collections/*/points/search"] }, action: allow }
"""
ALLOW_RESOURCE = "policies:\n  - { id: all, match: { resource: kb-search }, action: allow }\n"


class Jitgate:
    """jitgate serving one HTTP resource (the upstream nginx) at /kb-search."""

    def __init__(self, directory, name, level, upstream_port, ca, threads, idp, binary=None):
        self.binary = Path(binary or JITGATE)
        self.dir = Path(directory) / name.replace(" ", "-").replace("+", "-")
        self.dir.mkdir()
        self.port = free_port()
        self.config = self.dir / "jitgate.yaml"
        self.level, self.upstream_port, self.ca, self.threads = level, upstream_port, ca, threads
        self.idp = idp
        self.proc = None
        self.note = ""

    def yaml(self, with_identity):
        cert, key = make_cert(self.dir)
        (self.dir / "qdrant.key").write_text(UPSTREAM_KEY + "\n")
        (self.dir / "mask.key").write_bytes(os.urandom(32))
        for f in ("qdrant.key", "mask.key"):
            os.chmod(self.dir / f, 0o600)
        lines = [f"listen: {{ postgres: 127.0.0.1:{free_port()}, admin: 127.0.0.1:{free_port()}, "
                 f"http: 127.0.0.1:{self.port} }}",
                 f"threads: {self.threads}",
                 f"tls: {{ cert: {cert}, key: {key} }}",
                 "resources:",
                 "  - name: kb-search",
                 "    kind: http",
                 "    mount: /kb-search",
                 f"    upstream: {{ url: 'https://127.0.0.1:{self.upstream_port}', "
                 f"ca_file: {self.ca}, timeout: 30s }}",
                 f"    credential: {{ header: {{ name: api-key, value_file: "
                 f"{self.dir / 'qdrant.key'} }} }}",
                 "    token: { header: api-key }"]
        if self.level >= 2:
            keys = make_keys(self.dir / "keys")
            lines += ['    masking: { json_paths: [{ path: "$.result[*].payload.email", '
                      "strategy: tokenize }] }",
                      '    documents: { json_paths: ["$.result[*].id"] }',
                      f"masking: {{ key_file: {self.dir / 'mask.key'} }}",
                      f"audit: {{ dir: {self.dir / 'audit'}, durability: batched, "
                      f"raw_payloads: encrypted, key_file: {keys}/raw.key, "
                      f"signing_key_file: {keys}/sign.pem }}"]
        text = "\n".join(lines) + "\n"
        if with_identity:
            text += self.idp.identity_yaml()
            text += SEARCH_POLICY if self.level >= 1 else ALLOW_RESOURCE
        return text

    def configure(self):
        """None when `jitgate check-config` accepts a configuration, else why not. Pass-through
        tries without an identity section first, then with one and an allow rule."""
        if not self.binary.exists():
            return f"{self.binary} does not exist"
        attempts = [False, True] if self.level == 0 else [True]
        message = ""
        for with_identity in attempts:
            self.config.write_text(self.yaml(with_identity))
            r = subprocess.run([str(self.binary), "check-config", str(self.config)],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                if self.level == 0 and with_identity:
                    self.note = f"needs an identity section: {message}"
                return None
            text = (r.stdout + r.stderr).replace(str(self.config), "jitgate.yaml")
            message = (text.strip().splitlines() or ["failed"])[-1][:200]
        return f"check-config: {message}"

    def start(self):
        self.proc = subprocess.Popen([str(self.binary), "serve", "--config", str(self.config)],
                                     stdout=open(self.dir / "jitgate.log", "ab"),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=20, proc=self.proc)
        return self

    def url(self):
        return f"https://127.0.0.1:{self.port}/kb-search{SEARCH_PATH}"

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- wrk -------------------------------------------------------------------------------------------

UNITS = {"us": 1, "ms": 1e3, "s": 1e6}


def wrk_once(url, script, seconds, connections, pids):
    """One wrk run: {rps, p50_us, p99_us, requests, non2xx, cpu_us} or {error}."""
    cmd = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    before = cpu_seconds(pids) if pids else None
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 60)
    after = cpu_seconds(pids) if pids else None
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", r.stdout)
    total = re.search(r"(\d+) requests in", r.stdout)
    if r.returncode != 0 or not rps or not total:
        return {"error": (r.stderr or r.stdout).strip()[-300:]}
    lat = dict(re.findall(r"^\s+(50|99)%\s+([0-9.]+\w+)", r.stdout, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    errors = re.search(r"Socket errors: (.*)", r.stdout)

    def micros(text):
        m = re.match(r"([0-9.]+)(\w+)", text or "")
        return float(m.group(1)) * UNITS[m.group(2)] if m else None

    n = int(total.group(1))
    res = {"rps": float(rps.group(1)), "requests": n, "p50_us": micros(lat.get("50")),
           "p99_us": micros(lat.get("99")), "non2xx": int(non2xx.group(1)) if non2xx else 0,
           "socket_errors": errors.group(1) if errors else None, "cpu_us": None}
    if before is not None and after is not None and n:
        res["cpu_us"] = (after - before) * 1e6 / n
    return res


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def probe(url, key):
    """(status, parsed body or text) of one search request, certificate not verified (wrk does
    not verify either)."""
    import ssl
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=search_request().encode(), method="POST",
                                 headers={"Content-Type": "application/json", "api-key": key})
    try:
        with urllib.request.urlopen(req, timeout=10,
                                    context=ssl._create_unverified_context()) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except OSError as err:
        return None, str(err)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw[:200].decode(errors="replace")


def emails_of(body):
    try:
        return [hit["payload"].get("email") for hit in body["result"]]
    except (KeyError, TypeError, AttributeError):
        return []


# -- the suite -------------------------------------------------------------------------------------

@dataclass
class Target:
    """One configuration: where wrk sends the search, with which api-key header value."""
    name: str
    url: str
    key: str
    script: Path
    proxy: Optional[Any] = None  # Nginx or Jitgate, whose CPU time is measured
    note: str = ""


class Suite:
    """Starts the configurations, runs wrk over them interleaved, stops everything."""

    def __init__(self, seconds, reps, connections, threads, log=log):
        self.seconds, self.reps = seconds, reps
        self.connections, self.threads = connections, threads
        self.log = log
        self.dir = Path(tempfile.mkdtemp(prefix="jg-httpbench-"))
        self.targets = []        # Target
        self.unavailable = {}    # name -> reason
        self.stoppers = []

    def start_nginx(self):
        cert, key = make_cert(self.dir)
        up_port, proxy_port = free_port(), free_port()
        self.response = search_response()
        upstream = Nginx(self.dir, "upstream", UPSTREAM_SERVER.format(
            port=up_port, cert=cert, key=key, upstream_key=UPSTREAM_KEY,
            **nginx_text(self.response)), self.threads)
        self.stoppers.append(upstream.stop)
        upstream.start(up_port)
        proxy = Nginx(self.dir, "proxy", PROXY_SERVER.format(
            port=proxy_port, upstream_port=up_port, cert=cert, key=key, ca=cert), self.threads)
        self.stoppers.append(proxy.stop)
        proxy.start(proxy_port)
        script = wrk_script(self.dir, UPSTREAM_KEY)
        self.targets.append(Target(
            "direct", f"https://127.0.0.1:{up_port}{SEARCH_PATH}", UPSTREAM_KEY, script,
            note=f"nginx `return 200` of a {len(self.response)}-byte JSON body, TLS"))
        self.targets.append(Target(
            "nginx proxy", f"https://127.0.0.1:{proxy_port}{SEARCH_PATH}", UPSTREAM_KEY, script,
            proxy, "nginx reverse proxy, TLS both sides, keepalive"))
        return up_port, cert

    def start_jitgates(self, up_port, ca):
        if not JITGATE.exists():
            for name, _, _ in JITGATE_LEVELS:
                self.unavailable[name] = f"skipped: {JITGATE} does not exist"
            return
        from oidc_provider import OidcProvider
        idp = OidcProvider().start()
        self.stoppers.append(idp.cleanup)
        token = idp.token(client="rag-bench", groups=["rag"], email="rag-bench@svc.example")
        script = Path(self.dir) / "token"
        script.mkdir()
        script = wrk_script(script, token)
        levels = [(name, what, level, None) for name, what, level in JITGATE_LEVELS]
        baseline = os.environ.get("JITGATE_BASELINE_BIN")
        if baseline:  # the same rows for another build, in the same run (before/after)
            levels += [(name.replace("jitgate", "baseline"), what + f" ({baseline})", level,
                        baseline) for name, what, level in JITGATE_LEVELS]
        for name, what, level, binary in levels:
            gw = Jitgate(self.dir, name, level, up_port, ca, self.threads, idp, binary)
            why = gw.configure()
            if why:
                self.unavailable[name] = "skipped: " + why
                self.log(f"  {name}: skipped ({why})")
                continue
            self.stoppers.append(gw.stop)
            try:
                gw.start()
            except (RuntimeError, TimeoutError) as err:
                self.unavailable[name] = f"skipped: did not start ({err})"
                continue
            note = what + (f"; {gw.note}" if gw.note else "")
            self.targets.append(Target(name, gw.url(), token, script, gw, note))

    def check(self, target):
        """Why `target` cannot be measured (one search must succeed), or None."""
        status, body = probe(target.url, target.key)
        if status != 200:
            return f"a probe request got {status}: {str(body)[:160]}"
        unmasked = emails_of(body) == emails_of(json.loads(self.response))
        if target.name.endswith("mask+record") and unmasked:
            return "the probe's e-mail addresses came back unmasked"
        return None

    def run(self, profile=None):
        try:
            up_port, ca = self.start_nginx()
            self.start_jitgates(up_port, ca)
            ready = []
            for target in self.targets:
                problem = self.check(target)
                if problem and (target.proxy is None or isinstance(target.proxy, Nginx)):
                    raise RuntimeError(f"{target.name}: {problem}")
                if problem:
                    self.unavailable[target.name] = "skipped: " + problem
                    self.log(f"  {target.name}: {problem}")
                    continue
                ready.append(target)
            if profile:
                return self.profile(next(t for t in ready if t.name == profile))
            return self.measure(ready)
        finally:
            for stop in reversed(self.stoppers):
                stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def measure(self, targets):
        runs = {t.name: [] for t in targets}
        for t in targets:  # warm-up: connections, TLS sessions, caches
            wrk_once(t.url, t.script, 1, self.connections, None)
        for rep in range(self.reps):
            for t in targets:
                res = wrk_once(t.url, t.script, self.seconds, self.connections,
                               t.proxy.pids() if t.proxy else None)
                runs[t.name].append(res)
                self.log(f"  http rep {rep + 1}/{self.reps} {t.name}: " + (
                    f"{res['rps']:.0f} req/s, p50 {res['p50_us']:.0f} us"
                    + (f", {res['non2xx']} non-2xx" if res["non2xx"] else "")
                    if "rps" in res else f"error {res['error']}"))
        out = {"order": [t.name for t in targets], "notes": {t.name: t.note for t in targets},
               "unavailable": dict(self.unavailable), "results": {},
               "response_bytes": len(self.response), "request_bytes": len(search_request()),
               "seconds": self.seconds, "reps": self.reps, "connections": self.connections,
               "threads": self.threads}
        for name, results in runs.items():
            ok = [r for r in results if "rps" in r]
            summary = {k: median([r[k] for r in ok]) for k in ("rps", "p50_us", "p99_us",
                                                                 "cpu_us")}
            summary["non2xx"] = sum(r["non2xx"] for r in ok)
            summary["errors"] = [r["error"] for r in results if "error" in r]
            out["results"][name] = summary
        return out


    def profile(self, t, out="/tmp/jitgate-http-perf.data"):
        """Records the proxy's on-CPU call graphs with `perf` during one wrk run; returns
        perf's symbol tables (self, then inclusive)."""
        wrk_once(t.url, t.script, 1, self.connections, None)
        pid = t.proxy.pids()[0]
        load = subprocess.Popen([WRK, "-t1", f"-c{self.connections}", f"-d{self.seconds}s",
                                 "-s", str(t.script), t.url], stdout=subprocess.PIPE, text=True)
        subprocess.run(["perf", "record", "-F", "999", "-g", "--call-graph", "dwarf,16384",
                        "-o", out, "-p", str(pid), "--", "sleep", str(max(1, self.seconds - 2))],
                       capture_output=True)
        self.log(load.communicate()[0])
        tables = []
        for children in ("--no-children", "--children"):
            r = subprocess.run(["perf", "report", "-i", out, "--stdio", children,
                                "--percent-limit", "0.7", "-g", "none", "--sort", "symbol"],
                               capture_output=True, text=True)
            lines = [re.sub(r"\s+", " ", l).strip()[:160] for l in r.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            tables.append(f"== {t.name} {children}\n" + "\n".join(lines[:50]))
        return "\n\n".join(tables)


def run(seconds=5, reps=3, connections=8, threads=1, log=log, profile=None):
    return Suite(seconds, reps, connections, threads, log).run(profile)


# -- the report ------------------------------------------------------------------------------------

def _fmt(value, spec, unit=""):
    return "–" if value is None else f"{value:{spec}}{unit}"


def table(res):
    """The results as a Markdown table plus the skipped configurations."""
    direct = res["results"].get("direct", {}).get("rps")
    nginx = res["results"].get("nginx proxy", {}).get("rps")
    rows = ["| configuration | requests/s | × direct | × nginx proxy | p50 | p99 "
            "| proxy CPU / request | what |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in res["order"]:
        r = res["results"][name]
        rps = r["rps"]
        flag = f" ({r['non2xx']} non-2xx!)" if r["non2xx"] else ""
        rows.append(
            f"| {name} | {_fmt(rps, ',.0f')}{flag} "
            f"| {_fmt(rps / direct if rps and direct else None, '.2f')} "
            f"| {_fmt(rps / nginx if rps and nginx else None, '.2f')} "
            f"| {_fmt(r['p50_us'], ',.0f', ' µs')} | {_fmt(r['p99_us'], ',.0f', ' µs')} "
            f"| {_fmt(r['cpu_us'], '.1f', ' µs')} | {res['notes'][name]} |")
    for name, why in res["unavailable"].items():
        rows.append(f"| {name} | – | – | – | – | – | – | {why} |")
    head = (f"wrk -t1 -c{res['connections']} --latency, POST {SEARCH_PATH} "
            f"({res['request_bytes']}-byte request, {res['response_bytes']}-byte response), "
            f"{res['reps']} interleaved runs of {res['seconds']} s, medians; proxies with "
            f"{res['threads']} worker(s).")
    return head + "\n\n" + "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--proxy-threads", type=int, default=1)
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--profile", metavar="CONFIGURATION",
                    help="instead of the table, profile one configuration (e.g. \"jitgate "
                         "policy\") with perf during one wrk run and print its hottest symbols")
    args = ap.parse_args()
    for tool in (NGINX, WRK):
        if not Path(tool).exists():
            sys.exit(f"http_bench: {tool} is missing (scripts/deps.sh installs nginx and wrk)")
    res = run(args.seconds, args.reps, args.connections, args.proxy_threads,
              profile=args.profile)
    if args.profile:
        print(res)
        return
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print("\n" + table(res))


if __name__ == "__main__":
    main()
