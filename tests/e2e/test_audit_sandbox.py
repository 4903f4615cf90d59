"""`jitgate replay SESSION --sandbox DSN`: the recorded read-only statements are re-run in a
read-only transaction on a sandbox database and compared with the recording by row hashes."""
import json
import re
import subprocess

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys


@pytest.fixture(scope="module")
def sandbox_gw(pg, tmp_path_factory):
    d = tmp_path_factory.mktemp("sandbox")
    keys = make_keys(d / "keys")
    pg.create_db("sandboxkb")
    pg.sql("""
        CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
        INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Linus', 'linus@example.org');
        CREATE TABLE notes (id int PRIMARY KEY, body text);
        ALTER TABLE customers OWNER TO app; ALTER TABLE notes OWNER TO app;
    """, db="sandboxkb")
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
    gw = Gateway(pg, resources=[{"name": "sandboxkb"}], extra_yaml=yaml).start()
    gw.keys = keys
    gw.audit_dir = d / "log"
    yield gw
    gw.cleanup()


def replay(gw, *args):
    return subprocess.run([str(JITGATE), "replay", *args, "--config", str(gw.config)],
                          capture_output=True, text=True, timeout=60)


def record_session(gw):
    with psycopg.connect(gw.dsn("sandboxkb")) as conn:
        # %t: a text-format parameter (the recording has no parameter formats, so binary-format
        # values are reported as not replayable).
        assert conn.execute("select name from customers where id = %t", [1]).fetchall() == \
            [("Ada",)]
        conn.execute("select id, email from customers order by id").fetchall()
        conn.execute("insert into notes values (%s, 'written')", [len(gw.log_text())])
        conn.execute("show server_version_num").fetchall()
    return re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())[-1]


def test_sandbox_replay_matches_raw_rows_and_skips_writes(sandbox_gw, pg):
    sid = record_session(sandbox_gw)
    dsn = pg.dsn("sandboxkb")
    notes = pg.sql("select count(*) from notes", db="sandboxkb").strip()
    r = replay(sandbox_gw, sid, "--sandbox", dsn, "--key-file",
               str(sandbox_gw.keys / "raw.key"), "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    by_text = {s["text"]: s for s in report["statements"]}
    bound = by_text["select name from customers where id = $1"]
    assert bound["outcome"] == "match" and bound["compared_with"] == "raw", bound
    emails = by_text["select id, email from customers order by id"]
    assert emails["outcome"] == "match" and emails["compared_with"] == "raw", emails
    assert emails["recorded_rows"] == 2
    assert by_text["show server_version_num"]["outcome"] == "match"
    write = [s for s in report["statements"] if s["text"].startswith("insert into notes")]
    assert write and write[0]["outcome"] == "skipped" and "read-only" in write[0]["reason"]
    # Nothing was written by the replay.
    assert pg.sql("select count(*) from notes", db="sandboxkb").strip() == notes
    # The sandbox replay is itself recorded, with raw data opened.
    r = subprocess.run([str(JITGATE), "audit", "verify", "--json", "--live", "--no-anchor",
                        "--public-key",
                        str(sandbox_gw.keys / "sign.pub"), "--dir", str(sandbox_gw.audit_dir)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    instances = json.loads(r.stdout)["instances"]
    assert any(i["instance"].startswith("replay-") and i["records"] > 0 for i in instances)


def test_without_key_parameters_are_sealed_and_masked_rows_differ(sandbox_gw, pg):
    sid = record_session(sandbox_gw)
    r = replay(sandbox_gw, sid, "--sandbox", pg.dsn("sandboxkb"))
    assert r.returncode == 1, r.stdout + r.stderr  # the masked emails differ from the database
    assert "parameters sealed, pass --key-file" in r.stdout
    assert "compared with masked rows" in r.stdout
    assert "ada@example.com" not in r.stdout


def test_changed_sandbox_data_differs_and_bad_dsn_is_an_error(sandbox_gw, pg):
    sid = record_session(sandbox_gw)
    pg.sql("UPDATE customers SET name = 'Grace' WHERE id = 1", db="sandboxkb")
    try:
        r = replay(sandbox_gw, sid, "--sandbox", pg.dsn("sandboxkb"), "--key-file",
                   str(sandbox_gw.keys / "raw.key"))
        assert r.returncode == 1, r.stdout + r.stderr
        assert "differs" in r.stdout
    finally:
        pg.sql("UPDATE customers SET name = 'Ada' WHERE id = 1", db="sandboxkb")
    r = replay(sandbox_gw, sid, "--sandbox", pg.dsn("no_such_db"))
    assert r.returncode == 2 and "sandbox" in r.stderr
