"""Strict durability survives kill -9: under pgbench load and a client counting `select N`, the
gateway is killed; after a restart on the same audit directory the log verifies, and the last
statement the client saw complete is in the log with its result."""
import json
import subprocess
import threading
import time


import pgwire
from harness import JITGATE, Gateway, make_keys

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def keygen(keys):
    make_keys(keys)


class Counter(threading.Thread):
    """Sends `select N` (simple protocol, N = 1, 2, ...) and remembers the last N whose
    result and CommandComplete it received."""

    def __init__(self, gw, db):
        super().__init__(daemon=True)
        self.gw, self.db = gw, db
        self.last = 0
        self.error = None
        self.ready = threading.Event()

    def run(self):
        try:
            sock = pgwire.connect(self.gw.port)
            msgs = pgwire.password_login(sock, {"user": "alice", "database": self.db},
                                         Gateway.CLIENT_PASSWORD)
            assert msgs and msgs[-1][0] == b"Z", msgs
            self.ready.set()
            n = 0
            while True:
                n += 1
                sock.sendall(pgwire.message(b"Q", f"select {n}".encode() + b"\0"))
                msgs = pgwire.read_messages(sock, until={b"Z"})
                values = [p for t, p in msgs if t == b"D"]
                done = [p for t, p in msgs if t == b"C"]
                if not done or not values:
                    return  # the gateway is gone
                # DataRow: u16 count, i32 length, value
                assert values[0][6:].decode() == str(n), (n, values)
                self.last = n
        except OSError:
            return
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.ready.set()


def cli(gw, *args):
    return subprocess.run([str(JITGATE), *args, "--config", str(gw.config)], capture_output=True,
                          text=True, timeout=120)


def test_kill_9_under_load_loses_nothing_a_client_saw(pg, tmp_path):
    pg.create_db("crashbench")
    keys = tmp_path / "keys"
    keygen(keys)
    yaml = f"""store: sqlite://{tmp_path}/state.db
audit:
  dir: {tmp_path}/log
  durability: strict
  raw_payloads: encrypted
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""
    gw = Gateway(pg, tls=False, resources=[{"name": "crashbench"}], extra_yaml=yaml).start()
    try:
        env = gw.env("crashbench")
        r = subprocess.run([PGBENCH, "-i", "-s", "1", "-q"], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr

        bench = subprocess.Popen([PGBENCH, "-n", "-M", "extended", "-c", "4", "-T", "20"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        counter = Counter(gw, "crashbench")
        counter.start()
        assert counter.ready.wait(15), "the counting client did not log in"
        time.sleep(3)
        gw.proc.kill()  # SIGKILL: no shutdown, no closing checkpoint
        gw.proc.wait()
        counter.join(15)
        try:
            bench.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bench.kill()
            bench.wait()
        assert counter.error is None, counter.error
        last = counter.last
        print(f"last statement completed before the kill: select {last}")
        assert last > 10, f"the client completed only {last} statements before the kill"

        gw.proc = None
        gw.start()  # same configuration, same audit directory
        r = cli(gw, "audit", "verify", "--live", "--public-key", str(keys / "sign.pub"))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "audit log OK" in r.stdout

        # The index is derived data that may lag the log at a crash: rebuild it from the log.
        r = cli(gw, "audit", "reindex")
        assert r.returncode == 0, r.stderr
        r = cli(gw, "audit", "search", "--contains", f"select {last}", "--json", "--limit",
                "1000")
        assert r.returncode == 0, r.stderr
        hits = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        mine = [h for h in hits if h["text"] == f"select {last}"]
        assert len(mine) == 1, (last, r.stdout)
        assert mine[0]["decision"] == "allow"
        assert mine[0].get("rows") == 1, mine[0]  # its result_end is durable too

        # The replay of that session shows the statement, its row and its completion.
        r = cli(gw, "replay", mine[0]["session"], "--format", "json")
        assert r.returncode == 0, r.stderr
        records = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        stmt = [x for x in records if x["type"] == "statement" and x.get("text") == f"select {last}"]
        assert len(stmt) == 1
        sid = stmt[0]["stmt"]
        rows = [x for x in records if x["type"] == "result_rows" and x.get("stmt") == sid]
        assert rows and rows[0]["rows"] == [[str(last)]]
        ends = [x for x in records if x["type"] == "result_end" and x.get("stmt") == sid]
        assert ends and ends[0]["tag"] == "SELECT 1"

        # pgbench's statements were recorded too, and the restarted gateway serves and records.
        r = cli(gw, "audit", "search", "--contains", "pgbench_accounts", "--json", "--limit", "5")
        assert r.returncode == 0 and r.stdout.strip(), r.stderr
        sock = pgwire.connect(gw.port)
        msgs = pgwire.password_login(sock, {"user": "alice", "database": "crashbench"},
                                     Gateway.CLIENT_PASSWORD)
        assert msgs[-1][0] == b"Z", msgs
        sock.sendall(pgwire.message(b"Q", b"select 'after restart'\0"))
        assert any(t == b"C" for t, _ in pgwire.read_messages(sock, until={b"Z"}))
        sock.close()
        assert gw.stop() == 0
        r = cli(gw, "audit", "verify", "--public-key", str(keys / "sign.pub"))
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        gw.cleanup()
