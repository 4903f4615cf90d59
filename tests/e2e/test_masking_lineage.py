"""Column rules follow data: values computed from a masked column, COPY, and error text.

Rules on crm.customers: note (tokenize), owner (redact), card (partial). Resource kb masks
computed values; kb_refuse refuses them (through_expressions: refuse); kb_allow allows only a few
functions on note (functions: [...]).
"""
import csv
import io
import json
import os
import subprocess

import psycopg
import pytest

from harness import PSQL, Gateway

NOTE1 = "Prefers blue envelopes, project Hummingbird"
NOTE2 = 'two\nlines\twith a tab, "quotes" and commas'
OWNER1 = "ada@example.com"
CARD1 = "4111 1111 1111 1111"

POLICIES = """policies:
  - { id: masked, reason: lineage test, match: { resource: kb }, allow: [all] }
  - { id: refusing, reason: lineage test, match: { resource: kb_refuse }, allow: [all],
      mask: refuse }
  - { id: listed, reason: lineage test, match: { resource: kb_allow }, allow: [all],
      mask: allowlist }
"""


def masking_yaml(key_file):
    return f"""masking:
  key_file: {key_file}
  strategy: redact
  columns:
    - {{ table: crm.customers, column: note, strategy: tokenize }}
    - {{ table: crm.customers, column: owner, strategy: redact }}
    - {{ table: crm.customers, column: card, strategy: partial, keep_last: 4 }}
  profiles:
    refuse:
      columns:
        - {{ table: crm.customers, column: note, strategy: tokenize, through_expressions: refuse }}
        - {{ table: crm.customers, column: owner, strategy: redact, through_expressions: refuse }}
    allowlist:
      columns:
        - {{ table: crm.customers, column: note, strategy: redact,
            functions: [lower, upper, length, "="] }}
"""


@pytest.fixture(scope="module")
def lin_gw(pg, tmp_path_factory):
    pg.sql(f"""
      CREATE SCHEMA IF NOT EXISTS crm AUTHORIZATION app;
      CREATE TABLE IF NOT EXISTS crm.customers (id int PRIMARY KEY, owner text, note text,
        card text, plain text);
      TRUNCATE crm.customers;
      INSERT INTO crm.customers VALUES
        (1, '{OWNER1}', '{NOTE1}', '{CARD1}', 'visible one'),
        (2, 'linus@example.org', E'two\\nlines\\twith a tab, "quotes" and commas',
         '5500 0000 0000 0004', 'visible, two');
      ALTER TABLE crm.customers OWNER TO app;
    """, db="kb")
    d = tmp_path_factory.mktemp("linkey")
    key = d / "mask.key"
    key.write_bytes(os.urandom(32))
    os.chmod(key, 0o600)
    resources = [{"name": "kb", "database": "kb"}, {"name": "kb_refuse", "database": "kb"},
                 {"name": "kb_allow", "database": "kb"}]
    gw = Gateway(pg, resources=resources, policies=POLICIES,
                 extra_yaml=masking_yaml(key)).start()
    yield gw
    gw.cleanup()


def one(gw, sql, db="kb", **kw):
    with psycopg.connect(gw.dsn(db=db), autocommit=True) as conn:
        return conn.execute(sql, **kw).fetchone()[0]


def assert_hidden(value, *secrets):
    text = value if isinstance(value, str) else json.dumps(value)
    for s in secrets:
        assert s not in text, f"{s!r} leaked in {text!r}"
        assert s.lower() not in text.lower(), f"{s!r} leaked in {text!r}"


# Finding 1, one case each: the expression and what must hold of its (masked) result.
EXPRESSIONS = [
    ("lower(note)", "tok"),
    ("note || ''", "tok"),
    ("coalesce(note, '')", "tok"),
    ("max(note)", "tok"),
    ("string_agg(note, ',')", "tok"),
    ("format('%s', note)", "tok"),
    ("note::name", "tok"),
    ("translate(owner, '@', '#')", "[OWNER]"),
]


