"""psycopg (libpq) features through the gateway."""
import threading
import time

import psycopg
import pytest


def test_server_side_binding_and_types(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        row = conn.execute("select %s::int + %s, %s::text, %s::jsonb, %s::int[]",
                           [40, 2, "héllo", '{"k": [1, 2]}', [1, None, 3]]).fetchone()
        assert row == (42, "héllo", {"k": [1, 2]}, [1, None, 3])


def test_binary_cursor(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        with conn.cursor(binary=True) as cur:
            cur.execute("select doc_id, title, 1.25::float8, true from documents "
                        "where doc_id = %s", [7])
            assert cur.fetchone() == (7, "doc 7", 1.25, True)


def test_prepared_statements(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        for i in range(1, 12):  # prepare_threshold is 5 by default; force with prepare=True too
            assert conn.execute("select title from documents where doc_id = %s", [i],
                                prepare=True).fetchone() == (f"doc {i}",)


def test_pipeline_mode(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        with conn.pipeline():
            cursors = [conn.execute("select %s::int * 2", [i]) for i in range(50)]
        assert [c.fetchone()[0] for c in cursors] == [i * 2 for i in range(50)]


def test_pipeline_error_then_recovery(pg):
    """An upstream error inside a pipeline: the server skips to Sync and the session recovers.

    Checked on the wire: psycopg 3.1's pipeline exit races with late results on any server."""
    import struct
    import pgwire
    from harness import Gateway
    gw = Gateway(pg, tls=False).start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        batch = b""
        for sql in ("select 1", "select 1 / (random() * 0)::int", "select 2"):
            batch += pgwire.message(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))
            batch += pgwire.message(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
            batch += pgwire.message(b"D", b"P\0")
            batch += pgwire.message(b"E", b"\0" + struct.pack("!i", 0))
        s.sendall(batch + pgwire.message(b"S"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        types = [t for t, _ in msgs]
        # select 1 completes; the division fails at execution; select 2 is skipped up to Sync.
        assert types == [b"1", b"2", b"T", b"D", b"C", b"1", b"2", b"T", b"E", b"Z"], types
        assert pgwire.error_fields(msgs[-2][1])["C"] == "22012"
        s.sendall(pgwire.message(b"Q", b"select 'ok'\0"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"T", b"D", b"C", b"Z"]
    finally:
        gw.cleanup()


def test_copy_via_cursor(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        conn.execute("create temp table cp (id int, body text)")
        with conn.cursor() as cur:
            with cur.copy("copy cp from stdin") as copy:
                for i in range(500):
                    copy.write_row((i, f"row {i}"))
            out = []
            with cur.copy("copy (select * from cp order by id) to stdout") as copy:
                for row in copy.rows():
                    out.append(row)
            assert len(out) == 500 and out[499] == ("499", "row 499")
            with cur.copy("copy cp to stdout (format binary)") as copy:
                copy.set_types(["int4", "text"])
                assert sum(1 for _ in copy.rows()) == 500


def test_listen_notify(gateway):
    with psycopg.connect(gateway.dsn(), autocommit=True) as listener, \
            psycopg.connect(gateway.dsn(), autocommit=True) as sender:
        listener.execute("listen jg_channel")
        sender.execute("notify jg_channel, 'payload-1'")
        # Guard against a hang: close the listener if nothing arrives in time.
        guard = threading.Timer(10, listener.cancel)
        guard.start()
        gen = listener.notifies()
        n = next(gen)
        gen.close()
        guard.cancel()
        assert (n.channel, n.payload) == ("jg_channel", "payload-1")


def test_cancel_long_query(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        def cancel_soon():
            time.sleep(1.0)
            conn.cancel()
        t = threading.Thread(target=cancel_soon)
        t.start()
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as err:
            conn.execute("select pg_sleep(30)")
        t.join()
        assert err.value.sqlstate == "57014"
        assert time.monotonic() - start < 10
        conn.rollback()
        assert conn.execute("select 1").fetchone() == (1,)


def test_transactions_and_errors(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        conn.execute("create temp table tx (id int primary key)")
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.transaction():
                conn.execute("insert into tx values (1)")
                conn.execute("insert into tx values (1)")
        assert conn.execute("select count(*) from tx").fetchone() == (0,)
        with conn.transaction():
            conn.execute("insert into tx values (2)")
        assert conn.execute("select count(*) from tx").fetchone() == (1,)


def test_server_side_cursor_with_row_limits(gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        with conn.cursor(name="named_cur") as cur:
            cur.itersize = 7
            cur.execute("select doc_id from documents order by doc_id")
            assert [r[0] for r in cur] == list(range(1, 101))


def test_notice_passes_through(gateway):
    notices = []
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("create temp table if not exists nt (x int)")
        conn.execute("create temp table if not exists nt (x int)")
    assert notices == ['relation "nt" already exists, skipping']


def test_parameter_status_and_settings(gateway):
    with psycopg.connect(gateway.dsn(application_name="rag-retriever")) as conn:
        assert conn.info.parameter_status("application_name") == "rag-retriever"
        assert conn.info.parameter_status("server_version") is not None
        conn.execute("set timezone to 'UTC'")
        assert conn.info.parameter_status("TimeZone") == "UTC"
        assert conn.info.backend_pid > 0
