#!/usr/bin/python3
"""`make demo`: the main job end to end on embedded defaults.

A throwaway PostgreSQL with a sample knowledge base (documents with PII), a real OIDC provider,
and jitgate with its SQLite store in front. A RAG retriever authenticates with a service-account
token, gets masked chunks, is refused customer records until a data owner approves, and the
session is then found in the audit log and replayed. Everything is local and removed at the end.
"""
import re
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "examples"))

import psycopg  # noqa: E402

from harness import JITGATE, PSQL, Gateway, PgServer, make_keys  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402
import rag_retriever  # noqa: E402

POLICIES = """policies:
  - { id: rag-read, reason: the RAG pipeline reads the knowledge base,
      match: { groups: [rag], resource: kb }, allow: [read, session], row_limit: 5 }
  - { id: crm-review, reason: customer records need a data owner's approval,
      match: { groups: [rag], resource: kb, tables: ["crm.*"] }, action: review,
      scope: statement, mode: fail_fast, approvers: { groups: [data-owners], count: 1 } }
"""


def step(title):
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def show(text):
    print(textwrap.indent(text.rstrip(), "    "), flush=True)


def run(*args):
    r = subprocess.run([str(JITGATE), *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"jitgate {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


class DemoGateway(Gateway):
    def __init__(self, pg, idp, state):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True)
        self.extra_yaml = idp.identity_yaml() + f"""store: sqlite://{state}/state.db
access: {{ pending_expiry: 10m }}
masking:
  key_file: {state}/mask.key
  columns:
    - {{ table: crm.customers, column: email, strategy: tokenize }}
    - {{ table: crm.customers, column: card, strategy: partial, keep_last: 4 }}
    - {{ table: crm.customers, column: ssn, strategy: "null" }}
audit:
  dir: {state}/audit
  durability: strict
  raw_payloads: encrypted
  key_file: {state}/raw.key
  signing_key_file: {state}/sign.pem
"""



def main():
    step("A throwaway PostgreSQL with a sample knowledge base (documents containing PII)")
    with PgServer() as pg, OidcProvider() as idp:
        pg.create_db("kb")
        pg.sql("GRANT CREATE ON DATABASE kb TO app", db="postgres")
        subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(pg.dir), "-p",
                        str(pg.port), "-U", "app", "-d", "kb", "-f",
                        str(ROOT / "examples" / "kb" / "schema.sql")], check=True)
        print(f"    PostgreSQL 15 on 127.0.0.1:{pg.port}; "
              + pg.sql("select count(*) || ' chunks, ' || (select count(*) from crm.customers)"
                       " || ' customers' from chunks", db="kb").strip())
        print(f"    OIDC provider (oidc-provider) at {idp.issuer}")

        state = make_keys(Path(pg.dir) / "jitgate-state")

        step("jitgate in front of it: OIDC tokens, SQL policy, masking, approvals, strict audit")
        gw = DemoGateway(pg, idp, state).start()
        try:
            print(f"    PostgreSQL clients: 127.0.0.1:{gw.port} (TLS)   admin API: "
                  f"127.0.0.1:{gw.admin_port}   config: {gw.config}")

            step("The RAG pipeline gets a token by client credentials (no database password)")
            token = idp.token(client="rag-pipeline", groups=["rag"])
            claims = OidcProvider.claims(token)
            print(f"    sub={claims['sub']} groups={claims['groups']} aud={claims['aud']}")
            dsn = gw.dsn(password=token, user="rag-pipeline")

            step("Retrieval of the top chunks for 'refund': PII in the chunks comes back masked")
            for chunk_id, doc_id, title, body, score in rag_retriever.retrieve(
                    dsn, "refund", 4):
                print(f"    [doc {doc_id} / chunk {chunk_id}] {title}")
                show(textwrap.fill(body, 92, initial_indent="  ", subsequent_indent="  "))

            step("A bulk pull of every chunk stops at the rule's row limit (row_limit: 5)")
            with psycopg.connect(dsn, autocommit=True) as conn:
                try:
                    conn.execute("select chunk_id, left(body, 40) from public.chunks").fetchall()
                    raise SystemExit("expected the row limit")
                except psycopg.errors.ProgramLimitExceeded as e:
                    show(str(e))

            step("The pipeline asks for customer records: refused until a data owner approves")
            sql = "select name, email, card, ssn, notes from crm.customers where id = 1"
            with psycopg.connect(dsn, autocommit=True) as conn:
                try:
                    conn.execute(sql)
                    raise SystemExit("expected a refusal")
                except psycopg.errors.InsufficientPrivilege as e:
                    show(str(e))
                    review_id = re.search(r"review (r-[a-z0-9]+)", str(e)).group(1)

                owner = idp.token(user="dana", groups=["data-owners"], email="dana@corp.example")
                admin = f"http://127.0.0.1:{gw.admin_port}"
                step(f"Dana (data owner) reviews and approves {review_id}")
                show(run("review", "list", "--gateway", admin, "--token", owner))
                show(run("review", "approve", review_id, "--comment", "refund dispute #4411",
                         "--gateway", admin, "--token", owner))

                step("The same statement now runs once, with column masking applied")
                row = conn.execute(sql).fetchone()
                for name, value in zip(["name", "email", "card", "ssn", "notes"], row):
                    print(f"    {name:6} {value}")
                try:
                    conn.execute(sql)
                except psycopg.errors.InsufficientPrivilege:
                    print("    (a second run is refused again: the approval was for one run)")

            step("Gateway metrics (GET /metrics on the admin listener)")
            with urllib.request.urlopen(f"http://127.0.0.1:{gw.admin_port}/metrics") as res:
                show("\n".join(line for line in res.read().decode().splitlines()
                               if not line.startswith("#")))

            step("Audit: who read crm.customers, and what did they see?")
            show(run("audit", "search", "--config", str(gw.config), "--table", "crm.customers"))
            session = re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())[-1]
            step(f"Replay of session {session} (as the pipeline saw it)")
            show(run("replay", session, "--config", str(gw.config)))
            step("Raw replay with the key (pre-masking values; the replay itself is recorded)")
            raw = run("replay", session, "--config", str(gw.config), "--raw", "--key-file",
                      str(state / "raw.key"))
            show("\n".join(l for l in raw.splitlines() if "customers" in l or "@" in l)[:1500])
            step("The log verifies: hash chain, Ed25519 signatures, the anchored checkpoint")
            show(run("audit", "verify", "--live", "--config", str(gw.config), "--public-key",
                     str(state / "sign.pub")))
        finally:
            gw.cleanup()
    print("\nDemo finished; everything it started has been stopped and removed.")


if __name__ == "__main__":
    main()
