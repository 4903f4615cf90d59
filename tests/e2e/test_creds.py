"""Dynamic upstream credentials against a real PostgreSQL, through the real binary.

`jitgate creds check` and `jitgate creds keygen/jwks` are exercised directly. The session-level
tests (a session role per session in pg_roles, PostgreSQL itself refusing a reader's write, the
reaper after kill -9, the error clients get when the admin is misconfigured, the session cut at
the credential's expiry) need the gateway to issue session roles; they skip, saying so, while a
connection through the gateway still logs in as the static upstream user.
"""
import os
import signal
import stat
import subprocess
import time

import psycopg
import pytest

from harness import JITGATE, Gateway

ADMIN_PASSWORD = "admin-pw-e2e-51c3"
WEAK_PASSWORD = "weak-pw-e2e-0d9b"


@pytest.fixture(scope="module")
def roles(pg):
    pg.sql(f"""
        DO $$BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'jitgate_admin') THEN
            CREATE ROLE jitgate_admin LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}';
            CREATE ROLE weak_admin LOGIN PASSWORD '{WEAK_PASSWORD}';
            CREATE ROLE kb_reader NOLOGIN;
            CREATE ROLE kb_writer NOLOGIN;
          END IF;
        END$$;
        GRANT pg_signal_backend TO jitgate_admin;
    """)
    pg.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO kb_reader;"
           "GRANT ALL ON ALL TABLES IN SCHEMA public TO kb_writer;"
           "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO kb_writer;", db="kb")
    return pg


def session_roles(pg):
    out = pg.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jg\\_%' ORDER BY 1")
    return [r for r in out.split("\n") if r]


def session_backends(pg):
    return int(pg.sql("SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'jg\\_%'"))


