"""psql through the gateway gives the same results as psql direct."""
import subprocess

from harness import PSQL

QUERIES = [
    "select 1 as one, 'two'::text as two, null::int as nothing",
    "select doc_id, title from documents order by doc_id limit 5",
    "select count(*), sum(doc_id) from documents",
    "select now() is not null, current_database(), current_user",
    "select array[1,2,3], '{\"a\": 1}'::jsonb, 1.5::numeric, '2026-01-01'::date",
    "select 1; select 2; select 'multi'",
    "\\d documents",
    "\\dt",
    "select * from documents where doc_id < 0",
    "",
]


def psql(env, *args, stdin=None):
    return subprocess.run([PSQL, "-X", "-v", "ON_ERROR_STOP=1", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def direct_env(pg):
    import os
    e = dict(os.environ)
    e.update({"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGDATABASE": "kb",
              "PGUSER": "app", "PGPASSWORD": pg.APP_PASSWORD, "PGSSLMODE": "require"})
    return e


def test_results_identical_to_direct(pg, gateway):
    for q in QUERIES:
        via = psql(gateway.env(), "-c", q)
        direct = psql(direct_env(pg), "-c", q)
        assert via.returncode == direct.returncode == 0, (q, via.stderr, direct.stderr)
        assert via.stdout == direct.stdout, q


def test_copy_in_and_out(pg, gateway, tmp_path):
    src = tmp_path / "rows.csv"
    src.write_text("".join(f"{i},title {i},\"body, with comma {i}\"\n" for i in range(1000, 1200)))
    r = psql(gateway.env(), "-c", "create table copy_target (doc_id int, title text, body text)")
    assert r.returncode == 0, r.stderr
    r = psql(gateway.env(), "-c", f"\\copy copy_target from '{src}' with (format csv)")
    assert r.returncode == 0, r.stderr
    assert "COPY 200" in r.stdout
    out = tmp_path / "out.csv"
    r = psql(gateway.env(), "-c",
             f"\\copy (select * from copy_target order by doc_id) to '{out}' with (format csv)")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == src.read_text()
    # Binary COPY round trip.
    binf = tmp_path / "out.bin"
    r = psql(gateway.env(), "-c", f"\\copy copy_target to '{binf}' with (format binary)")
    assert r.returncode == 0, r.stderr
    r = psql(gateway.env(), "-c", "truncate copy_target")
    r = psql(gateway.env(), "-c", f"\\copy copy_target from '{binf}' with (format binary)")
    assert r.returncode == 0 and "COPY 200" in r.stdout, r.stderr
    psql(gateway.env(), "-c", "drop table copy_target")


def test_script_with_error_in_transaction(gateway):
    script = """
begin;
create temp table t (x int primary key);
insert into t values (1);
insert into t values (1);
select 'not reached';
rollback;
select 'after rollback';
"""
    r = subprocess.run([PSQL, "-X"], env=gateway.env(), input=script, capture_output=True,
                       text=True, timeout=60)
    assert "duplicate key value violates unique constraint" in r.stderr
    assert "current transaction is aborted" in r.stderr
    assert "after rollback" in r.stdout


def test_copy_from_stdin_error_keeps_session(gateway):
    script = "create temp table c (x int);\n\\copy c from stdin\n1\nnot-a-number\n\\.\nselect 'alive';\n"
    r = subprocess.run([PSQL, "-X"], env=gateway.env(), input=script, capture_output=True,
                       text=True, timeout=60)
    assert "invalid input syntax for type integer" in r.stderr
    assert "alive" in r.stdout
