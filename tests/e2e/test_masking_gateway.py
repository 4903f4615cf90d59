"""Masking through the gateway: column rules and detectors, every result format, fail closed."""
import os

import psycopg
import pytest

from harness import Gateway


def masking_yaml(key_file):
    return f"""masking:
  key_file: {key_file}
  strategy: redact
  columns:
    - {{ table: public.mcustomers, column: email, strategy: tokenize }}
    - {{ table: public.mcustomers, column: card, strategy: partial, keep_last: 4 }}
    - {{ table: public.mcustomers, column: ssn, strategy: "null" }}
    - {{ table: public.mcustomers, column: id, strategy: hash }}
"""


@pytest.fixture(scope="module")
def mask_gw(pg, tmp_path_factory):
    pg.sql("""
      CREATE TABLE IF NOT EXISTS mcustomers (id int PRIMARY KEY, name text, email text UNIQUE,
        card text, ssn text, notes text, profile jsonb, tags text[]);
      TRUNCATE mcustomers;
      INSERT INTO mcustomers VALUES
        (1, 'Ada', 'ada@example.com', '4111 1111 1111 1111', '123-45-6789',
         'call +1 415 555 0132 or mail ada.l@example.org',
         '{"contact": {"email": "ada@example.com", "note": "ok"}, "n": 1}',
         ARRAY['vip', 'ada@example.com']),
        (2, 'Linus', 'linus@example.org', '5500 0000 0000 0004', '219-09-9999', 'no pii here',
         '{"a": [1, 2]}', ARRAY['plain']);
      ALTER TABLE mcustomers OWNER TO app;
    """, db="kb")
    d = tmp_path_factory.mktemp("maskkey")
    key = d / "mask.key"
    key.write_bytes(os.urandom(32))
    os.chmod(key, 0o600)
    gw = Gateway(pg, extra_yaml=masking_yaml(key)).start()
    yield gw
    gw.cleanup()


def rows(gw, sql, binary=False, prepare=None):
    with psycopg.connect(gw.dsn()) as conn:
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql, prepare=prepare)
            return cur.fetchall()


@pytest.mark.parametrize("binary", [False, True])
def test_column_rules_and_detectors(mask_gw, binary):
    (r,) = rows(mask_gw, "select name, email, card, ssn, notes from mcustomers where id = 1",
                binary=binary)
    name, email, card, ssn, notes = r
    assert name == "Ada"
    assert email.startswith("tok_") and "ada" not in email
    assert card.endswith("1111") and "4111" not in card
    assert ssn is None
    assert "+1 415 555 0132" not in notes and "ada.l@example.org" not in notes
    assert "[EMAIL]" in notes and "[PHONE]" in notes


def test_tokenization_is_stable_across_sessions(mask_gw):
    a = rows(mask_gw, "select email from mcustomers order by id")
    b = rows(mask_gw, "select email from mcustomers order by id", binary=True)
    assert a == b and a[0] != a[1]


def test_non_text_column_rule(mask_gw):
    # A hash rule on an int column: text format gets a string, binary format gets NULL.
    (t,) = rows(mask_gw, "select id from mcustomers where name = 'Ada'")
    assert isinstance(t[0], str) and t[0] != "1"
    (b,) = rows(mask_gw, "select id from mcustomers where name = 'Ada'", binary=True)
    assert b[0] is None


@pytest.mark.parametrize("binary", [False, True])
def test_jsonb_and_text_array(mask_gw, binary):
    (r,) = rows(mask_gw, "select profile, tags from mcustomers where id = 1", binary=binary)
    profile, tags = r
    assert profile["contact"]["email"] == "[EMAIL]" and profile["contact"]["note"] == "ok"
    assert profile["n"] == 1
    assert tags == ["vip", "[EMAIL]"]


def test_prepared_and_server_side_cursor(mask_gw):
    with psycopg.connect(mask_gw.dsn()) as conn:
        for _ in range(3):
            (e,) = conn.execute("select email from mcustomers where id = %s", [2],
                                prepare=True).fetchone()
            assert e.startswith("tok_")
        with conn.cursor(name="c") as cur:
            cur.itersize = 1
            cur.execute("select notes from mcustomers order by id")
            assert [r[0] for r in cur][1] == "no pii here"


