"""OIDC tokens at the PostgreSQL front door: psql and psycopg connect with a token as password."""
import subprocess
import time

import psycopg
import pytest

from harness import PSQL, Gateway
from oidc_provider import OidcProvider

POLICIES = """policies:
  - { id: rag-read, reason: RAG pipelines read the knowledge base,
      match: { groups: [rag], resource: kb }, allow: [read, session] }
  - { id: engineers, reason: engineers work on kb, match: { groups: [eng] }, allow: [all] }
"""


@pytest.fixture(scope="module")
def oidc_gw(pg, idp):
    gw = Gateway(pg, static_auth=False, policies=POLICIES,
                 extra_yaml=idp.identity_yaml(min_refresh_interval="1s") +
                 "auth: { token_grace: 0s }\n")
    gw.start()
    yield gw
    gw.cleanup()


def dsn(gw, token, **kw):
    return gw.dsn(password=token, **kw)


def test_service_account_token_with_psycopg(oidc_gw, idp):
    token = idp.token(client="rag-indexer", groups=["rag"])
    with psycopg.connect(dsn(oidc_gw, token, user="anything")) as conn:
        assert conn.execute("select count(*) from documents").fetchone() == (100,)
    log = oidc_gw.log_text()
    assert "sub=rag-indexer" in log and "by oidc" in log
    assert token not in log


def test_user_token_with_psql(oidc_gw, idp):
    token = idp.token(user="alice", groups=["eng"], email="alice@corp.example")
    env = oidc_gw.env()
    env["PGPASSWORD"] = token
    r = subprocess.run([PSQL, "-X", "-At", "-c", "select current_user"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app"  # the upstream credential, not the caller's
    assert "alice@corp.example" in oidc_gw.log_text()


@pytest.mark.parametrize("case,expect", [
    ("garbage", "28P01"), ("wrong-audience", "audience mismatch"), ("tampered", "signature"),
])
def test_bad_tokens_refused(oidc_gw, idp, case, expect):
    if case == "garbage":
        token = "not-a-token"
    elif case == "wrong-audience":
        token = idp.token(client="rag-indexer", groups=["rag"], audience="https://other.local/")
    else:
        good = idp.token(client="rag-indexer", groups=["rag"])
        head, payload, sig = good.split(".")
        token = ".".join([head, payload, sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]])
    # Over TLS with libpq for the message, and raw to see the SQLSTATE on a plaintext listener.
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(dsn(oidc_gw, token))
    if expect != "28P01":
        assert expect in str(e.value)
    assert token not in oidc_gw.log_text() or case == "garbage"


def test_caller_without_matching_rule_is_refused(oidc_gw, idp):
    token = idp.token(client="stranger", groups=["nobody"])
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(dsn(oidc_gw, token))
    assert "denied by rule default-deny" in str(e.value)


def test_session_ends_when_token_expires(oidc_gw, idp):
    token = idp.token(user="bob", groups=["eng"], ttl=4)
    conn = psycopg.connect(dsn(oidc_gw, token), autocommit=True)
    assert conn.execute("select 1").fetchone() == (1,)
    deadline = time.time() + 15
    with pytest.raises(psycopg.OperationalError) as e:
        while time.time() < deadline:
            conn.execute("select 1")
            time.sleep(0.2)
    assert "access token of this session expired at" in str(e.value)


def test_key_rotation_without_restart(oidc_gw, idp):
    old = idp.token(client="rag-indexer", groups=["rag"])
    idp.rotate_keys(keep_old=True)
    time.sleep(1.2)  # past min_refresh_interval: an unknown kid may trigger a fetch again
    new = idp.token(client="rag-indexer", groups=["rag"])
    assert OidcProvider.claims(old) != OidcProvider.claims(new)
    for t in (new, old):
        with psycopg.connect(dsn(oidc_gw, t)) as conn:
            assert conn.execute("select 1").fetchone() == (1,)


def test_plaintext_token_refused(pg, idp):
    """A token is only asked for over TLS, unless loopback plaintext is explicitly allowed."""
    import signal
    gw = Gateway(pg, tls=True, require_tls=False, static_auth=False, policies=POLICIES,
                 extra_yaml=idp.identity_yaml())
    gw.start()
    try:
        token = idp.token(client="rag-indexer", groups=["rag"])
        # The harness allows plaintext on loopback: accepted.
        with psycopg.connect(dsn(gw, token, sslmode="disable")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        # Without that setting the gateway refuses to ask for the token in the clear.
        gw.config.write_text(gw.config.read_text().replace("allow_plaintext_loopback: true",
                                                           "allow_plaintext_loopback: false"))
        gw.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "configuration reloaded" not in gw.log_text() and time.time() < deadline:
            time.sleep(0.05)
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(dsn(gw, token, sslmode="disable"))
        assert "over an unencrypted connection" in str(e.value)
        with psycopg.connect(dsn(gw, token, sslmode="require")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        gw.cleanup()