@pytest.mark.parametrize("expr,marker", EXPRESSIONS)
@pytest.mark.parametrize("binary", [False, True])
def test_expression_over_a_ruled_column_returns_the_masked_value(lin_gw, expr, marker, binary):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        with conn.cursor(binary=binary) as cur:
            cur.execute(f"SELECT {expr} FROM crm.customers WHERE id = 1")
            (value,) = cur.fetchone()
    assert_hidden(value, NOTE1, "hummingbird", OWNER1, "example.com")
    if marker == "tok":
        assert value.startswith("tok_"), value
    else:
        assert value == marker, value


def test_union_of_a_ruled_column_is_masked(lin_gw):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        got = conn.execute("SELECT note FROM crm.customers WHERE id = 1 UNION SELECT 'x' "
                           "ORDER BY 1").fetchall()
    assert {r[0] for r in got if r[0] != "x"}, got
    for (v,) in got:
        assert_hidden(v, NOTE1)
        assert v.startswith("tok_") or v.startswith("["), v  # 'x' is masked too: same column


@pytest.mark.parametrize("expr", ["to_json(c)", "row_to_json(c)", "to_json(c.*)",
                                  "jsonb_build_object('n', c.note)"])
def test_whole_row_json_hides_every_ruled_value(lin_gw, expr):
    value = one(lin_gw, f"SELECT {expr} FROM crm.customers c WHERE id = 1")
    assert isinstance(value, dict), value  # still valid JSON
    assert_hidden(value, NOTE1, OWNER1, "4111")


def test_array_agg_masks_every_element(lin_gw):
    value = one(lin_gw, "SELECT array_agg(note ORDER BY id) FROM crm.customers")
    assert len(value) == 2 and all(v.startswith("tok_") for v in value), value


def test_a_computed_non_text_value_becomes_null(lin_gw):
    assert one(lin_gw, "SELECT length(note) FROM crm.customers WHERE id = 1") is None
    assert one(lin_gw, "SELECT length(plain) FROM crm.customers WHERE id = 1") == 11


def test_columns_not_under_a_rule_and_plain_columns_are_as_before(lin_gw):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT id, plain, upper(plain), note, card FROM crm.customers "
                           "WHERE id = 1").fetchone()
    assert row[:3] == (1, "visible one", "VISIBLE ONE")
    assert row[3].startswith("tok_") and row[4].endswith("1111") and "4111" not in row[4]
    # The same value through an expression gets the same token.
    assert one(lin_gw, "SELECT note || '' FROM crm.customers WHERE id = 1") == row[3]


def test_each_statement_of_a_query_string_is_masked_as_itself(lin_gw):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        cur = conn.execute("SELECT upper(plain) FROM crm.customers WHERE id = 1; "
                           "SELECT lower(note) FROM crm.customers WHERE id = 1")
        assert cur.fetchone() == ("VISIBLE ONE",)
        assert cur.nextset()
        (v,) = cur.fetchone()
    assert v.startswith("tok_"), v


def test_prepared_statements_and_cursors_are_masked(lin_gw):
    with psycopg.connect(lin_gw.dsn()) as conn:
        for _ in range(2):
            (v,) = conn.execute("SELECT lower(note) FROM crm.customers WHERE id = %s", [1],
                                prepare=True).fetchone()
            assert v.startswith("tok_"), v
        with conn.cursor(name="lin") as cur:
            cur.execute("SELECT note || '!' FROM crm.customers ORDER BY id")
            got = [r[0] for r in cur]
        assert all(v.startswith("tok_") for v in got), got
        conn.execute("PREPARE p AS SELECT upper(note) FROM crm.customers WHERE id = 1")
        (v,) = conn.execute("EXECUTE p").fetchone()
        assert v.startswith("tok_"), v


def test_values_sent_through_notify_and_application_name_are_masked(lin_gw):
    got = []
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        conn.add_notify_handler(got.append)
        conn.execute("LISTEN jg_lineage")
        conn.execute("SELECT pg_notify('jg_lineage', note) FROM crm.customers WHERE id = 1")
        conn.execute("SELECT set_config('application_name', lower(note), false) "
                     "FROM crm.customers WHERE id = 1")
        conn.execute("SELECT 1")
        reported = conn.info.parameter_status("application_name")
    assert len(got) == 1 and got[0].channel == "jg_lineage", got
    assert got[0].payload.startswith("tok_"), got[0].payload
    assert reported is not None and reported.startswith("tok_"), reported