def test_copy_to_stdout_masked(mask_gw):
    with psycopg.connect(mask_gw.dsn()) as conn:
        with conn.cursor() as cur:
            out = b""
            with cur.copy("copy (select name, notes from mcustomers order by id) to stdout") as cp:
                for chunk in cp:
                    out += bytes(chunk)
            assert b"ada.l@example.org" not in out and b"[EMAIL]" in out
            out = b""
            with cur.copy("copy (select email from mcustomers) to stdout with (format csv)") as cp:
                for chunk in cp:
                    out += bytes(chunk)
            assert b"@example" not in out
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                with cur.copy("copy mcustomers to stdout with (format binary)") as cp:
                    for _ in cp:
                        pass
            assert "binary COPY" in str(e.value)


def test_unique_violation_detail_is_masked(mask_gw):
    with psycopg.connect(mask_gw.dsn()) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation) as e:
            conn.execute("insert into mcustomers (id, name, email) values (3, 'X', 'ada@example.com')")
        assert "ada@example.com" not in str(e.value)
        assert "ada@example.com" not in (e.value.diag.message_detail or "")
        assert "[EMAIL]" in (e.value.diag.message_detail or "")


def test_masking_failure_fails_closed(mask_gw):
    # More matches in one value than the engine will process: masking fails, and the row is
    # withheld with a clear error instead of passing through.
    bomb = "select 'safe' union all select repeat('a@b.co ', 300000)"
    with psycopg.connect(mask_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DataException) as e:
            conn.execute(bomb).fetchall()
        assert "masking failed" in str(e.value) and "withheld" in str(e.value)
        assert "a@b.co" not in str(e.value)
        assert conn.execute("select 'still usable'").fetchone() == ("still usable",)
    with psycopg.connect(mask_gw.dsn()) as conn:
        with pytest.raises(psycopg.errors.DataException):
            conn.execute(bomb).fetchall()
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
    assert "masking failed" in mask_gw.log_text()


def test_notification_payload_goes_through_the_detectors(mask_gw):
    """A NOTIFY payload a query built from a column is masked like a cell."""
    got = []
    with psycopg.connect(mask_gw.dsn(), autocommit=True) as conn:
        conn.add_notify_handler(got.append)
        conn.execute("LISTEN jg_leak")
        conn.execute("SELECT pg_notify('jg_leak', notes) FROM mcustomers WHERE id = 1")
        conn.execute("SELECT 1")
    assert len(got) == 1, got
    assert "415 555 0132" not in got[0].payload and "ada.l@example.org" not in got[0].payload
    assert got[0].payload.startswith("call ")


def test_reported_setting_goes_through_the_detectors(mask_gw):
    """set_config('application_name', email) reaches the client as a masked ParameterStatus."""
    with psycopg.connect(mask_gw.dsn(), autocommit=True) as conn:
        conn.execute("SELECT set_config('application_name', notes, false) "
                     "FROM mcustomers WHERE id = 1")
        reported = conn.info.parameter_status("application_name")
    assert reported is not None
    assert "ada.l@example.org" not in reported and "415 555 0132" not in reported


@pytest.mark.parametrize("binary", [False, True])
def test_values_the_gateway_does_not_decode_are_scanned_as_bytes(mask_gw, binary):
    """bytea, records, tsvector and arrays of other types carry text too: a detector match
    makes the whole value NULL, in either format."""
    (r,) = rows(mask_gw, "select convert_to(notes, 'UTF8'), row(id, notes), "
                         "to_tsvector('simple', notes), array[row(notes)] from mcustomers "
                         "where id = 1", binary=binary)
    assert r == (None, None, None, None), r
    (clean,) = rows(mask_gw, "select convert_to(notes, 'UTF8'), row(name, notes), row(id, notes) "
                             "from mcustomers where id = 2", binary=binary)
    assert clean[0] is not None and clean[1] is not None
    # id is under a hash rule: a record computed from it is masked whatever its content (a
    # record is not text, so it becomes NULL).
    assert clean[2] is None
