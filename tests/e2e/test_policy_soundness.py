"""The gateway decides on exactly the statement PostgreSQL runs.

Each test is a way a client could make the server read, resolve or run a statement differently
from the way the gateway classified it: encodings, string quoting, search paths, prepared
statements, protocol limits. The policy lets the caller read `public.*` only; `secret.keys` and
`app.documents` (a schema named after the upstream login role) hold what must never come back.
"""
import struct

import psycopg
import pytest

import pgwire
from harness import Gateway

SECRET = "s3cr3t-k3y-material"

POLICIES = """policies:
  - id: public-read
    reason: callers may read the public schema only
    match: { resource: sound, tables: [public.*] }
    allow: [select]
"""


@pytest.fixture(scope="module")
def sound_db(pg):
    pg.create_db("sound")
    pg.sql(f"""
        CREATE TABLE public.documents (doc_id int PRIMARY KEY, body text);
        INSERT INTO public.documents VALUES (1, 'public text');
        CREATE TABLE public.keys (k text);
        INSERT INTO public.keys VALUES ('not a secret');
        CREATE SCHEMA secret;
        CREATE TABLE secret.keys (k text);
        INSERT INTO secret.keys VALUES ('{SECRET}');
        CREATE SCHEMA app;
        CREATE TABLE app.documents (doc_id int, body text);
        INSERT INTO app.documents VALUES (1, '{SECRET}');
        GRANT USAGE ON SCHEMA secret, app TO app;
        GRANT SELECT ON ALL TABLES IN SCHEMA public, secret, app TO app;
    """, db="sound")
    return pg


@pytest.fixture(scope="module")
def gw(sound_db):
    gateway = Gateway(sound_db, tls=False, policies=POLICIES,
                      resources=[{"name": "sound", "database": "sound"}]).start()
    yield gateway
    gateway.cleanup()


def login(gw, **params):
    s = pgwire.connect(gw.port)
    msgs = pgwire.password_login(s, {"user": "alice", "database": "sound", **params},
                                 Gateway.CLIENT_PASSWORD)
    return s, msgs


def simple(s, sql):
    """Sends one simple Query (text or bytes); returns the messages up to ReadyForQuery."""
    data = sql if isinstance(sql, bytes) else sql.encode()
    s.sendall(pgwire.message(b"Q", data + b"\0"))
    return pgwire.read_messages(s, until={b"Z"}, limit=10000)


def errors(msgs):
    return [pgwire.error_fields(p) for t, p in msgs if t == b"E"]


def leaked(msgs):
    return any(SECRET.encode() in p for t, p in msgs if t == b"D")


def parse(name, sql):
    return pgwire.message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" +
                          struct.pack("!H", 0))


def bind(portal, statement):
    return pgwire.message(b"B", portal.encode() + b"\0" + statement.encode() + b"\0" +
                          struct.pack("!HHH", 0, 0, 0))


def execute(portal=""):
    return pgwire.message(b"E", portal.encode() + b"\0" + struct.pack("!i", 0))


SYNC = pgwire.message(b"S")


# 1. Client encoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["GBK", "SJIS", "BIG5", "GB18030", "LATIN1"])
def test_startup_client_encoding_other_than_utf8_is_refused(gw, encoding):
    s, msgs = login(gw, client_encoding=encoding)
    err = errors(msgs)
    assert err and err[0]["S"] == "FATAL" and err[0]["C"] == "22023", msgs
    assert "UTF8" in err[0]["M"]


