"""Process lifecycle: reload on SIGHUP, graceful shutdown on SIGTERM, logs, timeouts."""
import json
import signal
import threading
import time

import psycopg
import pytest

from harness import Gateway


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_sighup_reload_valid_and_invalid(pg):
    pg.sql("CREATE DATABASE kb2 OWNER app") if "kb2" not in pg.sql(
        "select datname from pg_database") else None
    with Gateway(pg) as gw:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(gw.dsn(db="kb2"))
        gw.resources.append({"name": "kb2"})
        gw.write_config()
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: "configuration reloaded" in gw.log_text())
        with psycopg.connect(gw.dsn(db="kb2")) as conn:
            assert conn.execute("select current_database()").fetchone() == ("kb2",)
        # An invalid file keeps the old configuration and says why.
        gw.config.write_text(gw.config.read_text() + "bogus_key: 1\n")
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: "reload failed; keeping the current configuration" in
                        gw.log_text())
        assert "bogus_key: unknown key" in gw.log_text()
        with psycopg.connect(gw.dsn(db="kb2")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)


def test_sigterm_lets_sessions_finish_then_ends_them(pg):
    gw = Gateway(pg, extra_yaml="timeouts: { shutdown_grace: 2s }\n").start()
    try:
        finished = psycopg.connect(gw.dsn(), autocommit=True)
        lingering = psycopg.connect(gw.dsn(), autocommit=True)
        result = {}

        def running_query():
            result["v"] = finished.execute("select pg_sleep(1), 'done'").fetchone()[1]

        t = threading.Thread(target=running_query)
        t.start()
        time.sleep(0.2)
        gw.signal(signal.SIGTERM)
        t.join()
        assert result["v"] == "done"  # an in-flight query completes during the grace period
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(gw.dsn(), connect_timeout=2)  # no new connections
        assert gw.proc.wait(timeout=15) == 0
        with pytest.raises(psycopg.OperationalError) as e:
            lingering.execute("select 1")
        assert "administrator command" in str(e.value)
        assert "ending 2 sessions" in gw.log_text() or "ending 1 sessions" in gw.log_text()
    finally:
        gw.cleanup()


def test_json_logs_carry_session_ids(pg):
    gw = Gateway(pg).start(extra_args=["--log-format", "json"])
    try:
        with psycopg.connect(gw.dsn()) as conn:
            conn.execute("select 1")
        gw.stop()
        lines = [json.loads(l) for l in gw.log_text().splitlines() if l.strip()]
        assert all({"ts", "level", "msg"} <= set(l) for l in lines)
        sids = {l["sid"] for l in lines if "sid" in l}
        assert sids and all(s.startswith("s-") for s in sids)
        assert any("authenticated" in l["msg"] for l in lines)
        assert Gateway.CLIENT_PASSWORD not in gw.log_text()
        assert pg.APP_PASSWORD not in gw.log_text()
    finally:
        gw.cleanup()


def test_idle_timeout(pg):
    with Gateway(pg, extra_yaml="timeouts: { idle: 1s }\n") as gw:
        conn = psycopg.connect(gw.dsn(), autocommit=True)
        conn.execute("select 1")
        time.sleep(2.5)
        with pytest.raises(psycopg.OperationalError) as e:
            conn.execute("select 1")
        assert "idle timeout" in str(e.value)


def test_startup_timeout(pg):
    import pgwire
    with Gateway(pg, tls=False, extra_yaml="timeouts: { startup: 1s }\n") as gw:
        s = pgwire.connect(gw.port)
        s.sendall(b"\0\0")  # half a length, then nothing
        msgs = pgwire.read_messages(s)
        f = pgwire.error_fields(msgs[-1][1])
        assert "startup did not complete" in f["M"]
