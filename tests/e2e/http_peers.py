"""The HTTP test peers (tests/peers/, npm packages) as Python objects and pytest fixtures.

    with VectorStore(api_key="k", gzip=True, tls=True) as vs:   # tests/peers/vector_store.mjs
        vs.url, vs.api_key, vs.ca                                # ca: the self-signed cert (TLS)
    with JsonServer() as js: js.url                              # json-server over docs_db.json
    with McpEverything() as mcp: mcp.url                         # server-everything, .../mcp
    rc, out, err = run_qdrant_client(url, token, "search", "--text", "refund", ca=vs.ca)

Each peer is a Node process in its own process group on a free loopback port, started in a
temporary directory (its log is `peer.log` there); start() waits for readiness with a timeout
and stop() ends the whole group. The fixtures (session-scoped, imported by conftest.py) are
`vector_store` (plain HTTP, no key; yields the base URL), `vector_store_locked` (api key, gzip
and TLS; yields the VectorStore), `json_server` and `mcp_everything` (yield URLs).
`node` and `npm ci` (scripts/deps.sh) are prerequisites.
"""
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness import free_port, make_cert, wait_port

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
NODE_MODULES = ROOT / "node_modules"
KB = PEERS / "kb.json"
DOCS_DB = PEERS / "docs_db.json"


class NodePeer:
    """A Node process in its own session; subclasses build `command()` and `wait_ready()`."""

    name = "peer"

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix=f"jg-{self.name}-"))
        self.proc = None
        self.port = None
        self._log = None

    def command(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ)

    def wait_ready(self, timeout):
        raise NotImplementedError

    def start(self, timeout=20.0):
        self._log = open(self.dir / "peer.log", "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.environment(),
                                     stdout=subprocess.PIPE, stderr=self._log,
                                     start_new_session=True)
        try:
            self.wait_ready(timeout)
        except Exception as err:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {err}\n{self.log_text()[-2000:]}")
        return self

    def stop(self, timeout=10):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log_text(self):
        path = self.dir / "peer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def read_stdout_line(self, prefix, timeout):
        """The first stdout line that starts with `prefix` (bytes), within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        buffered = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"exited with {self.proc.wait()}")
                buffered += chunk
                for line in buffered.split(b"\n")[:-1]:
                    if line.startswith(prefix):
                        return line
        raise TimeoutError(f"no '{prefix.decode()}' line within {timeout}s")

    def wait_http(self, url, timeout, ok=(200,)):
        """Polls `url` until it answers with a status in `ok`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as res:
                    if res.status in ok:
                        return
            except urllib.error.HTTPError as err:
                if err.code in ok:
                    return
                last = err
            except OSError as err:
                last = err
            time.sleep(0.05)
        raise TimeoutError(f"{url} not ready within {timeout}s: {last}")


class VectorStore(NodePeer):
    """tests/peers/vector_store.mjs (Qdrant REST subset) preloaded with kb.json."""

    name = "vector-store"

    def __init__(self, api_key=None, gzip=False, tls=False, data=KB, stream_delay_ms=20):
        super().__init__()
        self.api_key, self.gzip, self.tls = api_key, gzip, tls
        self.data, self.stream_delay_ms = data, stream_delay_ms
        self.ca = None
        self.url = None

    def command(self):
        cmd = ["node", str(PEERS / "vector_store.mjs"), "--port", "0",
               "--stream-delay-ms", str(self.stream_delay_ms)]
        if self.data:
            cmd += ["--data", str(self.data)]
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        if self.gzip:
            cmd.append("--gzip")
        if self.tls:
            cert, key = make_cert(self.dir, cn="localhost")
            self.ca = cert
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
        return cmd

    def wait_ready(self, timeout):
        line = self.read_stdout_line(b"listening ", timeout)
        self.port = int(line.split()[1])
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


class JsonServer(NodePeer):
    """json-server 0.17 over a private copy of tests/peers/docs_db.json (writes stay in it)."""

    name = "json-server"

    def __init__(self, db=DOCS_DB):
        super().__init__()
        self.db = self.dir / "db.json"
        shutil.copyfile(db, self.db)
        self.url = None

    def command(self):
        self.port = free_port()
        return ["node", str(NODE_MODULES / "json-server" / "lib" / "cli" / "bin.js"), "--port",
                str(self.port), "--host", "127.0.0.1", "--quiet", str(self.db)]

    def wait_ready(self, timeout):
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_http(self.url + "/documents", timeout)


class McpEverything(NodePeer):
    """@modelcontextprotocol/server-everything in Streamable HTTP mode (`streamableHttp`
    argument, port from the PORT environment variable, endpoint /mcp). It listens on every
    interface; tests reach it on loopback."""

    name = "mcp-everything"

    def __init__(self):
        super().__init__()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def command(self):
        return ["node", str(NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist"
                            / "index.js"), "streamableHttp"]

    def environment(self):
        return dict(os.environ, PORT=str(self.port))

    def wait_ready(self, timeout):
        wait_port(self.port, timeout=timeout, proc=self.proc)


def run_qdrant_client(url, token, *args, ca=None, headers=(), timeout=60):
    """Runs tests/peers/qdrant_client.mjs (the official QdrantClient); returns (rc, stdout,
    stderr). `token` goes in the api-key header (None: no key); `headers` are 'Name: value'."""
    cmd = ["node", str(PEERS / "qdrant_client.mjs"), "--url", url]
    if token is not None:
        cmd += ["--api-key", token]
    if ca is not None:
        cmd += ["--ca", str(ca)]
    for h in headers:
        cmd += ["--header", h]
    r = subprocess.run(cmd + [str(a) for a in args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="session")
def vector_store():
    with VectorStore() as vs:
        yield vs.url


@pytest.fixture(scope="session")
def vector_store_locked():
    """Api key, gzip and TLS (self-signed; its certificate is `.ca`)."""
    with VectorStore(api_key="qdrant-test-key-7c1e", gzip=True, tls=True) as vs:
        yield vs


@pytest.fixture(scope="session")
def json_server():
    with JsonServer() as js:
        yield js.url


@pytest.fixture(scope="session")
def mcp_everything():
    with McpEverything() as mcp:
        yield mcp.url
