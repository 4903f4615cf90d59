"""Faults through the real binary, each with the behaviour docs/architecture.md ("Faults")
documents: PostgreSQL killed mid-query and restarted, the OIDC provider down, an invalid
configuration on SIGHUP, and SIGTERM with sessions open. (A full audit disk is
test_audit_fail_closed.py.)

The clients here speak the wire protocol directly (tests/e2e/pgwire.py) so every assertion can
name the severity and SQLSTATE the client received. Waits are on conditions with generous
timeouts; timings are only asserted as generous upper bounds."""
import json
import os
import signal
import socket
import struct
import subprocess
import time

import psycopg

import pgwire
from harness import JITGATE, PG_BIN, Gateway, make_keys, scrape_metrics
from oidc_provider import OidcProvider

SHUTDOWN = "terminating connection due to administrator command"


# -- helpers ---------------------------------------------------------------------------------

def wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def connect(gw, password=Gateway.CLIENT_PASSWORD, db="kb"):
    """('ok', socket) or ('error', fields of the ErrorResponse) for a new session."""
    s = pgwire.connect(gw.port)
    s.settimeout(60)
    s.sendall(pgwire.startup_packet({"user": "alice", "database": db}))
    msgs = pgwire.read_messages(s, until={b"R", b"E"})
    if msgs and msgs[-1][0] == b"R":
        s.sendall(pgwire.message(b"p", password.encode() + b"\0"))
        msgs = pgwire.read_messages(s, until={b"Z", b"E"}, limit=1000)
    if msgs and msgs[-1][0] == b"Z":
        return "ok", s
    s.close()
    errors = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    return "error", (errors[0] if errors else {"M": f"connection closed: {msgs}"})


def served(gw, password=Gateway.CLIENT_PASSWORD, db="kb"):
    """True when a new session is admitted (and closes it again)."""
    kind, value = connect(gw, password, db)
    if kind == "ok":
        value.close()
    return kind == "ok"


def refusal(gw, password=Gateway.CLIENT_PASSWORD, db="kb"):
    """The ErrorResponse fields of a refused new session; None when it was admitted."""
    kind, value = connect(gw, password, db)
    if kind == "ok":
        value.close()
        return None
    return value


def session(gw, password=Gateway.CLIENT_PASSWORD, db="kb"):
    kind, value = connect(gw, password, db)
    assert kind == "ok", value
    return value


def run(sock, sql, timeout=60):
    """('ok', rows) | ('error', fields) | ('fatal', fields) | ('closed', None)."""
    sock.settimeout(timeout)
    try:
        sock.sendall(pgwire.query(sql.encode()))
    except OSError:
        return "closed", None
    return answer(sock)


def answer(sock):
    """The answer to what was sent, up to ReadyForQuery; the same shapes as run()."""
    msgs = pgwire.read_messages(sock, until={b"Z"}, limit=100000)
    errors = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    if errors:
        return ("fatal" if errors[0].get("S") == "FATAL" else "error"), errors[0]
    if not msgs or msgs[-1][0] != b"Z":
        return "closed", None
    return "ok", [pgwire_row(p) for t, p in msgs if t == b"D"]


def pgwire_row(payload):
    """The text values of a DataRow (None for NULL)."""
    n, pos, row = struct.unpack("!h", payload[:2])[0], 2, []
    for _ in range(n):
        size = struct.unpack("!i", payload[pos:pos + 4])[0]
        pos += 4
        row.append(None if size < 0 else payload[pos:pos + size].decode())
        pos += max(size, 0)
    return row


def unsolicited_error(sock, timeout=30):
    """The ErrorResponse the gateway sends to a session that is not waiting for anything."""
    sock.settimeout(timeout)
    msgs = pgwire.read_messages(sock, until={b"E"})
    errors = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    return errors[0] if errors else None


def metrics(gw):
    return scrape_metrics(gw)


