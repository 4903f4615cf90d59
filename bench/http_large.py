#!/usr/bin/python3
"""A 1 GiB JSON response streamed through jitgate with masking and recording: peak memory.

nginx serves a generated JSON document (`{"result": [{"id", "payload": {"email", "text"}}...]}`,
1 GiB by default) as a static file over TLS; jitgate masks `$.result[*].payload.email`
(tokenize) and records the exchange in batched mode. The client (curl) reads the whole
response; this script counts the bytes, checks that no clear e-mail address came through, and
reports jitgate's resident memory before the request and the largest seen while it streams
(VmRSS from /proc, sampled every 50 ms), with the time and jitgate's CPU seconds. The same download straight from nginx gives the
reference time.

    bench/http_large.py [--mib 1024]
    bench/run.sh --only http-large     (the same, as a section of `make bench`)

Needs nginx, curl and openssl (scripts/deps.sh), node with `npm ci` for the OIDC provider. Runs on loopback in a temporary directory.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from harness import JITGATE, free_port, make_cert, make_keys, wait_port  # noqa: E402
from http_bench import Nginx, cpu_seconds  # noqa: E402

SERVER = """  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location /big.json {{
      root {root};
      default_type application/json;
    }}
  }}"""


def write_document(path, mib):
    """A JSON document of about `mib` MiB: one array of search hits with e-mail payloads."""
    filler = "lorem ipsum dolor sit amet " * 8
    with open(path, "w") as f:
        f.write('{"result":[')
        written, i = 0, 0
        limit = mib << 20
        while written < limit:
            hits = []
            for _ in range(1000):
                hits.append(json.dumps({"id": i, "payload": {
                    "email": f"user{i}@example.com", "text": filler}}))
                i += 1
            chunk = ("," if written else "") + ",".join(hits)
            f.write(chunk)
            written += len(chunk)
        f.write("]}")
    return i


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """The largest VmRSS of `pid` seen every 50 ms while running (VmHWM would also count the
    start-up peak of compiling the detectors, which is given back before any request)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def download(url, headers, ca):
    """(bytes, seconds, clear e-mail addresses seen) of one curl download."""
    cmd = ["curl", "-sS", "--fail", "--cacert", ca, "-o", "-", url]
    for h in headers:
        cmd += ["-H", h]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    total, clear, tail = 0, 0, b""
    while True:
        block = proc.stdout.read(1 << 20)
        if not block:
            break
        total += len(block)
        window = tail + block
        clear += window.count(b"@example.com") - tail.count(b"@example.com")
        tail = block[-16:]
    if proc.wait() != 0:
        raise RuntimeError(f"curl {url} failed with {proc.returncode}")
    return total, time.monotonic() - start, clear


def jitgate_config(d, http_port, up_port, ca, idp):
    (d / "gw").mkdir()
    cert, key = make_cert(d / "gw")
    keys = make_keys(d / "keys")
    (d / "mask.key").write_bytes(os.urandom(32))
    os.chmod(d / "mask.key", 0o600)
    return f"""listen: {{ postgres: 127.0.0.1:{free_port()}, admin: 127.0.0.1:{free_port()},
          http: 127.0.0.1:{http_port} }}
threads: 1
tls: {{ cert: {cert}, key: {key} }}
resources:
  - name: big
    kind: http
    mount: /big
    upstream: {{ url: 'https://127.0.0.1:{up_port}', ca_file: {ca}, timeout: 60s }}
    masking: {{ json_paths: [{{ path: "$.result[*].payload.email", strategy: tokenize }}] }}
masking: {{ key_file: {d / 'mask.key'} }}
audit: {{ dir: {d / 'audit'}, durability: batched, raw_payloads: off,
         key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem }}
policies:
  - {{ id: read, match: {{ resource: big, methods: [GET] }}, action: allow }}
""" + idp.identity_yaml()


def run(mib=1024, log=print):
    d = Path(tempfile.mkdtemp(prefix="jg-httplarge-"))
    stoppers = []
    try:
        log(f"  writing a {mib} MiB JSON document ...")
        hits = write_document(d / "big.json", mib)
        cert, key = make_cert(d)
        up_port, http_port = free_port(), free_port()
        nginx = Nginx(d, "upstream", SERVER.format(port=up_port, cert=cert, key=key, root=d), 1)
        stoppers.append(nginx.stop)
        nginx.start(up_port)
        direct = download(f"https://127.0.0.1:{up_port}/big.json", [], str(cert))
        config = d / "jitgate.yaml"
        from oidc_provider import OidcProvider
        idp = OidcProvider().start()
        stoppers.append(idp.cleanup)
        token = idp.token(client="rag-bench", groups=["rag"], email="rag-bench@svc.example")
        config.write_text(jitgate_config(d, http_port, up_port, cert, idp))
        proc = subprocess.Popen([str(JITGATE), "serve", "--config", str(config)],
                                stdout=open(d / "jitgate.log", "ab"), stderr=subprocess.STDOUT)
        stoppers.append(lambda: (proc.terminate(), proc.wait(timeout=30)))
        try:
            wait_port(http_port, timeout=20, proc=proc)
        except (RuntimeError, TimeoutError) as err:
            tail = (d / "jitgate.log").read_text()[-1500:]
            raise RuntimeError(f"jitgate did not start: {err}\n{tail}")
        gw_cert = d / "gw" / "server.crt"
        rss_before = status_kib(proc.pid, "VmRSS")
        cpu_before = cpu_seconds([proc.pid])
        sampler = RssSampler(proc.pid)
        sampler.start()
        through = download(f"https://127.0.0.1:{http_port}/big/big.json",
                           [f"Authorization: Bearer {token}"], str(gw_cert))
        peak = sampler.stop()
        return {"mib": mib, "hits": hits, "direct_bytes": direct[0], "direct_s": direct[1],
                "bytes": through[0], "seconds": through[1], "clear_emails": through[2],
                "rss_before_kib": rss_before, "peak_kib": peak,
                "cpu_s": cpu_seconds([proc.pid]) - cpu_before}
    finally:
        for stop in reversed(stoppers):
            stop()
        shutil.rmtree(d, ignore_errors=True)


def table(r):
    mb = r["bytes"] / 1e6
    return "\n".join([
        "| what | figure |", "|---|---:|",
        f"| document | {r['mib']} MiB, {r['hits']:,} hits |",
        f"| bytes the client received through jitgate | {r['bytes']:,} |",
        f"| clear e-mail addresses among them | {r['clear_emails']} |",
        f"| jitgate RSS before the request | {r['rss_before_kib'] / 1024:.1f} MiB |",
        f"| jitgate's largest RSS during the request (sampled every 50 ms) "
        f"| {r['peak_kib'] / 1024:.1f} MiB |",
        f"| time through jitgate (masking + recording) | {r['seconds']:.1f} s "
        f"({mb / r['seconds']:.0f} MB/s) |",
        f"| time straight from nginx | {r['direct_s']:.1f} s |",
        f"| jitgate CPU for the request | {r['cpu_s']:.1f} s "
        f"({mb / r['cpu_s']:.0f} MB per CPU second) |" if r["cpu_s"] else "| – | – |"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024)
    args = ap.parse_args()
    print("\n" + table(run(args.mib)))


if __name__ == "__main__":
    main()
