"""Statements that act through the functions they call, row locks, two-phase commit and parser
settings, through the real binary.

The pipeline (static callers, group rag) may only `select` on resource `fn`: every statement below
is refused with 42501, and a direct connection shows that PostgreSQL did not run it. On resource
`fnw` a rule names the kinds, and the same statements run: the checks see real effects there, so
a check that sees nothing on `fn` means something. The server is this module's own, with
prepared transactions enabled, so that PREPARE TRANSACTION would succeed if it got through.
"""
import os
import subprocess as sp
from pathlib import Path

import psycopg
import pytest

from harness import JITGATE, Gateway, PgServer, wait_port

SNAPSHOT = Path(__file__).resolve().parents[1] / "policy" / "pg15_volatile_functions.txt"

# The query that generated SNAPSHOT (see its header).
PG_PROC_QUERY = r"""
SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'pg_catalog'
  AND (p.provolatile = 'v' OR p.proname LIKE '%\_to\_xml%'
       OR p.proname IN ('txid_current', 'pg_current_xact_id'))
ORDER BY 1
"""

POLICIES = """policies:
  - id: rag-read
    reason: the RAG pipeline may only read documents
    match: { groups: [rag], resource: fn }
    allow: [select]
  - id: rag-act
    reason: this resource lets the pipeline act through functions
    match: { groups: [rag], resource: fnw }
    allow: [select, sequence, notify, large-object, lock, two-phase]
"""


@pytest.fixture(scope="module")
def server():
    pg = PgServer().start()
    with open(pg.dir / "data" / "postgresql.conf", "a") as f:
        f.write("max_prepared_transactions = 4\n")
    pg.restart()
    pg.create_db("fnkb")
    pg.sql("""
        CREATE TABLE documents (doc_id int PRIMARY KEY, title text);
        INSERT INTO documents SELECT g, 'doc ' || g FROM generate_series(1, 5) g;
        CREATE TABLE secret (k text);
        INSERT INTO secret VALUES ('s3cr3t');
        CREATE SEQUENCE doc_ids;
        ALTER TABLE documents OWNER TO app; ALTER TABLE secret OWNER TO app;
        ALTER SEQUENCE doc_ids OWNER TO app;
    """, db="fnkb")
    yield pg
    pg.cleanup()


@pytest.fixture(scope="module")
def gw(server):
    gateway = Gateway(server, tls=False, policies=POLICIES,
                      resources=[{"name": "fn", "database": "fnkb"},
                                 {"name": "fnw", "database": "fnkb"}])
    # Static callers are in group rag for this gateway.
    gateway.write_config()
    text = gateway.config.read_text().replace("password_file: client_password }",
                                              "password_file: client_password, groups: [rag] }")
    gateway.config.write_text(text)
    gateway.proc = sp.Popen([str(JITGATE), "serve", "--config", str(gateway.config)],
                            stdout=open(gateway.log, "a"), stderr=sp.STDOUT)
    wait_port(gateway.port, proc=gateway.proc)
    yield gateway
    gateway.cleanup()


def direct(server, autocommit=True):
    return psycopg.connect(server.dsn("fnkb"), autocommit=autocommit)


