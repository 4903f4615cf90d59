"""The questions an auditor asks of the log, answered through the real binary: one row per
psycopg execution, bind parameters decoded by type, one statement replayed, refused logins and
sessions found by user, refused statements recorded as refused, --since/--table as documented,
progress on long walks."""
import json
import re
import subprocess
import uuid

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys

POLICIES = """policies:
  - id: alice-reads
    reason: alice reads the knowledge base
    match: { subjects: [alice], resource: kb }
    allow: [select, session]
"""


@pytest.fixture(scope="module")
def gw(pg, tmp_path_factory):
    d = tmp_path_factory.mktemp("answers")
    keys = make_keys(d / "keys")
    yaml = f"""store: sqlite://{d}/state.db
audit:
  dir: {d}/log
  durability: strict
  raw_payloads: encrypted
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
masking:
  key_file: {keys}/mask.key
"""
    g = Gateway(pg, extra_yaml=yaml, policies=POLICIES, resources=[
        {"name": "kb", "documents": "{ table: public.documents, id_column: doc_id }"}]).start()
    g.keys = keys
    yield g
    g.cleanup()


def cli(gw, *args):
    return subprocess.run([str(JITGATE), *args, "--config", str(gw.config)], capture_output=True,
                          text=True, timeout=60)


def search(gw, *args):
    r = cli(gw, "audit", "search", *args, "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def last_session(gw):
    return re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())[-1]


def test_a_psycopg_statement_is_one_search_row_and_replays_without_placeholders(gw):
    with psycopg.connect(gw.dsn()) as conn:
        assert conn.execute("select title from documents where doc_id = %s", [7]).fetchall() == \
            [("doc 7",)]
    sid = last_session(gw)
    hits = search(gw, "--session", sid, "--contains", "where doc_id")
    assert len(hits) == 1, hits  # the Parse and the Bind are one execution
    assert hits[0]["kind"] == "select" and hits[0]["decision"] == "allow", hits
    r = cli(gw, "replay", sid)
    assert r.returncode == 0, r.stderr
    assert not re.search(r"^\s+\? ", r.stdout, re.M), r.stdout
    assert "select allow" in r.stdout, r.stdout


def test_binary_parameters_replay_decoded_by_type(gw):
    u = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    with psycopg.connect(gw.dsn()) as conn:
        conn.execute("select %b::int4, %b::float8, %b::bool, %b::text, %b::uuid, %b::bytea",
                     [42, 2.5, True, "héllo", u, b"\xde\xad"]).fetchall()
    sid = last_session(gw)
    r = cli(gw, "replay", sid, "--raw", "--key-file", str(gw.keys / "raw.key"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for shown in ("'42'", "'2.5'", "'t'", "'héllo'", f"'{u}'", "'\\xdead'"):
        assert shown in out, (shown, out)
    assert "(binary uuid)" in out and "(binary bytea)" in out, out
    assert "(binary float8)" in out, out


def test_replay_of_session_hash_n_shows_that_statement_only(gw):
    with psycopg.connect(gw.dsn(), autocommit=True) as conn:
        conn.execute("select 'first statement'").fetchall()
        conn.execute("select 'second statement'").fetchall()
    sid = last_session(gw)
    hits = search(gw, "--session", sid, "--contains", "second statement")
    assert len(hits) == 1, hits
    r = cli(gw, "replay", f"{sid}#{hits[0]['statement']}")
    assert r.returncode == 0, r.stderr
    assert "second statement" in r.stdout and "first statement" not in r.stdout, r.stdout
    r = cli(gw, "replay", f"{sid}#9999")
    assert r.returncode == 1 and "no statement 9999" in r.stderr, r.stderr
    r = cli(gw, "replay", f"{sid}#x")
    assert r.returncode == 2 and "SESSION#N" in r.stderr, r.stderr


def test_a_refused_login_is_found_by_the_user_it_claimed(gw):
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(gw.dsn(user="mallory", password="wrong-password")).close()
    hits = search(gw, "--user", "mallory")
    assert hits and hits[0]["kind"] == "login" and hits[0]["decision"] == "deny", hits
    assert "password authentication failed" in hits[0]["text"], hits
    assert hits[0]["db_user"] == "mallory", hits


def test_a_session_refused_by_policy_is_found_by_user(gw):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gw.dsn(user="bob")).close()
    assert "42501" in str(e.value.sqlstate or "") or "denied" in str(e.value), e.value
    hits = search(gw, "--user", "bob", "--decision", "deny")
    assert hits and hits[0]["kind"] == "session", hits


def test_a_refused_extended_statement_is_one_deny_row_not_the_substitute(gw):
    with psycopg.connect(gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from documents where doc_id = %s", [1])
    sid = last_session(gw)
    hits = search(gw, "--session", sid)
    assert len(hits) == 1, hits
    assert hits[0]["decision"] == "deny", hits
    assert "delete from documents" in hits[0]["text"], hits
    assert not search(gw, "--contains", "JITGATE REFUSED")
    assert not [h for h in search(gw, "--session", sid, "--decision", "allow")]


def test_since_and_table_work_as_their_help_says(gw):
    with psycopg.connect(gw.dsn()) as conn:
        conn.execute("select title from documents where doc_id = 9").fetchall()
    sid = last_session(gw)
    for since in ("2h ago", "2h", "30m ago", "2020-01-01", "2020-01-01T00:00:00Z"):
        assert any(h["session"] == sid for h in search(gw, "--since", since, "--session", sid)), \
            since
    assert not search(gw, "--until", "2h ago", "--session", sid)
    r = cli(gw, "audit", "search", "--since", "yesterday-ish")
    assert r.returncode == 2 and "2h ago" in r.stderr, r.stderr
    for table in ("documents", "public.documents", "public.*"):
        assert search(gw, "--table", table, "--session", sid), table
    assert not search(gw, "--table", "crm.*", "--session", sid)


def test_verify_and_reindex_report_progress(gw):
    with psycopg.connect(gw.dsn()) as conn:
        conn.execute("select 1").fetchall()
    r = cli(gw, "audit", "verify", "--live", "--progress", "--public-key",
            str(gw.keys / "sign.pub"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"verify: \S+ segment \d+/\d+, \d+ record\(s\)", r.stderr), r.stderr
    r = cli(gw, "audit", "reindex", "--progress")
    assert r.returncode == 0, r.stderr
    assert re.search(r"reindex: \S+ segment \d+/\d+, \d+ record\(s\)", r.stderr), r.stderr
    r = cli(gw, "audit", "reindex")
    assert "segment" not in r.stderr  # not a terminal, no --progress: quiet