def wait_for(predicate, timeout=15.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class CredsGateway(Gateway):
    """A gateway whose resource `kb` gets its upstream login from an admin connection."""

    def __init__(self, pg, admin="jitgate_admin", admin_password=ADMIN_PASSWORD,
                 roles_map="{ reader: kb_reader, writer: kb_writer }", role="reader",
                 credentials="ephemeral", max_ttl="1h", **kw):
        policies = ("policies:\n"
                    f"  - {{ id: kb-all, reason: test, match: {{}}, allow: [all], role: {role} }}\n")
        super().__init__(pg, policies=policies, **kw)
        self.admin, self.admin_password = admin, admin_password
        self.roles_map, self.credentials, self.max_ttl = roles_map, credentials, max_ttl

    def write_config(self):
        super().write_config()
        (self.dir / "admin_password").write_text(self.admin_password + "\n")
        os.chmod(self.dir / "admin_password", 0o600)
        extra = [f"    credentials: {self.credentials}", f"    max_ttl: {self.max_ttl}"]
        if self.credentials == "ephemeral":
            extra += [f"    admin: {{ user: {self.admin}, password_file: admin_password }}",
                      f"    roles: {self.roles_map}"]
        out = []
        for line in self.config.read_text().split("\n"):
            out.append(line)
            if line.startswith("    upstream:"):
                out += extra
        self.config.write_text("\n".join(out))

    def creds(self, *args):
        self.write_config()
        return subprocess.run([str(JITGATE), "creds", *args, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=60)


def session_user(gw):
    with psycopg.connect(gw.dsn(), autocommit=True) as conn:
        return conn.execute("SELECT session_user").fetchone()[0]


@pytest.fixture(scope="module")
def wired(roles):
    """Whether the gateway logs sessions in with session roles (skips the test otherwise)."""
    with CredsGateway(roles) as gw:
        try:
            user = session_user(gw)
        except psycopg.Error as e:
            pytest.fail(f"cannot connect through a gateway with ephemeral credentials: {e}")
    if not user.startswith("jg_"):
        pytest.skip("the gateway does not issue session roles yet (session logs in as "
                    f"{user!r}): creds::Issuer is not wired into the session")
    return roles


# --- jitgate creds check ---------------------------------------------------------------------

def test_check_passes_and_leaves_no_role_behind(roles):
    gw = CredsGateway(roles)
    try:
        r = gw.creds("check", "kb")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "admin user jitgate_admin has CREATEROLE" in r.stdout
        assert "may end session backends (pg_signal_backend)" in r.stdout
        assert "roles.reader -> kb_reader: exists" in r.stdout
        assert "trial login as a session role for writer over SCRAM-SHA-256 acts as kb_writer" \
            in r.stdout
        assert "resource kb is ready" in r.stdout
        assert ADMIN_PASSWORD not in r.stdout + r.stderr
        assert session_roles(roles) == []
    finally:
        gw.cleanup()


def test_check_explains_missing_createrole_and_signal_privilege(roles):
    gw = CredsGateway(roles, admin="weak_admin", admin_password=WEAK_PASSWORD)
    try:
        r = gw.creds("check", "kb")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "FAIL  admin user weak_admin lacks CREATEROLE" in r.stdout
        assert "fix: ALTER ROLE weak_admin CREATEROLE;" in r.stdout
        assert "fix: GRANT pg_signal_backend TO weak_admin;" in r.stdout
        assert "problem(s) found" in r.stdout
    finally:
        gw.cleanup()


def test_check_explains_wrong_admin_password_without_showing_it(roles):
    gw = CredsGateway(roles, admin_password="wrong-secret-e2e-77")
    try:
        r = gw.creds("check", "kb")
        assert r.returncode == 1
        assert "password authentication failed" in r.stdout
        assert "password_file" in r.stdout
        assert "wrong-secret-e2e-77" not in r.stdout + r.stderr
    finally:
        gw.cleanup()


def test_check_names_an_unknown_upstream_role(roles):
    gw = CredsGateway(roles, roles_map="{ reader: kb_reader, auditor: kb_auditor }")
    try:
        r = gw.creds("check", "kb")
        assert r.returncode == 1
        assert "FAIL  roles.auditor -> kb_auditor: the upstream role does not exist" in r.stdout
        assert "fix: CREATE ROLE kb_auditor NOLOGIN" in r.stdout
    finally:
        gw.cleanup()


def test_check_static_mode_warns_it_is_the_weaker_choice(roles):
    gw = CredsGateway(roles, credentials="static")
    try:
        r = gw.creds("check", "kb")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "static credentials" in r.stdout and "warn" in r.stdout
        assert "ok    login as app@" in r.stdout
    finally:
        gw.cleanup()


def test_check_rejects_inline_admin_password(roles, tmp_path):
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("resources:\n  - name: kb\n    upstream: { user: app }\n"
                   "    admin: { user: jitgate_admin, password: inline-secret-1 }\n"
                   "    roles: { reader: kb_reader }\n")
    r = subprocess.run([str(JITGATE), "creds", "check", "kb", "--config", str(cfg)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "inline passwords are not allowed" in r.stderr
    assert "inline-secret-1" not in r.stdout + r.stderr


def test_keygen_writes_a_private_key_and_jwks_publishes_only_the_public_half(tmp_path):
    key = tmp_path / "upstream-signing.pem"
    r = subprocess.run([str(JITGATE), "creds", "keygen", str(key)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = subprocess.run([str(JITGATE), "creds", "keygen", str(key)], capture_output=True,
                           text=True)
    assert again.returncode == 1 and "already exists" in again.stderr
    jwks = subprocess.run([str(JITGATE), "creds", "jwks", str(key)], capture_output=True,
                          text=True)
    assert jwks.returncode == 0
    assert '"kty":"OKP"' in jwks.stdout and '"alg":"EdDSA"' in jwks.stdout
    assert '"d"' not in jwks.stdout


def test_gateway_publishes_its_jwks_on_the_admin_listener(roles, tmp_path):
    import json
    import urllib.request
    key = tmp_path / "upstream-signing.pem"
    assert subprocess.run([str(JITGATE), "creds", "keygen", str(key)]).returncode == 0
    expected = json.loads(subprocess.run([str(JITGATE), "creds", "jwks", str(key)],
                                         capture_output=True, text=True).stdout)
    gw = Gateway(roles, admin=True,
                 extra_yaml=f"upstream_tokens: {{ key_file: {key}, issuer: https://gw.local }}\n")
    gw.start()
    try:
        with urllib.request.urlopen(f"{gw.admin_url}/.well-known/jwks.json", timeout=5) as r:
            published = json.loads(r.read())
            assert r.headers["Content-Type"].startswith("application/jwk-set+json")
        assert published == expected
        assert all("d" not in k for k in published["keys"])
    finally:
        gw.cleanup()


# --- sessions (need the issuer wired into the gateway session) ------------------------------

def test_one_session_role_with_membership_and_validity_while_connected(wired):
    pg = wired
    with CredsGateway(pg, max_ttl="30m") as gw:
        with psycopg.connect(gw.dsn(), autocommit=True) as conn:
            me = conn.execute("SELECT session_user").fetchone()[0]
            assert session_roles(pg) == [me]
            member_of = pg.sql("SELECT string_agg(m.rolname, ',') FROM pg_auth_members a "
                               "JOIN pg_roles m ON m.oid = a.roleid JOIN pg_roles r "
                               f"ON r.oid = a.member WHERE r.rolname = '{me}'").strip()
            assert member_of == "kb_reader"
            left = float(pg.sql("SELECT extract(epoch FROM rolvaliduntil - now()) FROM pg_roles "
                                f"WHERE rolname = '{me}'"))
            assert 0 < left <= 30 * 60
            assert pg.sql(f"SELECT rolconnlimit FROM pg_roles WHERE rolname = '{me}'").strip() \
                == "1"
        assert wait_for(lambda: session_roles(pg) == [])
        assert "SCRAM-SHA-256$" not in gw.log_text()
        assert ADMIN_PASSWORD not in gw.log_text()


def test_reader_write_is_refused_by_postgresql_itself(wired):
    with CredsGateway(wired, role="reader") as gw:
        with psycopg.connect(gw.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] > 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                conn.execute("INSERT INTO documents VALUES (100001, 't', 'b')")
            assert "permission denied for table documents" in str(e.value)


def test_kill9_then_restart_reaps_leftover_roles_and_ends_their_backends(wired):
    pg = wired
    gw = CredsGateway(pg).start()
    try:
        conns = [psycopg.connect(gw.dsn(), autocommit=True) for _ in range(2)]
        for c in conns:
            c.execute("SELECT 1")
        assert len(session_roles(pg)) == 2 and session_backends(pg) == 2
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait()
        # The upstream backends outlive the gateway process until something ends them.
        assert len(session_roles(pg)) == 2
        gw.start()
        assert wait_for(lambda: session_roles(pg) == [] and session_backends(pg) == 0)
        for c in conns:
            c.close()
    finally:
        gw.cleanup()


def test_admin_lacking_createrole_gives_clients_a_clear_error(wired):
    with CredsGateway(wired, admin="weak_admin", admin_password=WEAK_PASSWORD) as gw:
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(gw.dsn())
        msg = str(e.value)
        assert "lacks CREATEROLE" in msg and "ALTER ROLE weak_admin CREATEROLE" in msg
        assert WEAK_PASSWORD not in msg and WEAK_PASSWORD not in gw.log_text()


def test_wrong_admin_password_gives_clients_a_clear_error(wired):
    with CredsGateway(wired, admin_password="wrong-e2e-secret-3") as gw:
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(gw.dsn())
        assert "admin connection" in str(e.value)
        assert "wrong-e2e-secret-3" not in str(e.value) + gw.log_text()


def test_session_ends_when_its_credential_expires(wired):
    pg = wired
    with CredsGateway(pg, max_ttl="10s") as gw:
        conn = psycopg.connect(gw.dsn(), autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        time.sleep(12)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()
        assert wait_for(lambda: session_roles(pg) == [] and session_backends(pg) == 0)