def test_failing_cast_does_not_echo_the_value(lin_gw):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
            conn.execute("SELECT note::int FROM crm.customers WHERE id = 1")
        msg = str(e.value)
        assert_hidden(msg, NOTE1, "Hummingbird")
        assert "invalid input syntax for type integer" in msg and '"tok_' in msg, msg
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
            conn.execute("SELECT note::json FROM crm.customers WHERE id = 1")
        for part in (str(e.value), e.value.diag.message_detail or "",
                     e.value.diag.context or ""):
            assert_hidden(part, NOTE1, "Prefers")


@pytest.mark.parametrize("expr", [e for e, _ in EXPRESSIONS] +
                         ["to_json(c)", "row_to_json(c)", "array_agg(note)", "length(note)"])
def test_refuse_mode_refuses_every_expression(lin_gw, expr):
    with psycopg.connect(lin_gw.dsn(db="kb_refuse"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute(f"SELECT {expr} FROM crm.customers c WHERE id = 1").fetchall()
        assert "through_expressions: refuse" in str(e.value)
        assert_hidden(str(e.value), NOTE1, OWNER1)
        # The column itself is still returned, masked by its rule.
        (v,) = conn.execute("SELECT note FROM crm.customers WHERE id = 1").fetchone()
        assert v.startswith("tok_")


def test_refuse_mode_refuses_a_union(lin_gw):
    with psycopg.connect(lin_gw.dsn(db="kb_refuse"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT note FROM crm.customers UNION SELECT 'x'").fetchall()


def test_function_allowlist_refuses_other_functions(lin_gw):
    with psycopg.connect(lin_gw.dsn(db="kb_allow"), autocommit=True) as conn:
        assert conn.execute("SELECT lower(note) FROM crm.customers WHERE id = 1"
                            ).fetchone() == ("[NOTE]",)
        assert conn.execute("SELECT id FROM crm.customers WHERE note = 'nope'").fetchall() == []
        for sql in ("SELECT substr(note, 1, 1) FROM crm.customers",
                    "SELECT id FROM crm.customers WHERE substr(note, 1, 1) = 'P'",
                    "SELECT encode(convert_to(note, 'UTF8'), 'base64') FROM crm.customers"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                conn.execute(sql).fetchall()
            assert "is not allowed on crm.customers.note" in str(e.value), str(e.value)
            assert "allows: lower, upper, length, =" in str(e.value)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("SELECT substr(note, 1, 1) FROM crm.customers").fetchall()
        assert '"substr"' in str(e.value)


def copy_out(gw, sql, db="kb"):
    with psycopg.connect(gw.dsn(db=db), autocommit=True) as conn:
        with conn.cursor() as cur:
            out = b""
            with cur.copy(sql) as cp:
                for chunk in cp:
                    out += bytes(chunk)
    return out.decode()


def test_copy_table_to_stdout_applies_column_rules_in_text_format(lin_gw):
    out = copy_out(lin_gw, "COPY crm.customers TO STDOUT")
    assert_hidden(out, NOTE1, "Hummingbird", OWNER1, CARD1, "two\\nlines")
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 3, out  # two rows, each ends with one newline
    fields = [line.split("\t") for line in lines[:2]]
    assert [len(f) for f in fields] == [5, 5]
    assert fields[0][0] == "1" and fields[0][1] == "[OWNER]" and fields[0][2].startswith("tok_")
    assert fields[0][3].endswith("1111") and fields[0][4] == "visible one"


def test_copy_table_to_stdout_applies_column_rules_in_csv_format(lin_gw):
    out = copy_out(lin_gw, "COPY crm.customers TO STDOUT WITH (FORMAT csv, HEADER)")
    assert_hidden(out, NOTE1, OWNER1, CARD1, "two\nlines")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "owner", "note", "card", "plain"]
    assert rows[1][0] == "1" and rows[1][2].startswith("tok_") and rows[2][4] == "visible, two"
    out = copy_out(lin_gw, "COPY crm.customers (id, note) TO STDOUT WITH (FORMAT csv)")
    assert [r[1].startswith("tok_") for r in csv.reader(io.StringIO(out))] == [True, True]


def test_copy_query_follows_lineage(lin_gw):
    out = copy_out(lin_gw, "COPY (SELECT id, lower(note), plain FROM crm.customers ORDER BY id) "
                           "TO STDOUT")
    first = out.split("\n")[0].split("\t")
    assert first[0] == "1" and first[1].startswith("tok_") and first[2] == "visible one", out
    out = copy_out(lin_gw, "COPY (SELECT * FROM crm.customers ORDER BY id) TO STDOUT")
    first = out.split("\n")[0].split("\t")
    assert first[1] == "[OWNER]" and first[4] == "visible one", out


def test_copy_alias_named_like_a_format_keeps_the_text_format(lin_gw):
    out = copy_out(lin_gw, "COPY (SELECT card AS csv_note, note AS csv FROM crm.customers "
                           "ORDER BY id) TO STDOUT")
    assert_hidden(out, CARD1, NOTE1, "5500 0000 0000 0004")
    first = out.split("\n")[0].split("\t")
    assert len(first) == 2 and first[0].endswith("1111") and first[1].startswith("tok_"), out


def test_copy_refuses_a_table_name_that_may_denote_several_tables(lin_gw):
    with psycopg.connect(lin_gw.dsn(), autocommit=True) as conn:
        conn.execute("SET search_path = crm, public")
        with conn.cursor() as cur:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                with cur.copy("COPY customers TO STDOUT") as cp:
                    for _ in cp:
                        pass
        assert "several schemas" in str(e.value), str(e.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_refusal_in_refuse_mode(lin_gw):
    with psycopg.connect(lin_gw.dsn(db="kb_refuse"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with conn.cursor().copy("COPY (SELECT upper(note) FROM crm.customers) TO STDOUT"):
                pass


def psql(env, *args):
    r = subprocess.run([PSQL, "-X", "-v", "ON_ERROR_STOP=1", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def direct_env(pg):
    e = dict(os.environ)
    e.update({"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGDATABASE": "kb",
              "PGUSER": "app", "PGPASSWORD": pg.APP_PASSWORD, "PGSSLMODE": "require"})
    return e


@pytest.mark.parametrize("options", ["", "with (format csv)", "with (format csv, header)",
                                     "with (format csv, force_quote *)",
                                     "with (delimiter '|', null 'NULL')"])
def test_psql_copy_export_keeps_the_line_structure_of_a_direct_export(pg, lin_gw, tmp_path,
                                                                      options):
    via, direct = tmp_path / "via.out", tmp_path / "direct.out"
    table = "crm.customers"
    psql(lin_gw.env(), "-c", f"\\copy {table} to '{via}' {options}")
    psql(direct_env(pg), "-c", f"\\copy {table} to '{direct}' {options}")
    a, b = via.read_bytes(), direct.read_bytes()
    assert a.endswith(b"\n") and not a.endswith(b"\n\n")
    assert b"\r" not in a
    text = a.decode()
    assert_hidden(text, NOTE1, OWNER1, CARD1)
    if "csv" in options:
        quote = "force_quote" in options
        # A quoted newline in a masked value goes with the value; records and fields stay.
        rv, rd = list(csv.reader(io.StringIO(text))), list(csv.reader(io.StringIO(b.decode())))
        assert [len(r) for r in rv] == [len(r) for r in rd]
        body = rv[1:] if "header" in options else rv
        assert [r[0] for r in body] == ["1", "2"] and [r[4] for r in body][1] == "visible, two"
        if quote:
            assert a.startswith(b'"1","') and b.startswith(b'"1","'), a
    else:
        assert a.count(b"\n") == b.count(b"\n"), (a, b)  # text format escapes newlines
        delim = "|" if "|" in options else "\t"
        lv, ld = a.decode().split("\n"), b.decode().split("\n")
        assert [len(x.split(delim)) for x in lv] == [len(x.split(delim)) for x in ld]
        assert [x.split(delim)[0] for x in lv[:2]] == ["1", "2"]
        assert [x.split(delim)[4] for x in lv[:2]] == [x.split(delim)[4] for x in ld[:2]]