def recorded_yaml(directory, durability="batched"):
    keys = make_keys(directory / "keys")
    return f"""store: sqlite://{directory}/state.db
audit:
  dir: {directory}/log
  durability: {durability}
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""


def cli(gw, *args):
    return subprocess.run([str(JITGATE), *args, "--config", str(gw.config)], capture_output=True,
                          text=True, timeout=120)


def session_end(gw, marker):
    """The session_end record of the session that ran a statement containing `marker`."""
    r = cli(gw, "audit", "reindex")
    assert r.returncode == 0, r.stderr
    r = cli(gw, "audit", "search", "--contains", marker, "--json")
    assert r.returncode == 0, r.stderr
    hits = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert hits, f"no recorded statement contains {marker!r}"
    r = cli(gw, "replay", hits[0]["session"], "--format", "json")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    ends = [x for x in records if x["type"] == "session_end"]
    assert len(ends) == 1, records
    return ends[0]


def backend_running(pg, marker, db="kb"):
    return pg.sql(f"select count(*) from pg_stat_activity where state = 'active' "
                  f"and query like '%{marker}%' and pid <> pg_backend_pid()", db=db).strip() != "0"


# -- 1. PostgreSQL killed mid-query, unavailable, restarted -----------------------------------


def pg_ctl(pg, *args):
    subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                    str(pg.dir / "data"), *args], check=True, capture_output=True, timeout=60)


def test_postgres_killed_mid_query_then_down_then_restarted(own_pg, tmp_path):
    gw = Gateway(own_pg, tls=False, admin=True, extra_yaml=recorded_yaml(tmp_path)).start()
    try:
        busy, idle = session(gw), session(gw)
        kind, rows = run(busy, "select pg_backend_pid()")
        assert kind == "ok", rows
        pid = int(rows[0][0])
        assert run(idle, "select 'fault-kill-idle'")[0] == "ok"
        busy.sendall(pgwire.query(b"select 'fault-kill-busy', pg_sleep(120)"))
        assert wait_for(lambda: backend_running(own_pg, "fault-kill-busy"))

        os.kill(pid, signal.SIGKILL)
        # The statement's client gets the gateway's report of the lost connection.
        kind, fields = answer(busy)
        assert kind == "fatal" and fields["C"] == "08006", (kind, fields)
        assert 'lost connection to the upstream server for resource "kb"' in fields["M"]
        # The idle session gets the FATAL of its own backend, which the crash ended.
        fields = unsolicited_error(idle)
        assert fields and fields["S"] == "FATAL" and fields["C"] in ("57P02", "08006"), fields
        for s in (busy, idle):
            s.close()

        # PostgreSQL recovers by itself; the gateway serves again without a restart.
        assert wait_for(lambda: served(gw), timeout=90), gw.log_text()[-3000:]
        assert_refused_while_postgres_stops_and_serves_after_restart(own_pg, gw)
        failures = metrics(gw)["jitgate_upstream_connect_failures_total"]
        assert failures >= 2, failures
        assert gw.proc.poll() is None
    finally:
        assert gw.stop() == 0
    try:
        log = gw.log_text()
        assert 'lost connection to the upstream server for resource "kb"' in log
        assert session_end(gw, "fault-kill-busy")["reason"].startswith(
            'lost connection to the upstream server for resource "kb"')
        assert session_end(gw, "fault-kill-idle")["reason"] in (
            "upstream server ended the session",
            'lost connection to the upstream server for resource "kb": server closed the '
            "connection")
    finally:
        gw.cleanup()


def assert_refused_while_postgres_stops_and_serves_after_restart(pg, gw):
    """A smart shutdown held open by one direct client: PostgreSQL answers 57P03, and so does the
    gateway. Stopped: 08001 at once. Started again: served."""
    blocker = psycopg.connect(pg.dsn("kb"), autocommit=True)
    try:
        pg_ctl(pg, "-m", "smart", "-W", "stop")
        refused = wait_for(lambda: refusal(gw))
        assert refused and refused["S"] == "FATAL" and refused["C"] == "57P03", refused
        assert 'upstream for resource "kb"' in refused["M"]
        assert "is unavailable: the database system is shutting down" in refused["M"]
    finally:
        blocker.close()
    pg.proc.wait(timeout=60)
    pg.proc = None
    start = time.monotonic()
    kind, fields = connect(gw)
    assert kind == "error" and fields["S"] == "FATAL" and fields["C"] == "08001", fields
    assert 'upstream for resource "kb"' in fields["M"] and "is unavailable" in fields["M"]
    assert time.monotonic() - start < 20
    pg._launch("a")
    s = session(gw)
    assert run(s, "select 'after restart'") == ("ok", [["after restart"]])
    s.close()


# -- 2. The OIDC provider down ----------------------------------------------------------------

POLICIES = """policies:
  - { id: rag-read, reason: RAG pipelines read the knowledge base,
      match: { groups: [rag], resource: kb }, allow: [read, session] }
