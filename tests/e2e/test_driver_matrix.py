"""Client drivers through the gateway with masking on: each runs one prepared statement more
than ten times (in binary results where the driver can) and a parameterized query, connected
with TLS and an OIDC access token as its password.

Drivers are the ones packaged for this machine (scripts/deps.sh): pgjdbc (Debian
libpostgresql-jdbc-java), node-postgres (npm pg), asyncpg (Debian python3-asyncpg), psycopg 3,
psqlODBC (Debian odbc-postgresql through unixODBC and python3-pyodbc) and Perl DBD::Pg. A driver
that is missing fails its test: the matrix is only worth what it runs.

Every execution's rows are checked against the reference (a simple query through the same
gateway): the masked column (drv_customers.email, tokenized) must differ from the stored value
and equal the reference token, the other columns must be the stored values.
"""
import asyncio
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
from pathlib import Path

import psycopg
import pytest

import pgwire
from harness import ROOT, Gateway

PEERS = ROOT / "tests" / "peers"
PGJDBC_JAR = Path("/usr/share/java/postgresql.jar")
TIMES = 12  # executions of the prepared statement: past pgjdbc's prepareThreshold (5) and more

STORED = [
    (1, "Ada", "ada@example.com", 10),
    (2, "Linus", "linus@example.org", 20),
    (3, "Grace", "grace.hopper@example.net", 30),
]
UPTO = "SELECT id, name, email, score FROM drv_customers WHERE id <= {} ORDER BY id"
BY_NAME = "SELECT email, name FROM drv_customers WHERE name = {}"

POLICIES = """policies:
  - { id: engineers, reason: engineers work on kb, match: { groups: [eng] }, allow: [all] }
"""


def masking_yaml(key_file):
    return f"""masking:
  key_file: {key_file}
  columns:
    - {{ table: public.drv_customers, column: email, strategy: tokenize }}
"""


@pytest.fixture(scope="module")
def matrix(pg, idp, tmp_path_factory):
    pg.sql("""
      CREATE TABLE IF NOT EXISTS drv_customers (id int PRIMARY KEY, name text, email text,
        score int);
      TRUNCATE drv_customers;
      INSERT INTO drv_customers VALUES (1, 'Ada', 'ada@example.com', 10),
        (2, 'Linus', 'linus@example.org', 20), (3, 'Grace', 'grace.hopper@example.net', 30);
      ALTER TABLE drv_customers OWNER TO app;
    """, db="kb")
    key = tmp_path_factory.mktemp("drvkey") / "mask.key"
    key.write_bytes(os.urandom(32))
    os.chmod(key, 0o600)
    gw = Gateway(pg, static_auth=False, policies=POLICIES,
                 extra_yaml=idp.identity_yaml() + masking_yaml(key)).start()
    token = idp.token(user="alice", groups=["eng"], ttl=600)
    with psycopg.connect(gw.dsn(password=token)) as conn:
        reference = conn.execute(UPTO.format(3)).fetchall()
    tokens = {r[0]: r[2] for r in reference}
    for (i, _, email, _), (j, _, masked, _) in zip(STORED, reference):
        assert i == j and masked != email and email.split("@")[0] not in masked, reference
    yield {"gw": gw, "token": token, "tokens": tokens}
    gw.cleanup()


def expected_rows(matrix, n):
    return [[i, name, matrix["tokens"][i], score] for i, name, _, score in STORED[:n]]


def check_executions(matrix, executions):
    """`executions`: (label, rows) in order, TIMES of the prepared statement then "param"."""
    assert len(executions) == TIMES + 1, executions
    for k, (label, rows) in enumerate(executions[:TIMES]):
        assert label == str(k)
        assert [list(r) for r in rows] == expected_rows(matrix, k % 3 + 1), f"execution {k}"
    label, rows = executions[TIMES]
    assert label == "param"
    assert [list(r) for r in rows] == [[matrix["tokens"][1], "Ada"]]
    log = matrix["gw"].log_text()
    assert "masking failed" not in log, log[-2000:]


