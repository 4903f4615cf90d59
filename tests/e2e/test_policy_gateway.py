"""Policy decisions through the gateway with psql and psycopg."""
import subprocess

import psycopg
import pytest

from harness import PSQL, Gateway, scrape_metrics

POLICIES = """policies:
  - id: rag-read
    reason: the RAG pipeline may only read documents
    match: { groups: [rag], resource: kb }
    allow: [select, session]
  - id: no-customers
    reason: customer records are off limits to pipelines
    match: { groups: [rag], tables: [public.customers] }
    deny: [all]
"""


@pytest.fixture(scope="module")
def policy_gw(pg):
    gw = Gateway(pg, policies=POLICIES, admin=True)
    # Static callers are in group rag for this gateway.
    gw.write_config()
    text = gw.config.read_text().replace("password_file: client_password }",
                                         "password_file: client_password, groups: [rag] }")
    gw.config.write_text(text)
    import subprocess as sp
    from harness import JITGATE, wait_port
    gw.proc = sp.Popen([str(JITGATE), "serve", "--config", str(gw.config)],
                       stdout=open(gw.log, "a"), stderr=sp.STDOUT)
    wait_port(gw.port, proc=gw.proc)
    wait_port(gw.admin_port, proc=gw.proc)
    yield gw
    gw.cleanup()


def test_allowed_read(policy_gw):
    with psycopg.connect(policy_gw.dsn()) as conn:
        assert conn.execute("select title from documents where doc_id = %s", [3]).fetchone() == \
            ("doc 3",)


