"""Two gateway replicas on one PostgreSQL state store behind a real HAProxy (Debian), as
docs/deployment.md describes: TCP mode for PostgreSQL clients with `/readyz` health checks, HTTP
mode for the admin API that approvers call.

What this shows through real parts: sessions spread over both replicas; a review requested
through one replica is approved through the load-balanced admin API and the client gets in on
either replica; `kill -9` of a replica under load costs its clients one error each, they
reconnect through HAProxy and go on while the other replica never stops serving, and after a
restart the killed replica's audit log verifies and holds every statement a client saw
acknowledged.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from harness import JITGATE, Gateway, free_port, make_keys, wait_port

STORE_DB = "jitgate_deploy_state"
STORE_ROLE = "jitgate_deploy"
STORE_PASSWORD = "deploy-Secret-5b09"

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-contractor-read, reason: contractors read the knowledge base once admitted,
      match: { groups: [contractors], resource: kb }, allow: [read], role: reader }
  - { id: kb-contractor-session, reason: a data owner approves contractors,
      match: { groups: [contractors], resource: kb }, action: review, scope: session,
      mode: fail_fast, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
"""

HAPROXY_CFG = """global
  maxconn 256
defaults
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s
frontend postgres
  mode tcp
  bind 127.0.0.1:{pg_port}
  default_backend jitgate_postgres
backend jitgate_postgres
  mode tcp
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{pg_servers}
frontend admin
  mode http
  bind 127.0.0.1:{admin_port}
  default_backend jitgate_admin
backend jitgate_admin
  mode http
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{admin_servers}
"""


class Replica(Gateway):
    """One replica: its own ports and audit directory, the shared PostgreSQL store."""

    def __init__(self, pg, idp, name, store_url, keys):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True)
        self.name = name
        self.extra_yaml = (idp.identity_yaml() + f'store: "{store_url}"\n' +
                           f"audit: {{ dir: {self.dir}/log, durability: strict, "
                           f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem, "
                           f"auditor_groups: [auditors] }}\n")

    def write_config(self):
        super().write_config()
        text = self.config.read_text().replace("threads: 2", "threads: 1")
        self.config.write_text(text)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