def run_peer(argv, **kw):
    """Runs a driver program that prints one JSON line per execution; its (label, rows)."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, f"{argv[0]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return [(x["exec"], x["rows"]) for x in lines]


# -- pgjdbc -------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    "",                                                   # prepareThreshold=5: the 6th on is bare
    "&prepareThreshold=1",                                # a named statement from the first
    "&prepareThreshold=1&binaryTransfer=true&binaryTransferEnable=TEXT,INT4",  # binary rows
], ids=["default-threshold", "threshold-1", "binary"])
def test_pgjdbc(matrix, settings):
    assert PGJDBC_JAR.exists(), "pgjdbc is missing: apt-get install libpostgresql-jdbc-java"
    java = shutil.which("java")
    assert java, "java is missing: apt-get install openjdk-17-jdk-headless"
    url = (f"jdbc:postgresql://127.0.0.1:{matrix['gw'].port}/kb?sslmode=require"
           f"&sslfactory=org.postgresql.ssl.NonValidatingFactory{settings}")
    check_executions(matrix, run_peer(
        [java, "-cp", str(PGJDBC_JAR), str(PEERS / "JdbcMatrix.java"), url, "alice",
         matrix["token"], str(TIMES)]))


# -- node-postgres --------------------------------------------------------------------------------

def test_node_pg(matrix):
    assert (ROOT / "node_modules" / "pg").exists(), \
        "node-postgres is missing: npm package pg in node_modules"
    check_executions(matrix, run_peer(
        ["node", str(PEERS / "pg_matrix.mjs"), str(matrix["gw"].port), "alice", matrix["token"],
         str(TIMES)], cwd=ROOT))


# -- asyncpg --------------------------------------------------------------------------------------

def test_asyncpg(matrix):
    import asyncpg  # a missing driver fails the test

    async def run():
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        conn = await asyncpg.connect(host="127.0.0.1", port=matrix["gw"].port, database="kb",
                                     user="alice", password=matrix["token"], ssl=tls)
        try:
            # asyncpg prepares named statements and always asks for binary results.
            stmt = await conn.prepare(UPTO.format("$1"))
            out = []
            for k in range(TIMES):
                out.append((str(k), [list(r) for r in await stmt.fetch(k % 3 + 1)]))
            rows = await conn.fetch(BY_NAME.format("$1"), "Ada")
            out.append(("param", [list(r) for r in rows]))
            return out
        finally:
            await conn.close()

    check_executions(matrix, asyncio.run(run()))


# -- psycopg --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["text", "binary", "pipeline"])
def test_psycopg(matrix, mode):
    out = []
    with psycopg.connect(matrix["gw"].dsn(password=matrix["token"])) as conn:
        with conn.cursor(binary=mode == "binary") as cur:
            if mode == "pipeline":
                with conn.pipeline():
                    for k in range(TIMES):
                        cur.execute(UPTO.format("%s"), [k % 3 + 1], prepare=True)
                        out.append((str(k), cur.fetchall()))
            else:
                for k in range(TIMES):
                    cur.execute(UPTO.format("%s"), [k % 3 + 1], prepare=True)
                    out.append((str(k), cur.fetchall()))
            cur.execute(BY_NAME.format("%s"), ["Ada"])
            out.append(("param", cur.fetchall()))
    check_executions(matrix, out)


# -- psqlODBC -------------------------------------------------------------------------------------

def test_psqlodbc(matrix):
    import pyodbc
    assert "PostgreSQL Unicode" in pyodbc.drivers(), \
        f"psqlODBC is not registered with unixODBC: {pyodbc.drivers()}"
    conn = pyodbc.connect(
        "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=%d;DATABASE=kb;UID=alice;"
        "PWD={%s};SSLmode=require;UseServerSidePrepare=1" % (matrix["gw"].port, matrix["token"]),
        autocommit=True)
    try:
        cur = conn.cursor()
        out = []
        for k in range(TIMES):
            cur.execute(UPTO.format("?"), k % 3 + 1)  # one SQL text: prepared once, reused
            out.append((str(k), [list(r) for r in cur.fetchall()]))
        cur.execute(BY_NAME.format("?"), "Ada")
        out.append(("param", [list(r) for r in cur.fetchall()]))
    finally:
        conn.close()
    check_executions(matrix, out)


# -- Perl DBD::Pg ---------------------------------------------------------------------------------

def test_perl_dbd_pg(matrix):
    check_executions(matrix, run_peer(
        ["perl", str(PEERS / "dbd_pg_matrix.pl"), str(matrix["gw"].port), "alice",
         matrix["token"], str(TIMES)]))


# -- no Describe at all (on the wire) -----------------------------------------------------------

def data_row(payload):
    n = struct.unpack("!h", payload[:2])[0]
    cells, pos = [], 2
    for _ in range(n):
        size = struct.unpack("!i", payload[pos:pos + 4])[0]
        pos += 4
        cells.append(None if size < 0 else payload[pos:pos + size].decode())
        pos += max(size, 0)
    return cells


def test_statement_never_described_is_masked_by_the_gateways_own_describe(matrix):
    """Parse, then Bind/Execute with no Describe of the statement or the portal: the gateway
    describes the portal itself and the client sees no RowDescription it did not ask for."""
    raw = socket.create_connection(("127.0.0.1", matrix["gw"].port), timeout=10)
    raw.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
    assert raw.recv(1) == b"S"
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    s = tls.wrap_socket(raw)
    try:
        login = pgwire.password_login(s, {"user": "alice", "database": "kb"}, matrix["token"])
        assert login[-1][0] == b"Z", login
        sql = UPTO.format(3).encode()
        for k in range(TIMES):
            first = pgwire.parse("S_bare", sql) if k == 0 else b""
            s.sendall(first + pgwire.bind("S_bare") + pgwire.execute() + pgwire.sync())
            msgs = pgwire.read_messages(s, until={b"Z"})
            types = b"".join(t for t, _ in msgs)
            assert types == (b"1" if k == 0 else b"") + b"2DDDCZ", (k, msgs)
            rows = [data_row(p) for t, p in msgs if t == b"D"]
            assert rows == [[str(c) for c in r] for r in expected_rows(matrix, 3)], k
    finally:
        s.close()
