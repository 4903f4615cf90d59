"""Session recording through the gateway: strict durability, search, verify, replay (masked and
raw), and no secrets in the log or the index."""
import json
import os
import subprocess

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys


@pytest.fixture(scope="module")
def audit_gw(pg, tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
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
    gw = Gateway(pg, extra_yaml=yaml, resources=[
        {"name": "kb", "documents": "{ table: public.documents, id_column: doc_id }"}]).start()
    gw.audit_dir = d / "log"
    gw.keys = keys
    gw.store = f"sqlite://{d}/state.db"
    yield gw
    gw.cleanup()


def cli(gw, *args):
    return subprocess.run([str(JITGATE), *args, "--config", str(gw.config)], capture_output=True,
                          text=True, timeout=60)


def run_session(gw):
    with psycopg.connect(gw.dsn(application_name="rag-retriever")) as conn:
        rows = conn.execute("select doc_id, title from documents where doc_id = %s", [42]).fetchall()
        assert rows == [(42, "doc 42")]
        conn.execute("select name, email from customers order by id").fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from no_such_table")
    return gw.log_text().split("[")[-1].split("]")[0]


def session_ids(gw):
    import re
    return re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())


def test_search_verify_and_replay(audit_gw):
    run_session(audit_gw)
    sid = session_ids(audit_gw)[-1]
    # Search by user, table, text and session.
    for args in (["--user", "alice"], ["--table", "public.customers"], ["--contains", "doc_id"],
                 ["--session", sid], ["--document", "42"], ["--kind", "select"]):
        r = cli(audit_gw, "audit", "search", *args, "--json")
        assert r.returncode == 0, r.stderr
        hits = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        assert any(h.get("session") == sid or h.get("session_id") == sid for h in hits), (args, r.stdout)
    # The chain and signatures verify.
    r = cli(audit_gw, "audit", "verify", "--live", "--public-key", str(audit_gw.keys / "sign.pub"))
    assert r.returncode == 0, r.stdout + r.stderr
    # Replay shows the statements, the bind parameter and masked rows.
    r = cli(audit_gw, "replay", sid)
    assert r.returncode == 0, r.stderr
    assert "select doc_id, title from documents" in r.stdout
    assert "ada@example.com" not in r.stdout  # masked as the client saw it
    assert "no_such_table" in r.stdout
    # Raw replay with the key shows what came back before masking, and is itself recorded.
    r = cli(audit_gw, "replay", sid, "--raw", "--reason", "incident 12", "--key-file",
            str(audit_gw.keys / "raw.key"))
    assert r.returncode == 0, r.stderr
    assert "ada@example.com" in r.stdout
    assert "42" in r.stdout
    # The raw replay is a search hit of kind replay that carries its reason.
    r = cli(audit_gw, "audit", "search", "--kind", "replay", "--json")
    replays = [json.loads(l)["text"] for l in r.stdout.splitlines() if l.strip()]
    assert f"replay {sid} --raw (reason: incident 12)" in replays, r.stdout + r.stderr


def test_mcp_search_flags_leave_sql_statements_out(audit_gw):
    run_session(audit_gw)
    sid = session_ids(audit_gw)[-1]
    r = cli(audit_gw, "audit", "search", "--session", sid, "--json")
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    for args in (["--tool", "*"], ["--rpc-method", "tools/call"], ["--protocol", "mcp"]):
        r = cli(audit_gw, "audit", "search", "--session", sid, *args, "--json")
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.strip() == "", (args, r.stdout)
    r = cli(audit_gw, "audit", "search", "--protocol", "ftp")
    assert r.returncode != 0


def test_document_lineage_only_names_returned_documents(audit_gw):
    run_session(audit_gw)
    r = cli(audit_gw, "audit", "search", "--document", "43", "--json")
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout
    with psycopg.connect(audit_gw.dsn()) as conn:
        conn.execute("select title, doc_id from documents where doc_id in (43, 44)").fetchall()
    sid = session_ids(audit_gw)[-1]
    r = cli(audit_gw, "audit", "search", "--document", "44", "--json")
    hits = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    assert any(h.get("session") == sid or h.get("session_id") == sid for h in hits), r.stdout


