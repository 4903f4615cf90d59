"""Gateway replicas on one PostgreSQL state store, for the tests of several replicas
(test_replicas.py, test_deployment.py) and `make demo-ha` (scripts/demo_ha.py): a store
database and role of their own, a replica class that points a gateway at it with its own audit
directory and keys, and a real HAProxy (Debian) in front of the replicas as docs/deployment.md
describes.
"""
import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import psycopg

from harness import JITGATE, Gateway, free_port, make_cert, make_keys, wait_port


@contextlib.contextmanager
def shared_store(pg, db, role, password):
    """Creates the store database and its owner; yields the pieces of the URL; drops both."""
    pg.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    pg.sql(f"CREATE DATABASE {db} OWNER {role}")
    try:
        yield {"db": db, "role": role, "password": password}
    finally:
        pg.sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg.sql(f"DROP ROLE IF EXISTS {role}")


class Replica(Gateway):
    """One replica: its own ports, audit directory and keys; the shared PostgreSQL store (TLS
    verified against the test server's certificate, the password in a file)."""

    def __init__(self, pg, idp, name, store, policies, durability="batched", threads=2,
                 access_yaml="", audit_options="", **kw):
        super().__init__(pg, static_auth=False, policies=policies, admin=True, **kw)
        self.name = name
        self.threads = threads
        keys = make_keys(self.dir / "keys")
        password_file = self.dir / "store_password"
        password_file.write_text(store["password"] + "\n")
        os.chmod(password_file, 0o600)
        ca = pg.dir / "data" / "server.crt"
        self.store_url = (f"postgresql://{store['role']}@localhost:{pg.port}/{store['db']}"
                          f"?sslrootcert={ca}&password_file={password_file}&pool_size=3"
                          f"&application_name=jitgate-{name}")
        self.extra_yaml = (idp.identity_yaml() + f'store: "{self.store_url}"\n' + access_yaml +
                           f"audit: {{ dir: {self.dir}/log, durability: {durability}, "
                           f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem"
                           f"{audit_options} }}\n")

    def write_config(self):
        super().write_config()
        if self.threads != 2:
            text = self.config.read_text().replace("threads: 2", f"threads: {self.threads}")
            self.config.write_text(text)

    def review(self, token, *args):
        r = subprocess.run([str(JITGATE), "review", *args, "--gateway", self.admin_url,
                            "--token", token, "--json"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(r.stdout) if r.stdout.strip() else None

    def api(self, method, path, token, body=None):
        status, result = self.admin(method, path, token, body)
        assert status < 300, (status, result)
        return result


def wait_until(predicate, timeout, what, interval=0.05):
    """The first truthy value of predicate() within `timeout` seconds, else AssertionError."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


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
{pg_check}  default-server inter 300ms fall 2 rise 2
{pg_servers}
"""

HAPROXY_ADMIN_CFG = """frontend admin
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

# The HTTP listener (listen.http): TLS from the client to HAProxy and again from HAProxy to each
# replica (its certificate verified), so the bearer token is never on the wire in clear.
HAPROXY_HTTP_CFG = """frontend rag_http
  mode http
  bind 127.0.0.1:{http_port} ssl crt {pem}
  default_backend jitgate_http
backend jitgate_http
  mode http
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{http_servers}
"""


class HaProxy:
    """HAProxy in front of replicas: TCP mode for PostgreSQL clients, HTTP mode for the admin
    API and (with `http=True`, for replicas that have listen.http) the HTTP listener; every
    server is health-checked on the replica's `/readyz`. Servers without an `admin_port`
    (pgbouncer, in bench/replicas.py) get a TCP check and no admin frontend."""

    def __init__(self, directory, replicas, http=False):
        self.dir = Path(directory)
        admin = all(r.admin_port for r in replicas)
        self.pg_port = free_port()
        self.admin_port = free_port() if admin else None
        self.http_port = free_port() if http else None
        pg_check = "  option httpchk GET /readyz\n  http-check expect status 200\n"
        pg_servers = "\n".join(f"  server {r.name} 127.0.0.1:{r.port} check" +
                               (f" port {r.admin_port}" if admin else "") for r in replicas)
        text = HAPROXY_CFG.format(pg_port=self.pg_port, pg_check=pg_check if admin else "",
                                  pg_servers=pg_servers)
        if admin:
            admin_servers = "\n".join(f"  server {r.name} 127.0.0.1:{r.admin_port} check"
                                      for r in replicas)
            text += HAPROXY_ADMIN_CFG.format(admin_port=self.admin_port,
                                             admin_servers=admin_servers)
        self.ca = None
        if http:
            cert, key = make_cert(self.dir)
            self.ca = Path(cert)
            pem = self.dir / "haproxy.pem"
            pem.write_text(Path(cert).read_text() + Path(key).read_text())
            os.chmod(pem, 0o600)
            http_servers = "\n".join(
                f"  server {r.name} 127.0.0.1:{r.http_port} ssl verify required "
                f"ca-file {r.dir / 'server.crt'} check port {r.admin_port} no-check-ssl"
                for r in replicas)
            text += HAPROXY_HTTP_CFG.format(http_port=self.http_port, pem=pem,
                                            http_servers=http_servers)
        self.cfg = self.dir / "haproxy.cfg"
        self.cfg.write_text(text)
        self.log = self.dir / "haproxy.log"
        self.proc = None

    def start(self):
        check = subprocess.run(["haproxy", "-c", "-f", str(self.cfg)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        for port in (self.pg_port, self.admin_port, self.http_port):
            if port:
                wait_port(port, proc=self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def dsn(self, password, user="alice", db="kb"):
        return (f"host=127.0.0.1 port={self.pg_port} dbname={db} user={user} sslmode=require "
                f"password={password} connect_timeout=5")

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def http_url(self):
        return f"https://127.0.0.1:{self.http_port}"


def served_sessions(replica):
    """Sessions a replica has admitted so far (its log's `authenticated` lines)."""
    return len(re.findall(r"\] authenticated ", replica.log_text()))


def wait_all_up(lb, replicas, token, user="alice", db="kb"):
    """Waits until HAProxy sends sessions to every replica (its health checks mark all up)."""
    def every_replica_served():
        before = [served_sessions(r) for r in replicas]
        for _ in range(2 * len(replicas)):
            try:
                psycopg.connect(lb.dsn(token, user=user, db=db)).close()
            except psycopg.OperationalError:
                pass
        return all(served_sessions(r) > b for r, b in zip(replicas, before))
    wait_until(every_replica_served, 20, "HAProxy to send sessions to every replica", 0.1)