def test_forbidden_write_names_the_rule(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("delete from documents where doc_id = 1")
        assert e.value.sqlstate == "42501"
        assert "denied by rule default-deny" in str(e.value)
        assert "delete" in (e.value.diag.message_detail or "")
        # The session stays usable.
        assert conn.execute("select count(*) from documents").fetchone() == (100,)


def test_denied_table_names_rule_and_reason(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute('select email from "public"."CUSTOMERS" union select email from customers')
        assert "denied by rule no-customers: customer records are off limits" in str(e.value)
        assert "public.customers" in (e.value.diag.message_detail or "")


def test_extended_protocol_refused_at_parse(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update documents set title = %s where doc_id = %s", ["x", 1],
                         prepare=True)
        assert conn.execute("select title from documents where doc_id = %s", [1],
                            prepare=True).fetchone() == ("doc 1",)


def test_refusal_inside_transaction_aborts_it(policy_gw):
    with psycopg.connect(policy_gw.dsn()) as conn:
        conn.execute("select 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into documents values (999, 't', 'b')")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.execute("select 1").fetchone() == (1,)


def test_multi_statement_with_one_forbidden_part(policy_gw):
    env = policy_gw.env()
    r = subprocess.run([PSQL, "-X", "-c", "select 1; drop table documents; select 2"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "denied by rule" in r.stderr
    with psycopg.connect(policy_gw.dsn()) as conn:
        assert conn.execute("select count(*) from documents").fetchone() == (100,)


def test_unparseable_statement_is_refused_with_parser_message(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            conn.execute("selec 1")
        assert 'syntax error at or near "selec"' in str(e.value)


def test_guardrails_apply(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        for sql in ("select pg_read_file('/etc/passwd')", "set role postgres",
                    "do $$ begin perform 1; end $$",
                    "copy documents to program 'cat'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        assert conn.execute("select 1").fetchone() == (1,)


def test_pipeline_with_refused_statement_on_the_wire(pg):
    """A refused statement in a pipeline: the server skips to Sync exactly as for its own error."""
    import struct
    import pgwire
    gw = Gateway(pg, tls=False, policies=POLICIES.replace("groups: [rag], resource: kb",
                                                          "resource: kb"))
    gw.start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        def parse(sql):
            return pgwire.message(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))
        bind = pgwire.message(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
        describe = pgwire.message(b"D", b"P\0")
        execute = pgwire.message(b"E", b"\0" + struct.pack("!i", 0))
        batch = b""
        for sql in ("select 1", "delete from documents", "select 2"):
            batch += parse(sql) + bind + describe + execute
        s.sendall(batch + pgwire.message(b"S"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"1", b"2", b"T", b"D", b"C", b"E", b"Z"]
        err = pgwire.error_fields(msgs[5][1])
        assert err["C"] == "42501" and "denied by rule default-deny" in err["M"]
        assert msgs[6][1] == b"I"
        s.sendall(pgwire.message(b"Q", b"select count(*) from documents\0"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"T", b"D", b"C", b"Z"] and b"100" in msgs[1][1]
    finally:
        gw.cleanup()


def test_search_path_tracking(policy_gw):
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        conn.execute("set search_path = public")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from customers")


def test_fast_path_function_call_is_refused(pg):
    """FunctionCall names a function by OID with no SQL to classify: refused, session usable."""
    import struct
    import pgwire
    oid = int(pg.sql("select 'pg_catalog.pg_read_file(text)'::regprocedure::oid", db="kb"))
    gw = Gateway(pg, tls=False)
    gw.start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        arg = b"/etc/passwd"
        body = (struct.pack("!I", oid) + struct.pack("!hh", 1, 0) + struct.pack("!h", 1) +
                struct.pack("!i", len(arg)) + arg + struct.pack("!h", 0))
        s.sendall(pgwire.message(b"F", body))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"E", b"Z"], msgs
        err = pgwire.error_fields(msgs[0][1])
        assert err["C"] == "42501" and "fast-path function call" in err["M"]
        assert not any(b"root:" in p for _, p in msgs)
        s.sendall(pgwire.message(b"Q", b"select 'ok'\0"))
        assert [t for t, _ in pgwire.read_messages(s, until={b"Z"})] == [b"T", b"D", b"C", b"Z"]
    finally:
        gw.cleanup()


def metrics(gw):
    return scrape_metrics(gw)


def test_literal_variants_share_one_classification(policy_gw):
    """psql sends values inline: statements that differ only in literals are parsed once, and
    statements whose meaning depends on a literal are still decided on their own text."""
    before = metrics(policy_gw)
    script = "".join(f"select title from documents where doc_id = {i};\n" for i in range(1, 31))
    r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1"], env=policy_gw.env(),
                       input=script, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["doc 1", "doc 2", "doc 3"]
    after = metrics(policy_gw)
    assert after["jitgate_classifier_misses_total"] - before["jitgate_classifier_misses_total"] <= 2
    assert after["jitgate_classifier_normalized_hits_total"] - \
        before["jitgate_classifier_normalized_hits_total"] >= 29
    with psycopg.connect(policy_gw.dsn(), autocommit=True) as conn:
        assert metrics(policy_gw)["jitgate_sessions"] >= 1
        assert conn.execute("select set_config('application_name', 'rag', false)").fetchone() == \
            ("rag",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("select set_config('role', 'postgres', false)")
        assert "denied by rule" in str(e.value)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select email from customers where id = 1")
        assert conn.execute("select title from documents where doc_id = 7").fetchone() == \
            ("doc 7",)


ROW_LIMIT_POLICIES = """policies:
  - id: capped-read
    reason: pipelines read a few documents at a time
    match: { resource: kb }
    allow: [select, session]
    row_limit: 10
"""


@pytest.fixture(scope="module")
def capped_gw(pg):
    gw = Gateway(pg, policies=ROW_LIMIT_POLICIES).start()
    yield gw
    gw.cleanup()


def test_row_limit_withholds_the_rest_of_a_result(capped_gw):
    with psycopg.connect(capped_gw.dsn(), autocommit=True) as conn:
        rows = conn.execute("select doc_id from documents order by doc_id limit 10").fetchall()
        assert [r[0] for r in rows] == list(range(1, 11))
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.ProgramLimitExceeded) as e:
                conn.execute("select doc_id from documents where doc_id > %s", [0],
                             prepare=prepare).fetchall()
            assert e.value.sqlstate == "54000"
            assert "more than 10 rows, the limit set by rule capped-read" in str(e.value)
        # The session stays usable, and a count is one row.
        assert conn.execute("select count(*) from documents").fetchone() == (100,)
    with psycopg.connect(capped_gw.dsn()) as conn:
        # A cursor's FETCHes would each be a result of their own: refused under a row limit.
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            with conn.cursor(name="c1") as cur:
                cur.execute("select doc_id from documents")
                cur.fetchall()
        assert "denied by rule builtin:row-limit" in str(e.value)
    # psql (simple protocol): the error arrives after the rows within the limit.
    r = subprocess.run([PSQL, "-X", "-At", "-c", "select doc_id from documents order by doc_id"],
                       env=capped_gw.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "more than 10 rows" in r.stderr


def test_row_limit_counts_over_the_pieces_of_a_portal(pg):
    """Executing a limited statement's portal in pieces (Execute with a row count) does not
    reset the count: the piece that goes over the limit ends in 54000."""
    import struct
    import pgwire
    gw = Gateway(pg, tls=False, policies=ROW_LIMIT_POLICIES).start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        s.sendall(pgwire.message(b"Q", b"begin\0"))
        assert pgwire.read_messages(s, until={b"Z"})[-1] == (b"Z", b"T")
        sql = b"select doc_id from documents order by doc_id"
        s.sendall(pgwire.message(b"P", b"\0" + sql + b"\0" + struct.pack("!h", 0)) +
                  pgwire.message(b"B", b"c\0\0" + struct.pack("!hhh", 0, 0, 0)) +
                  pgwire.message(b"D", b"Pc\0"))
        kinds = []
        for piece in range(3):  # 4 + 4 rows pass, the third piece crosses 10
            s.sendall(pgwire.message(b"E", b"c\0" + struct.pack("!i", 4)) + pgwire.message(b"S"))
            msgs = pgwire.read_messages(s, until={b"Z"})
            kinds.append([t for t, _ in msgs])
        assert kinds[0] == [b"1", b"2", b"T", b"D", b"D", b"D", b"D", b"s", b"Z"], kinds[0]
        assert kinds[1] == [b"D", b"D", b"D", b"D", b"s", b"Z"], kinds[1]
        assert kinds[2] == [b"D", b"D", b"E", b"Z"], kinds[2]
        s.sendall(pgwire.message(b"Q", b"rollback\0"))
        assert pgwire.read_messages(s, until={b"Z"})[-1] == (b"Z", b"I")
        s.sendall(pgwire.message(b"Q", b"select count(*) from documents\0"))
        assert [t for t, _ in pgwire.read_messages(s, until={b"Z"})] == [b"T", b"D", b"C", b"Z"]
    finally:
        gw.cleanup()


def test_prepared_statement_is_decided_again_when_its_time_window_closes(pg):
    """A statement prepared inside a rule's time window cannot be executed after it closes."""
    import datetime
    import struct
    import time
    import pgwire
    now = datetime.datetime.now(datetime.timezone.utc)
    if now.second > 40:  # leave time to connect and prepare within the window
        time.sleep(61 - now.second)
        now = datetime.datetime.now(datetime.timezone.utc)
    start = now.replace(second=0, microsecond=0)
    end = start + datetime.timedelta(minutes=1)
    policies = f"""policies:
  - id: office-hours
    reason: reads only in the maintenance minute
    match: {{ resource: kb, when: {{ hours: "{start:%H:%M}-{end:%H:%M}", tz: UTC }} }}
    allow: [select, session]
"""
    gw = Gateway(pg, tls=False, policies=policies).start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        parse = pgwire.message(b"P", b"s\0select count(*) from documents\0" +
                               struct.pack("!h", 0))
        bind = pgwire.message(b"B", b"\0s\0" + struct.pack("!hhh", 0, 0, 0))
        execute = pgwire.message(b"E", b"\0" + struct.pack("!i", 0))
        s.sendall(parse + bind + execute + pgwire.message(b"S"))
        assert [t for t, _ in pgwire.read_messages(s, until={b"Z"})] == \
            [b"1", b"2", b"D", b"C", b"Z"]
        # A cursor kept open past the window, and 10,001 other statement names: neither makes
        # the gateway forget what the statement and the cursor run.
        s.sendall(pgwire.message(b"Q", b"DECLARE c CURSOR WITH HOLD FOR "
                                       b"SELECT doc_id FROM documents\0"))
        assert [t for t, _ in pgwire.read_messages(s, until={b"Z"})] == [b"C", b"Z"]
        for chunk in range(0, 10001, 1000):
            flood = b"".join(
                pgwire.message(b"P", f"n{i}\0select 1\0".encode() + struct.pack("!h", 0)) +
                pgwire.message(b"C", f"Sn{i}\0".encode())
                for i in range(chunk, min(chunk + 1000, 10001)))
            s.sendall(flood + pgwire.message(b"S"))
            msgs = pgwire.read_messages(s, until={b"Z"}, limit=5000)
            assert not [m for m in msgs if m[0] == b"E"], msgs[:3]
        wait = (end - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1
        time.sleep(max(0, wait))
        s.sendall(bind + execute + pgwire.message(b"S"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"2", b"E", b"Z"], msgs
        err = pgwire.error_fields(msgs[1][1])
        assert err["C"] == "42501", err
        assert "decided again at execution" in err["M"], err
        s.sendall(pgwire.message(b"Q", b"FETCH 5 FROM c\0"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"E", b"Z"], msgs
        assert pgwire.error_fields(msgs[0][1])["C"] == "42501"
        # The session goes on; a new statement is decided (and refused) as usual.
        s.sendall(pgwire.message(b"Q", b"select 1\0"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in msgs] == [b"E", b"Z"]
    finally:
        gw.cleanup()
