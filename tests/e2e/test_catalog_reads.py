"""Catalog reads for psql and IDEs (`catalog: true`): psql's \\d family, its tab completion and
JDBC DatabaseMetaData, denied under a rule on public.* alone (with a DETAIL that says how to allow
them) and answered once the rule has the preset."""
import subprocess

import pytest

from harness import PSQL, ROOT, Gateway

JDBC_JAR = "/usr/share/java/postgresql.jar"
JAVA_PEER = ROOT / "tests" / "peers" / "JdbcMetadata.java"

POLICIES = """policies:
  - id: read-public
    reason: reads of the public schema
    match: { resource: kb, tables: [public.*] }
    allow: [select]
  - id: read-public-and-catalog
    reason: reads of the public schema, and the catalog psql and IDEs read
    match: { resource: kbcat, tables: [public.*] }
    allow: [select]
    catalog: true
  - id: no-password-hashes
    reason: password hashes stay in the server
    match: { tables: [pg_catalog.pg_authid] }
    action: deny
"""

HINT = "add `catalog: true` to an allow rule"

# What psql 15 sends for `SELECT * FROM doc<TAB>`.
TAB_COMPLETION = (
    "SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.relkind IN "
    "('r', 'S', 'v', 'm', 'f', 'p') AND substring(pg_catalog.quote_ident(c.relname),1,3)='doc' "
    "AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> (SELECT oid FROM "
    "pg_catalog.pg_namespace WHERE nspname = 'pg_catalog') UNION SELECT "
    "pg_catalog.quote_ident(n.nspname) || '.' FROM pg_catalog.pg_namespace n WHERE "
    "substring(pg_catalog.quote_ident(n.nspname) || '.',1,3)='doc' AND (SELECT "
    "pg_catalog.count(*) FROM pg_catalog.pg_namespace WHERE substring(pg_catalog.quote_ident("
    "nspname) || '.',1,3) = substring('doc',1,pg_catalog.length(pg_catalog.quote_ident(nspname))"
    "+1)) > 1 LIMIT 1000")


@pytest.fixture(scope="module")
def gw(pg):
    g = Gateway(pg, tls=False, policies=POLICIES,
                resources=[{"name": "kb", "database": "kb"},
                           {"name": "kbcat", "database": "kb"}],
                extra_yaml="masking:\n  detectors: [email]\n  strategy: redact\n").start()
    yield g
    g.cleanup()


def psql(gw, db, command):
    return subprocess.run([PSQL, "-X", "-c", command], env=gw.env(db), capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("command", ["\\d", "\\dt", "\\dn", "\\l", "\\d documents",
                                     TAB_COMPLETION])
def test_psql_metadata_is_denied_without_the_preset_and_says_how(gw, command):
    r = psql(gw, "kb", command)
    assert r.returncode != 0, r.stdout
    assert "denied by rule default-deny" in r.stderr
    assert "DETAIL:" in r.stderr and HINT in r.stderr


@pytest.mark.parametrize("command,expect", [
    ("\\d", "customers"), ("\\dt", "documents"), ("\\dn", "public"), ("\\l", "kb"),
    ("\\d documents", "doc_id"), (TAB_COMPLETION, "documents")])
def test_psql_metadata_works_with_the_preset(gw, command, expect):
    r = psql(gw, "kbcat", command)
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout


def test_preset_keeps_deny_rules_writes_and_other_tables_refused(gw):
    r = psql(gw, "kbcat", "SELECT rolpassword FROM pg_catalog.pg_authid")
    assert "denied by rule no-password-hashes" in r.stderr
    r = psql(gw, "kbcat", "UPDATE pg_catalog.pg_description SET description = '' WHERE false")
    assert "denied by rule builtin:catalog-writes" in r.stderr
    r = psql(gw, "kbcat", "SELECT * FROM information_schema.tables, other.t")
    assert "denied by rule default-deny" in r.stderr and HINT not in r.stderr


def test_data_reads_are_unchanged_by_the_preset(gw):
    for db in ("kb", "kbcat"):
        r = psql(gw, db, "SELECT title FROM documents WHERE doc_id = 7")
        assert r.returncode == 0 and "doc 7" in r.stdout, r.stderr


def jdbc(gw, db):
    url = f"jdbc:postgresql://127.0.0.1:{gw.port}/{db}?sslmode=disable"
    return subprocess.run(["java", "-cp", JDBC_JAR, str(JAVA_PEER), url, "alice",
                           gw.CLIENT_PASSWORD, "public"],
                          capture_output=True, text=True, timeout=120)


def test_jdbc_metadata_is_denied_without_the_preset(gw):
    r = jdbc(gw, "kb")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "error 42501: ERROR: denied by rule default-deny" in r.stdout
    assert HINT in r.stdout


def test_jdbc_metadata_works_with_the_preset(gw):
    r = jdbc(gw, "kbcat")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "table public.documents" in lines and "table public.customers" in lines
    assert "column public.documents.title text" in lines


def test_catalog_reads_are_masked_like_any_result(gw, pg):
    pg.sql("COMMENT ON TABLE documents IS 'owner: ada@example.com'", db="kb")
    try:
        r = psql(gw, "kbcat", "SELECT d.description FROM pg_catalog.pg_description d JOIN "
                 "pg_catalog.pg_class c ON c.oid = d.objoid WHERE c.relname = 'documents'")
    finally:
        pg.sql("COMMENT ON TABLE documents IS NULL", db="kb")
    assert r.returncode == 0, r.stderr
    assert "owner: [EMAIL]" in r.stdout and "ada@example.com" not in r.stdout