def test_psql_with_pgclientencoding_gbk_is_told_to_use_utf8(gw):
    import subprocess
    from harness import PSQL
    env = dict(gw.env(db="sound"), PGCLIENTENCODING="GBK")
    r = subprocess.run([PSQL, "-X", "-At", "-c", "select 1"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert "client_encoding" in r.stderr and "UTF8" in r.stderr, r.stderr


def test_gbk_backslash_smuggling_reads_nothing_in_a_utf8_session(gw):
    """The GBK attack string sent raw: the server reads it as UTF8, as the gateway does."""
    s, msgs = login(gw, client_encoding="UTF8")
    assert msgs[-1][0] == b"Z", msgs
    attack = (b"SELECT E'\x95\\' , (SELECT k FROM secret.keys) AS leaked --' AS y "
              b"FROM public.documents")
    out = simple(s, attack)
    assert not leaked(out), out
    assert errors(out), out


def test_set_client_encoding_to_gbk_never_lets_a_statement_be_misread(gw):
    s, msgs = login(gw)
    out = simple(s, "SET client_encoding = 'GBK'")
    assert errors(out), out
    attack = (b"SELECT E'\x95\\' , (SELECT k FROM secret.keys) AS leaked --' AS y "
              b"FROM public.documents")
    try:
        after = simple(s, attack)
    except OSError:
        after = []
    assert not leaked(after), after


# 2. standard_conforming_strings ---------------------------------------------------------------

@pytest.mark.parametrize("change", [
    "SET standard_conforming_strings = off",
    "SET standard_conforming_strings TO false",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
])
def test_turning_standard_conforming_strings_off_never_lets_a_quote_be_smuggled(gw, change):
    s, _ = login(gw)
    out = simple(s, change)
    assert errors(out), out
    try:
        after = simple(s, "SELECT '\\' , (SELECT k FROM secret.keys) AS leaked --' "
                          "FROM public.documents")
    except OSError:
        after = []
    assert not leaked(after), after


# 3. search_path -------------------------------------------------------------------------------

def test_startup_search_path_is_the_one_names_resolve_against(gw):
    s, msgs = login(gw, search_path="secret, public")
    assert msgs[-1][0] == b"Z", msgs
    out = simple(s, "SELECT k FROM keys")
    assert not leaked(out), out
    assert errors(out)[0]["C"] == "42501", out
    assert "secret.keys" in errors(out)[0].get("D", ""), out


def test_user_schema_on_the_path_is_resolved_to_the_login_role(gw):
    """With "$user" on the path, an unqualified name may be the login role's own schema."""
    s, msgs = login(gw, search_path='"$user", public')
    assert msgs[-1][0] == b"Z", msgs
    out = simple(s, "SELECT body FROM documents")
    assert not leaked(out), out
    assert errors(out)[0]["C"] == "42501", out


def test_default_search_path_is_pinned_to_public(gw):
    s, _ = login(gw)
    out = simple(s, "SELECT body FROM documents")
    assert not errors(out), out
    assert not leaked(out), out
    assert simple(s, "SHOW search_path")[1][1].endswith(b"public"), "pinned path"


def test_protocol_statement_prepared_before_a_search_path_change_is_decided_again(gw):
    s, _ = login(gw)
    s.sendall(parse("s1", "select k from keys") + bind("", "s1") + execute() + SYNC)
    first = pgwire.read_messages(s, until={b"Z"})
    assert [t for t, _ in first] == [b"1", b"2", b"D", b"C", b"Z"], first
    assert not errors(simple(s, "SET search_path = secret, public"))
    s.sendall(bind("", "s1") + execute() + SYNC)
    out = pgwire.read_messages(s, until={b"Z"})
    assert not leaked(out), out
    err = errors(out)
    assert err and err[0]["C"] == "42501" and "decided again" in err[0]["M"], out


def test_sql_prepared_statement_executed_after_a_search_path_change_is_decided_again(gw):
    s, _ = login(gw)
    assert not errors(simple(s, "PREPARE p AS SELECT k FROM keys"))
    assert not leaked(simple(s, "EXECUTE p"))
    assert not errors(simple(s, "SET search_path = secret, public"))
    out = simple(s, "EXECUTE p")
    assert not leaked(out), out
    assert errors(out)[0]["C"] == "42501", out


def test_search_path_set_locally_and_rolled_back_still_counts(gw):
    s, _ = login(gw)
    simple(s, "BEGIN")
    simple(s, "SET LOCAL search_path = secret, public")
    simple(s, "ROLLBACK")
    # The server is back on public; the gateway keeps secret as a candidate (never unsafe).
    out = simple(s, "SELECT k FROM keys")
    assert errors(out)[0]["C"] == "42501", out


def test_refused_batch_leaves_no_prepared_statement_behind(gw):
    s, _ = login(gw)
    out = simple(s, "PREPARE p4 AS SELECT 1; DELETE FROM public.documents")
    assert errors(out)[0]["C"] == "42501", out
    out = simple(s, "EXECUTE p4")
    err = errors(out)[0]
    assert err["C"] == "42501" and "did not see" in err["M"], out


# 4. Bounded state -----------------------------------------------------------------------------

def test_unknown_statement_and_portal_are_refused_by_the_gateway(gw):
    s, _ = login(gw)
    s.sendall(bind("", "never-prepared") + execute() + SYNC)
    out = pgwire.read_messages(s, until={b"Z"})
    err = errors(out)
    assert len(err) == 1 and err[0]["C"] == "26000", out
    s.sendall(execute("no-such-portal") + SYNC)
    err = errors(pgwire.read_messages(s, until={b"Z"}))
    assert len(err) == 1 and err[0]["C"] == "34000", err
    assert simple(s, "SELECT 1")[-1][0] == b"Z"


def test_prepared_statements_past_the_limit_are_refused_not_forgotten(sound_db):
    gateway = Gateway(sound_db, tls=False, policies=POLICIES,
                      resources=[{"name": "sound", "database": "sound"}],
                      extra_yaml="limits: { max_prepared_statements: 5, max_portals: 3 }\n")
    gateway.start()
    try:
        s, _ = login(gateway)
        s.sendall(b"".join(parse(f"s{i}", "select 1") for i in range(5)) + SYNC)
        assert not errors(pgwire.read_messages(s, until={b"Z"}))
        s.sendall(parse("s5", "select 1") + SYNC)
        err = errors(pgwire.read_messages(s, until={b"Z"}))
        assert err and err[0]["C"] == "54000" and "limit 5" in err[0]["M"], err
        # The first statement is still known and runs.
        s.sendall(bind("", "s0") + execute() + SYNC)
        out = pgwire.read_messages(s, until={b"Z"})
        assert [t for t, _ in out] == [b"2", b"D", b"C", b"Z"], out
        simple(s, "BEGIN")
        s.sendall(b"".join(bind(f"p{i}", "s0") for i in range(3)) + SYNC)
        assert not errors(pgwire.read_messages(s, until={b"Z"}))
        s.sendall(bind("p3", "s0") + SYNC)
        err = errors(pgwire.read_messages(s, until={b"Z"}))
        assert err and err[0]["C"] == "54000", err
        # SQL-level prepared statements have the same bound.
        simple(s, "ROLLBACK")
        for i in range(5):
            assert not errors(simple(s, f"PREPARE q{i} AS SELECT 1"))
        out = simple(s, "PREPARE q5 AS SELECT 1")
        assert errors(out)[0]["C"] == "54000", out
        assert not errors(simple(s, "EXECUTE q0"))
    finally:
        gateway.cleanup()


# 7. Protocol limits ---------------------------------------------------------------------------

def test_statement_with_forty_thousand_parameters_runs(gw):
    values = list(range(40000))
    sql = "SELECT count(*) FROM unnest(ARRAY[" + ",".join(["%s::int"] * len(values)) + "])"
    with psycopg.connect(gw.dsn(db="sound")) as conn:
        assert conn.execute(sql, values).fetchone()[0] == 40000