"""


def oidc_gateway(pg, idp):
    yaml = idp.identity_yaml(min_refresh_interval="1s", http_timeout="2s")
    return Gateway(pg, tls=False, static_auth=False, policies=POLICIES, extra_yaml=yaml)


def token(idp):
    return idp.token(client="rag-indexer", groups=["rag"])


def test_provider_down_known_keys_keep_working_unknown_kid_is_refused_then_recovers(pg):
    with OidcProvider() as idp:
        gw = oidc_gateway(pg, idp).start()
        try:
            s = session(gw, token(idp))  # the gateway fetches and caches the provider's keys
            s.close()
            known = [token(idp) for _ in range(2)]  # signed by the cached key, not yet used
            idp.rotate_keys(keep_old=True)
            unknown = token(idp)  # signed by a key the gateway has not seen
            idp.stop()

            s = session(gw, known[0])
            assert run(s, "select 1") == ("ok", [["1"]])
            s.close()
            time.sleep(1.5)  # past min_refresh_interval: the unknown kid makes the gateway try
            start = time.monotonic()
            kind, fields = connect(gw, unknown)
            assert kind == "error" and fields["S"] == "FATAL" and fields["C"] == "28000", fields
            assert "is not among the cached keys of " + idp.issuer in fields["M"]
            assert "cannot be refreshed" in fields["M"]
            assert time.monotonic() - start < 20

            # A reload during the outage keeps the keys the gateway had.
            gw.signal(signal.SIGHUP)
            assert wait_for(lambda: "configuration reloaded" in gw.log_text())
            s = session(gw, known[1])
            s.close()

            idp.start()  # same port, same keys
            assert wait_for(lambda: served(gw, unknown)), gw.log_text()[-3000:]
            assert unknown not in gw.log_text()
        finally:
            gw.cleanup()


def test_provider_down_without_cached_keys_refuses_with_the_cause_then_recovers(pg):
    with OidcProvider() as idp:
        tok = token(idp)
        idp.stop()
        gw = oidc_gateway(pg, idp).start()  # a fresh gateway: no keys yet
        try:
            start = time.monotonic()
            kind, fields = connect(gw, tok)
            assert kind == "error" and fields["S"] == "FATAL" and fields["C"] == "28000", fields
            assert "cannot obtain the signing keys of " + idp.issuer in fields["M"]
            assert time.monotonic() - start < 20
            assert gw.proc.poll() is None

            idp.start()
            assert wait_for(lambda: served(gw, tok)), gw.log_text()[-3000:]
        finally:
            gw.cleanup()


def test_provider_that_accepts_but_never_answers_is_bounded_by_http_timeout(pg):
    with OidcProvider() as idp:
        tok = token(idp)
        idp.stop()
        hole = socket.socket()
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", idp.port))
        hole.listen(16)  # connections complete in the backlog; nothing is ever answered
        gw = oidc_gateway(pg, idp).start()
        try:
            start = time.monotonic()
            kind, fields = connect(gw, tok)
            elapsed = time.monotonic() - start
            assert kind == "error" and fields["C"] == "28000", fields
            assert "cannot obtain the signing keys of " + idp.issuer in fields["M"]
            assert "timed out" in fields["M"], fields
            assert elapsed < 30, elapsed  # http_timeout is 2 s; startup allows 10 s
        finally:
            hole.close()
            gw.cleanup()


# -- 4. SIGHUP with an invalid configuration --------------------------------------------------

def test_sighup_with_invalid_configuration_keeps_serving_and_counts_the_failure(pg):
    if "kb2" not in pg.sql("select datname from pg_database"):
        pg.sql("CREATE DATABASE kb2 OWNER app")
    gw = Gateway(pg, tls=False, admin=True).start()
    try:
        open_session = session(gw)
        assert metrics(gw)["jitgate_config_reload_failures_total"] == 0
        valid = gw.config.read_text()

        # A file that does not load: unknown key.
        gw.config.write_text(valid + "bogus_key: 1\n")
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: metrics(gw)["jitgate_config_reload_failures_total"] == 1)
        assert "reload failed; keeping the current configuration" in gw.log_text()
        assert "bogus_key: unknown key" in gw.log_text()
        # A file that loads but names what cannot be used: a missing root certificate.
        gw.config.write_text(valid.replace("sslmode: require",
                                           "sslmode: verify-full, sslrootcert: /nonexistent.pem"))
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: metrics(gw)["jitgate_config_reload_failures_total"] == 2)
        assert "/nonexistent.pem" in gw.log_text()

        # The old configuration serves the open session and new ones.
        assert run(open_session, "select 'still here'") == ("ok", [["still here"]])
        s = session(gw)
        s.close()
        assert metrics(gw)["jitgate_config_reloads_total"] == 0

        # A valid file applies.
        gw.resources.append({"name": "kb2"})
        gw.write_config()
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: metrics(gw)["jitgate_config_reloads_total"] == 1)
        s = session(gw, db="kb2")
        assert run(s, "select current_database()") == ("ok", [["kb2"]])
        s.close()
        assert run(open_session, "select 1") == ("ok", [["1"]])
        assert metrics(gw)["jitgate_config_reload_failures_total"] == 2
        open_session.close()
    finally:
        assert gw.stop() == 0
        gw.cleanup()


# -- 5. SIGTERM with sessions open ------------------------------------------------------------

def test_sigterm_ends_idle_sessions_at_once_and_lets_a_statement_finish(pg, tmp_path):
    pg.sql("DROP TABLE IF EXISTS sigterm_txn; CREATE TABLE sigterm_txn (n int); "
           "GRANT ALL ON sigterm_txn TO app", db="kb")
    gw = Gateway(pg, tls=False, extra_yaml=recorded_yaml(tmp_path, "strict") +
                 "timeouts: { shutdown_grace: 60s }\n").start()
    try:
        idle, in_txn, busy = session(gw), session(gw), session(gw)
        assert run(idle, "select 'fault-term-idle'")[0] == "ok"
        assert run(in_txn, "begin")[0] == "ok"
        assert run(in_txn, "insert into sigterm_txn values (1) -- fault-term-txn")[0] == "ok"
        busy.sendall(pgwire.query(b"select 'fault-term-busy', pg_sleep(3)"))
        assert wait_for(lambda: backend_running(pg, "fault-term-busy"))

        start = time.monotonic()
        gw.signal(signal.SIGTERM)
        for s in (idle, in_txn):
            fields = unsolicited_error(s)
            assert fields and fields["S"] == "FATAL" and fields["C"] == "57P01", fields
            assert fields["M"] == SHUTDOWN
        assert time.monotonic() - start < 30  # at once, far inside the 60 s grace

        # The statement in flight finishes, and the session ends at its next idle point.
        busy.settimeout(60)
        msgs = pgwire.read_messages(busy, limit=100000)  # up to the close
        types = b"".join(t for t, _ in msgs)
        assert types == b"TDCZE", msgs
        assert pgwire_row(msgs[1][1]) == ["fault-term-busy", ""]
        fields = pgwire.error_fields(msgs[-1][1])
        assert fields["S"] == "FATAL" and fields["C"] == "57P01", fields
        for s in (idle, in_txn, busy):
            s.close()
        assert gw.proc.wait(timeout=50) == 0
        assert time.monotonic() - start < 50
        assert pg.sql("select count(*) from sigterm_txn", db="kb").strip() == "0"
        assert "ending 3 sessions with 57P01 at their next idle point" in gw.log_text()
        for marker in ("fault-term-idle", "fault-term-txn", "fault-term-busy"):
            assert session_end(gw, marker)["reason"] == SHUTDOWN, marker
        r = cli(gw, "audit", "verify")
        assert r.returncode == 0 and "audit log OK" in r.stdout, r.stdout + r.stderr
    finally:
        gw.cleanup()


def test_sigterm_cancels_a_statement_still_running_after_the_grace(pg, tmp_path):
    gw = Gateway(pg, tls=False, extra_yaml=recorded_yaml(tmp_path) +
                 "timeouts: { shutdown_grace: 2s }\n").start()
    try:
        busy = session(gw)
        busy.sendall(pgwire.query(b"select 'fault-grace-busy', pg_sleep(300)"))
        assert wait_for(lambda: backend_running(pg, "fault-grace-busy"))
        start = time.monotonic()
        gw.signal(signal.SIGTERM)
        kind, fields = answer(busy)
        assert kind == "fatal" and fields["C"] == "57P01" and fields["M"] == SHUTDOWN, fields
        busy.close()
        # Grace, the 5 s allowed for sessions to end, the recorder's close: well under 40 s.
        assert gw.proc.wait(timeout=40) == 0
        assert time.monotonic() - start < 40
        # The statement was cancelled upstream, not left running for its 300 s.
        assert wait_for(lambda: not backend_running(pg, "fault-grace-busy"), timeout=20)
        assert "shutdown grace period over: ending 1 sessions" in gw.log_text()
        assert "cancelling the statement still running upstream" in gw.log_text()
        assert session_end(gw, "fault-grace-busy")["reason"] == SHUTDOWN
    finally:
        gw.cleanup()