def refused(conn, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
        conn.execute(sql)
    assert e.value.sqlstate == "42501", e.value
    return e.value


def sequence_state(server):
    return server.sql("SELECT last_value, is_called FROM doc_ids", db="fnkb")


def large_objects(server):
    return int(server.sql("SELECT count(*) FROM pg_largeobject_metadata", db="fnkb"))


def advisory_locks(server):
    return int(server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", db="fnkb"))


def prepared_xacts(server):
    return server.sql("SELECT gid FROM pg_prepared_xacts ORDER BY gid", db="fnkb").split()


@pytest.mark.parametrize("sql", [
    "SELECT nextval('doc_ids')",
    "SELECT pg_catalog.setval('doc_ids', 500)",
    "SELECT doc_id FROM documents WHERE doc_id = (SELECT nextval('doc_ids'))",
    "SELECT ('doc_ids'::regclass).nextval",
    "SELECT query_to_xml('select nextval(''doc_ids'')', true, false, '')",
])
def test_select_only_rule_never_advances_a_sequence(gw, server, sql):
    before = sequence_state(server)
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        refused(conn, sql)
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (5,)
    assert sequence_state(server) == before


def test_rule_naming_sequence_lets_a_select_advance_it(gw, server):
    with psycopg.connect(gw.dsn("fnw"), autocommit=True) as conn:
        first = conn.execute("SELECT nextval('doc_ids')").fetchone()[0]
        assert conn.execute("SELECT ('doc_ids'::regclass).nextval").fetchone() == (first + 1,)
    assert sequence_state(server).split("|")[0] == str(first + 1)


def test_select_only_rule_never_notifies_a_listener(gw, server):
    heard = []
    with direct(server) as listener, psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        listener.add_notify_handler(lambda n: heard.append(n.payload))
        listener.execute("LISTEN jobs")
        err = refused(conn, "SELECT pg_notify('jobs', 'from the pipeline')")
        assert "denied by rule default-deny" in str(err)
        assert "notify" in (err.diag.message_detail or "")
        listener.execute("SELECT pg_sleep(0.3)")
        assert heard == []
        with psycopg.connect(gw.dsn("fnw"), autocommit=True) as allowed:
            allowed.execute("SELECT pg_notify('jobs', 'allowed')")
        listener.execute("SELECT pg_sleep(0.3)")
        assert heard == ["allowed"]  # the listener would have heard the refused one


def test_select_only_rule_never_creates_a_large_object(gw, server):
    before = large_objects(server)
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        refused(conn, "SELECT lo_from_bytea(0, 'payload')")
        refused(conn, "SELECT lo_create(0)")
        refused(conn, "SELECT (7::int).lo_creat")
    assert large_objects(server) == before
    with psycopg.connect(gw.dsn("fnw"), autocommit=True) as conn:
        oid = conn.execute("SELECT lo_from_bytea(0, 'payload')").fetchone()[0]
    assert large_objects(server) == before + 1
    server.sql(f"SELECT lo_unlink({oid})", db="fnkb")


def test_select_only_rule_never_takes_an_advisory_lock(gw, server):
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        refused(conn, "SELECT pg_advisory_lock(4242)")
        refused(conn, "SELECT pg_try_advisory_lock(4242)")
        refused(conn, "SELECT (4242::bigint).pg_advisory_lock")
        assert advisory_locks(server) == 0  # while the session is still open
    with psycopg.connect(gw.dsn("fnw"), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(4242)")
        assert advisory_locks(server) == 1


def test_select_only_rule_never_locks_rows(gw, server):
    with psycopg.connect(gw.dsn("fn")) as conn:
        refused(conn, "SELECT * FROM documents WHERE doc_id = 1 FOR UPDATE")
        # The gateway's session is still inside its (failed) transaction: had the lock been
        # taken, NOWAIT would fail.
        with direct(server) as other:
            assert other.execute("SELECT doc_id FROM documents WHERE doc_id = 1 "
                                 "FOR UPDATE NOWAIT").fetchone() == (1,)
        conn.rollback()
    with psycopg.connect(gw.dsn("fnw")) as conn:
        conn.execute("SELECT * FROM documents WHERE doc_id = 1 FOR UPDATE")
        with direct(server) as other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT doc_id FROM documents WHERE doc_id = 1 FOR UPDATE NOWAIT")
        conn.rollback()


def test_select_only_rule_refuses_two_phase_commit(gw, server):
    with direct(server, autocommit=False) as owner:
        owner.execute("INSERT INTO documents VALUES (100, 'prepared')")
        owner.execute("PREPARE TRANSACTION 'ctl'")
    assert prepared_xacts(server) == ["ctl"]
    with psycopg.connect(gw.dsn("fn")) as conn:
        conn.execute("SELECT 1")
        err = refused(conn, "PREPARE TRANSACTION 'from-gw'")
        assert "two-phase" in (err.diag.message_detail or "")
        conn.rollback()
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        refused(conn, "COMMIT PREPARED 'ctl'")
        refused(conn, "ROLLBACK PREPARED 'ctl'")
    assert prepared_xacts(server) == ["ctl"]
    with psycopg.connect(gw.dsn("fnw"), autocommit=True) as conn:
        conn.execute("ROLLBACK PREPARED 'ctl'")
    assert prepared_xacts(server) == []


def test_functions_that_run_sql_text_are_refused_even_with_a_signal_inside(gw, server):
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        err = refused(conn, f"SELECT query_to_xml('select pg_terminate_backend({pid})', "
                            "true, false, '')")
        assert "builtin:sql-text" in str(err)
        refused(conn, "SELECT table_to_xml('secret', true, false, '')")
        assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)


@pytest.mark.parametrize("sql", [
    "SET client_encoding = 'GBK'",
    "SET NAMES 'GBK'",
    "SELECT set_config('client_encoding', 'GBK', false)",
])
def test_client_encoding_stays_utf8(gw, sql):
    with psycopg.connect(gw.dsn("fn"), autocommit=True) as conn:
        err = refused(conn, sql)
        assert "builtin:parser-settings" in str(err)
        assert "keep client_encoding UTF8" in (err.diag.message_detail or "")
        assert conn.execute("SHOW client_encoding").fetchone() == ("UTF8",)
        conn.execute("SET client_encoding = 'UTF8'")  # allowed: no change


@pytest.mark.parametrize("sql", [
    "SET standard_conforming_strings = off",
    "SET standard_conforming_strings TO false",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
])
def test_standard_conforming_strings_stay_on(gw, sql):
    with psycopg.connect(gw.dsn("fnw"), autocommit=True) as conn:
        err = refused(conn, sql)
        assert "builtin:parser-settings" in str(err)
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("on",)
        conn.execute("RESET standard_conforming_strings")


def test_pg_proc_snapshot_is_what_postgres_15_reports(server):
    """tests/policy/pg15_volatile_functions.txt is what function_catalog_test.cc checks the
    catalogue against; it must not drift from the real server."""
    assert server.sql("SHOW server_version_num").strip().startswith("15")
    live = server.sql(PG_PROC_QUERY).split()
    header = [line for line in SNAPSHOT.read_text().splitlines() if line.startswith("#")]
    if os.environ.get("JG_REGENERATE_PG_PROC"):
        SNAPSHOT.write_text("\n".join(header + live) + "\n")
    names = [line for line in SNAPSHOT.read_text().splitlines()
             if line and not line.startswith("#")]
    assert names == live, (f"missing from the snapshot: {sorted(set(live) - set(names))}; "
                           f"no longer in PostgreSQL: {sorted(set(names) - set(live))}")
