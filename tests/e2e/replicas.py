"""Gateway replicas on one PostgreSQL state store, for the tests of several replicas
(test_replicas.py, test_deployment.py): a store database and role of their own, and a replica
class that points a gateway at it with its own audit directory and keys.
"""
import contextlib
import json
import os
import subprocess
import time

from harness import JITGATE, Gateway, make_keys


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
                 access_yaml="", **kw):
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
                           f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem }}\n")

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