class HaProxy:
    def __init__(self, directory, replicas):
        self.dir = Path(directory)
        self.pg_port, self.admin_port = free_port(), free_port()
        pg_servers = "\n".join(f"  server {r.name} 127.0.0.1:{r.port} check port {r.admin_port}"
                               for r in replicas)
        admin_servers = "\n".join(f"  server {r.name} 127.0.0.1:{r.admin_port} check"
                                  for r in replicas)
        self.cfg = self.dir / "haproxy.cfg"
        self.cfg.write_text(HAPROXY_CFG.format(pg_port=self.pg_port, admin_port=self.admin_port,
                                               pg_servers=pg_servers,
                                               admin_servers=admin_servers))
        self.log = self.dir / "haproxy.log"
        self.proc = None

    def start(self):
        check = subprocess.run(["haproxy", "-c", "-f", str(self.cfg)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        wait_port(self.pg_port, proc=self.proc)
        wait_port(self.admin_port, proc=self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def dsn(self, password):
        return (f"host=127.0.0.1 port={self.pg_port} dbname=kb user=alice sslmode=require "
                f"password={password} connect_timeout=5")

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"


def served_sessions(replica):
    return len(re.findall(r"\] authenticated ", replica.log_text()))


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def cluster(pg, idp, tmp_path_factory):
    pg.sql(f"CREATE ROLE {STORE_ROLE} LOGIN PASSWORD '{STORE_PASSWORD}'")
    pg.sql(f"CREATE DATABASE {STORE_DB} OWNER {STORE_ROLE}")
    base = tmp_path_factory.mktemp("deploy")
    keys = make_keys(base / "keys")
    password_file = base / "store_password"
    password_file.write_text(STORE_PASSWORD + "\n")
    os.chmod(password_file, 0o600)
    ca = pg.dir / "data" / "server.crt"
    store_url = (f"postgresql://{STORE_ROLE}@localhost:{pg.port}/{STORE_DB}"
                 f"?sslrootcert={ca}&password_file={password_file}&pool_size=2")
    replicas = [Replica(pg, idp, name, store_url, keys) for name in ("a", "b")]
    for r in replicas:
        r.start()
    lb = HaProxy(base, replicas).start()
    yield {"replicas": replicas, "lb": lb, "store_url": store_url}
    lb.stop()
    for r in replicas:
        r.cleanup()
    pg.sql(f"DROP DATABASE IF EXISTS {STORE_DB} WITH (FORCE)")
    pg.sql(f"DROP ROLE IF EXISTS {STORE_ROLE}")


@pytest.fixture(scope="module")
def people(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], ttl=900),
        "carol": idp.token(user="carol", groups=["contractors"], ttl=900),
        "bob": idp.token(user="bob", groups=["data-owners"], ttl=900),
    }


def wait_all_up(lb, replicas, token):
    """Waits until HAProxy sends sessions to every replica (its health checks mark all up)."""
    def every_replica_served():
        before = [served_sessions(r) for r in replicas]
        for _ in range(2 * len(replicas)):
            try:
                psycopg.connect(lb.dsn(token)).close()
            except psycopg.OperationalError:
                pass
        return all(served_sessions(r) > b for r, b in zip(replicas, before))
    wait_for(every_replica_served, 20, "HAProxy to send sessions to every replica")


def test_haproxy_spreads_sessions_over_both_replicas(cluster, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    wait_all_up(lb, replicas, people["alice"])
    before = [served_sessions(r) for r in replicas]
    for _ in range(6):
        with psycopg.connect(lb.dsn(people["alice"])) as conn:
            assert conn.execute("select count(*) from documents").fetchone() == (100,)
    after = [served_sessions(r) for r in replicas]
    assert all(a - b >= 2 for a, b in zip(after, before)), (before, after)


def test_a_review_requested_on_one_replica_is_approved_through_the_balancer(cluster, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(lb.dsn(people["carol"]))
    review = re.search(r"review (r-[a-z0-9]+)", str(refused.value))
    assert review, str(refused.value)
    r = subprocess.run([str(JITGATE), "review", "approve", review.group(1), "--gateway",
                        lb.admin_url, "--token", people["bob"], "--comment", "via haproxy",
                        "--json"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout
    assert json.loads(r.stdout)["state"] == "approved", r.stdout
    # Round robin: four sessions land on both replicas; each admits carol under the grant.
    before = [served_sessions(x) for x in replicas]
    for _ in range(4):
        with psycopg.connect(lb.dsn(people["carol"])) as conn:
            assert conn.execute("select count(*) from documents").fetchone() == (100,)
    after = [served_sessions(x) for x in replicas]
    assert all(a > b for a, b in zip(after, before)), (before, after)
    for x in replicas:
        assert "under grant" in x.log_text(), x.name


class Client(threading.Thread):
    """Runs marked statements through the balancer; reconnects after any error."""

    def __init__(self, lb, token, n):
        super().__init__(daemon=True)
        self.lb, self.token, self.n = lb, token, n
        self.acked = []           # (marker, time acknowledged)
        self.errors = []          # time of each error
        self.stop = threading.Event()

    def run(self):
        k = 0
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.lb.dsn(self.token), autocommit=True) as conn:
                    while not self.stop.is_set():
                        k += 1
                        marker = f"deploy-marker-{self.n}-{k}"
                        conn.execute(f"select '{marker}'").fetchone()
                        self.acked.append((marker, time.time()))
            except psycopg.Error:
                self.errors.append(time.time())
                time.sleep(0.05)


def test_kill_9_of_a_replica_under_load_loses_nothing_acknowledged(cluster, people):
    lb, (a, b) = cluster["lb"], cluster["replicas"]
    clients = [Client(lb, people["alice"], n) for n in range(4)]
    for c in clients:
        c.start()
    time.sleep(2)
    killed_at = time.time()
    a.kill9()
    time.sleep(4)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(timeout=15)
    assert b.proc.poll() is None, "the surviving replica stopped"
    for c in clients:
        assert any(t > killed_at + 1 for _, t in c.acked), \
            f"client {c.n} made no progress after the kill (errors {len(c.errors)})"
    assert sum(len(c.errors) for c in clients) >= 1, "no client was on the killed replica"
    # The killed replica restarts on its own audit directory and verifies.
    try:
        a.start()
    except RuntimeError as err:
        raise AssertionError(f"the killed replica did not restart: {err}\n{a.log_text()[-3000:]}")
    wait_all_up(lb, [a, b], people["alice"])
    verify = subprocess.run([str(JITGATE), "audit", "verify", "--config", str(a.config),
                             "--instance", instance_of(a), "--live", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Every acknowledged statement is in one replica's log (reindexed into the shared store).
    for r in (a, b):
        rx = subprocess.run([str(JITGATE), "audit", "reindex", "--config", str(r.config)],
                            capture_output=True, text=True, timeout=120)
        assert rx.returncode == 0, rx.stderr
    found = search_markers(a)
    acked = {m for c in clients for m, _ in c.acked}
    missing = sorted(acked - found)
    assert not missing, f"{len(missing)} acknowledged statements are in no log: {missing[:5]}"


def instance_of(replica):
    """The audit instance name of a replica: the one directory under its audit dir."""
    dirs = [p.name for p in (replica.dir / "log").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def search_markers(replica):
    r = subprocess.run([str(JITGATE), "audit", "search", "--config", str(replica.config),
                        "--contains", "deploy-marker-", "--limit", "100000", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    found = set()
    for line in r.stdout.splitlines():
        if line.strip():
            m = re.search(r"deploy-marker-\d+-\d+", json.loads(line)["text"])
            if m:
                found.add(m.group(0))
    return found
