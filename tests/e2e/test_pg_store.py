"""The state store on PostgreSQL (`store: postgresql://...`): reviews, grants and the audit index
live in a database of their own, reached over TLS as a role whose password is in a file.

The e2e PostgreSQL server has TLS with a self-signed certificate, so the store URL names that
certificate as the CA (sslrootcert=, hence sslmode verify-full) and the host as `localhost`, the
name the certificate is issued to. One gateway is started per module.
"""
import json
import os
import re
import subprocess
import time

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys

STORE_DB = "jitgate_state"
STORE_ROLE = "jitgate_store"
STORE_PASSWORD = "store-Secret-81c2"

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-session, reason: a data owner approves access to kb,
      match: { groups: [eng], resource: kb }, action: review, scope: session, mode: fail_fast,
      approvers: { groups: [data-owners], count: 1 }, grant: 1h }
"""


class PgStoreGateway(Gateway):
    def __init__(self, pg, idp):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True)
        keys = make_keys(self.dir / "keys")
        password_file = self.dir / "store_password"
        password_file.write_text(STORE_PASSWORD + "\n")
        os.chmod(password_file, 0o600)
        ca = pg.dir / "data" / "server.crt"
        self.store_url = (f"postgresql://{STORE_ROLE}@localhost:{pg.port}/{STORE_DB}"
                          f"?sslrootcert={ca}&password_file={password_file}&pool_size=3")
        self.extra_yaml = (idp.identity_yaml() + f'store: "{self.store_url}"\n' +
                           "access: { pending_expiry: 10m }\n" +
                           f"audit: {{ dir: {self.dir}/log, durability: strict, "
                           f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem, "
                           f"auditor_groups: [auditors] }}\n")


@pytest.fixture(scope="module")
def gw(pg, idp):
    pg.sql(f"CREATE ROLE {STORE_ROLE} LOGIN PASSWORD '{STORE_PASSWORD}'")
    pg.sql(f"CREATE DATABASE {STORE_DB} OWNER {STORE_ROLE}")
    g = PgStoreGateway(pg, idp).start()
    yield g
    g.cleanup()
    pg.sql(f"DROP DATABASE IF EXISTS {STORE_DB} WITH (FORCE)")
    pg.sql(f"DROP ROLE IF EXISTS {STORE_ROLE}")


@pytest.fixture(scope="module")
def people(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], email="alice@corp.example"),
        "bob": idp.token(user="bob", groups=["data-owners"], email="bob@corp.example"),
        "audrey": idp.token(user="audrey", groups=["auditors"], email="audrey@corp.example"),
    }


def review_cli(gw, token, *args):
    r = subprocess.run([str(JITGATE), "review", *args, "--gateway", gw.admin_url, "--token",
                        token, "--json"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout
    return r


@pytest.fixture(scope="module")
def approved_session(gw, people):
    """Alice is refused pending a review, Bob approves it, Alice reads; returns (review, sid)."""
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gw.dsn(db="kb", password=people["alice"]))
    review_id = re.search(r"review (r-[a-z0-9]+)", str(e.value)).group(1)
    review_cli(gw, people["bob"], "approve", review_id, "--comment", "shared store")
    with psycopg.connect(gw.dsn(db="kb", password=people["alice"])) as conn:
        assert conn.execute("select count(*) from documents /* pg-store */").fetchone() == (100,)
    sid = re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())[-1]
    return review_id, sid


def test_reviews_and_grants_are_rows_in_the_postgresql_store(gw, pg, approved_session):
    review_id, _ = approved_session
    state = pg.sql(f"SELECT state FROM access_reviews WHERE id = '{review_id}'", db=STORE_DB)
    assert state.strip() == "approved"
    grants = pg.sql(f"SELECT count(*) FROM access_grants WHERE review_id = '{review_id}' "
                    "AND state = 'active'", db=STORE_DB)
    assert grants.strip() == "1"
    versions = pg.sql("SELECT component || '=' || version FROM schema_version ORDER BY 1",
                      db=STORE_DB).split()
    applied = dict(v.split("=") for v in versions)
    assert int(applied.get("access", 0)) >= 1 and int(applied.get("audit", 0)) >= 1, versions


def test_store_connections_use_tls_and_the_password_stays_out_of_the_log(gw, pg, approved_session):
    encrypted = pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                       f"WHERE a.usename = '{STORE_ROLE}' AND s.ssl", db=STORE_DB)
    plain = pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                   f"WHERE a.usename = '{STORE_ROLE}' AND NOT s.ssl", db=STORE_DB)
    assert int(encrypted) >= 1 and int(plain) == 0
    assert STORE_PASSWORD not in gw.log_text()


def test_audit_api_search_finds_the_session_in_the_postgresql_index(gw, people, approved_session):
    _, sid = approved_session
    deadline = time.time() + 10
    hits = []
    while time.time() < deadline:
        status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"],
                                contains="/* pg-store */")
        if status == 200 and hits:
            break
        time.sleep(0.2)
    assert status == 200, hits
    assert [h["session"] for h in hits] == [sid]
    assert hits[0]["email"] == "alice@corp.example"


def test_audit_search_cli_reads_the_same_store(gw, approved_session):
    _, sid = approved_session
    deadline = time.time() + 10
    while True:
        r = subprocess.run([str(JITGATE), "audit", "search", "--config", str(gw.config),
                            "--contains", "/* pg-store */", "--json"],
                           capture_output=True, text=True, timeout=30)
        lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        if lines or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.returncode == 0, r.stderr
    assert [h["session"] for h in lines] == [sid], r.stdout


def test_a_store_url_with_a_password_is_refused_without_printing_it(gw, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(gw.config.read_text().replace(
        f"{STORE_ROLE}@", f"{STORE_ROLE}:hunter2-pw@"))
    r = subprocess.run([str(JITGATE), "audit", "search", "--config", str(config)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "password in the URL is not allowed" in r.stderr, r.stderr
    assert "hunter2-pw" not in r.stderr + r.stdout
