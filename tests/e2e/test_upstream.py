"""Upstream failures: down, restarted mid-session, and upstream TLS/auth variants."""
import time

import psycopg
import pytest

from harness import Gateway, PgServer



def test_upstream_down_gives_clean_error(own_pg):
    with Gateway(own_pg) as gw:
        own_pg.stop()
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(gw.dsn())
        assert 'upstream for resource "kb"' in str(e.value)
        assert "unavailable" in str(e.value)
        assert time.monotonic() - start < 10
        assert gw.proc.poll() is None


def test_upstream_restart_mid_session(own_pg):
    with Gateway(own_pg) as gw:
        conn = psycopg.connect(gw.dsn(), autocommit=True)
        assert conn.execute("select 1").fetchone() == (1,)
        own_pg.restart()
        with pytest.raises(psycopg.OperationalError) as e:
            conn.execute("select 1")
        # Either the server's own FATAL (57P01) or the gateway's report of the lost connection.
        assert "terminating connection" in str(e.value) or "upstream" in str(e.value)
        conn.close()
        with psycopg.connect(gw.dsn()) as fresh:
            assert fresh.execute("select 2").fetchone() == (2,)
        assert gw.proc.poll() is None


@pytest.mark.parametrize("auth,sslmode", [("md5", "disable"), ("scram-sha-256", "disable"),
                                          ("password", "require"), ("scram-sha-256", "require")])
def test_upstream_auth_methods(auth, sslmode):
    with PgServer(auth=auth) as server:
        server.create_db("kb")
        with Gateway(server, resources=[{"name": "kb", "sslmode": sslmode}]) as gw:
            with psycopg.connect(gw.dsn()) as conn:
                ssl = conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
                assert ssl.fetchone() == (sslmode == "require",)


def test_upstream_bad_credentials(own_pg, tmp_path):
    gw = Gateway(own_pg)
    gw.write_config()
    (gw.dir / "upstream_password").write_text("not-the-password\n")
    import subprocess
    from harness import JITGATE, wait_port
    gw.proc = subprocess.Popen([str(JITGATE), "serve", "--config", str(gw.config)],
                               stdout=open(gw.log, "a"), stderr=subprocess.STDOUT)
    try:
        wait_port(gw.port, proc=gw.proc)
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(gw.dsn())
        assert "refused the gateway's credentials" in str(e.value)
        assert "not-the-password" not in gw.log_text()
    finally:
        gw.cleanup()