def test_no_secrets_in_log_or_index(audit_gw):
    run_session(audit_gw)
    blob = b""
    for root, _, files in os.walk(audit_gw.audit_dir):
        for f in files:
            blob += open(os.path.join(root, f), "rb").read()
    db = audit_gw.store.replace("sqlite://", "")
    blob += open(db, "rb").read()
    for secret in (Gateway.CLIENT_PASSWORD, audit_gw.pg.APP_PASSWORD):
        assert secret.encode() not in blob


def test_tampering_is_detected(audit_gw, tmp_path):
    import shutil
    run_session(audit_gw)
    copy = tmp_path / "log"
    shutil.copytree(audit_gw.audit_dir, copy)
    segs = sorted(p for p in copy.rglob("*.seg"))
    assert segs
    data = bytearray(segs[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    segs[0].write_bytes(bytes(data))
    r = subprocess.run([str(JITGATE), "audit", "verify", "--dir", str(copy), "--no-anchor",
                        "--live", "--public-key", str(audit_gw.keys / "sign.pub")],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr


def test_invalid_utf8_from_a_client_cannot_break_the_log(pg, tmp_path):
    """A client controls statement text: bytes that are not UTF-8 must not make a record
    unparseable (that would let any client corrupt the audit trail)."""
    import pgwire
    keys = make_keys(tmp_path / "keys")
    gw = Gateway(pg, tls=False, extra_yaml=f"""audit:
  dir: {tmp_path}/log
  durability: strict
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
""").start()
    try:
        s = pgwire.connect(gw.port)
        assert pgwire.password_login(s, {"user": "alice", "database": "kb",
                                         "application_name": "x"},
                                     Gateway.CLIENT_PASSWORD)[-1][0] == b"Z"
        s.sendall(pgwire.message(b"Q", b"select '\xff\xfe\xc3' as junk\0"))
        msgs = pgwire.read_messages(s, until={b"Z"})
        assert any(t == b"E" for t, _ in msgs)  # PostgreSQL refuses the bytes itself
        s.sendall(pgwire.message(b"X"))
        s.close()
    finally:
        gw.cleanup()
    r = subprocess.run([str(JITGATE), "audit", "verify", "--dir", str(tmp_path / "log"),
                        "--no-anchor", "--public-key", str(keys / "sign.pub")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pipelined_results_are_credited_to_their_statements(audit_gw):
    """In pipeline mode every statement is sent before any result comes back: each result and
    each error is still recorded against the statement (bind) it answers."""
    with psycopg.connect(audit_gw.dsn(application_name="pipeline-check")) as conn:
        with conn.pipeline():
            c1 = conn.execute("select %s::text as first", ["alpha"])
            c2 = conn.execute("select %s::text as second", ["beta"])
            c3 = conn.execute("select %s::text || 'x' as third", ["gamma"])
        assert c1.fetchone() == ("alpha",) and c2.fetchone() == ("beta",)
        assert c3.fetchone() == ("gammax",)
    sid = session_ids(audit_gw)[-1]
    r = cli(audit_gw, "replay", sid, "--format", "json")
    assert r.returncode == 0, r.stderr
    records = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    by_stmt = {}
    for x in records:
        if x["type"] == "result_rows":
            by_stmt.setdefault(x["stmt"], []).extend(x["rows"])
    binds = {x["stmt"]: x for x in records if x["type"] == "statement"
             and x.get("protocol") == "bind"}
    seen = {}
    for stmt_id, rows in by_stmt.items():
        text = binds[stmt_id]["text"] if stmt_id in binds else ""
        seen[text] = rows
    assert seen.get("select $1::text as first") == [["alpha"]], seen
    assert seen.get("select $1::text as second") == [["beta"]], seen
    assert seen.get("select $1::text || 'x' as third") == [["gammax"]], seen
