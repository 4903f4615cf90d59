#!/usr/bin/python3
"""`make demo`: the main job end to end on embedded defaults.

A throwaway PostgreSQL with a sample knowledge base (documents with PII), a vector store holding
the same documents (a Qdrant-compatible service), a real OIDC provider, and jitgate with its
SQLite store in front of both. A RAG retriever authenticates with a service-account token, gets
masked chunks over SQL and over HTTP (the official Qdrant client, the token as its API key), is
refused customer records and over-broad searches, waits for a data owner's approval, and the
retrievals of one document are then found together in the audit log and replayed. Everything is
local and removed at the end.
"""
import json
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "examples"))

import psycopg  # noqa: E402

from harness import JITGATE, PSQL, Gateway, PgServer, make_keys  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402
import rag_retriever  # noqa: E402
from http_peers import VectorStore, run_qdrant_client  # noqa: E402

POLICIES = """policies:
  - { id: rag-read, reason: the RAG pipeline reads the knowledge base,
      match: { groups: [rag], resource: kb }, allow: [read, session], row_limit: 5 }
  - { id: crm-review, reason: customer records need a data owner's approval,
      match: { groups: [rag], resource: kb, tables: ["crm.*"] }, action: review,
      scope: statement, mode: fail_fast, approvers: { groups: [data-owners], count: 1 } }
  - id: kb-search
    reason: the RAG pipeline searches the vector store, at most 10 hits at a time
    match: { groups: [rag], resource: kb-search, methods: [POST],
             paths: ["/collections/docs/points/search", "/collections/docs/points/query"],
             body: [{ pointer: /limit, max: 10 }] }
    action: allow
  - id: protected-read
    reason: the RAG pipeline may search customer records once a data owner approves
    match: { groups: [rag], resource: kb-search, methods: [POST],
             paths: ["/collections/protected/points/search"] }
    action: allow
  - id: protected-review
    reason: customer records need a data owner's approval
    match: { groups: [rag], resource: kb-search, paths: ["/collections/protected/**"] }
    action: review
    mode: wait
    approvers: { groups: [data-owners], count: 1 }
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
    def __init__(self, pg, idp, state, store):
        (state / "qdrant.key").write_text(store.api_key + "\n")
        (state / "qdrant.key").chmod(0o600)
        search = [
            "  - name: kb-search", "    kind: http",
            f"    upstream: {{ url: {store.url}, ca_file: {store.ca} }}",
            f"    credential: {{ header: {{ name: api-key, value_file: {state}/qdrant.key }} }}",
            "    token: { header: api-key }",
            '    masking: { json_paths: [{ path: "$.result[*].payload.owner", strategy: '
            'tokenize }] }',
            '    documents: { json_paths: ["$.result[*].id"] }']
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True, http=True,
                         resources=[{"name": "kb", "database": "kb",
                                     "documents": "{ table: public.documents, id_column: doc_id }"}],
                         extra_resources=search)
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



def http_retrieval(gw, idp, token):
    url, ca = f"https://127.0.0.1:{gw.http_port}/kb-search", gw.dir / "server.crt"
    step("RAG retrieval over HTTP: the official Qdrant client searches the vector store "
         "through jitgate, the access token as its API key; chunks come back masked")
    rc, out, err = run_qdrant_client(url, token, "search", "--collection", "docs", "--text",
                                     "refund", "--limit", "3", ca=ca)
    if rc != 0:
        raise SystemExit(f"the search failed:\n{err}")
    for hit in json.loads(out):
        p = hit["payload"]
        print(f"    [doc {hit['id']}] {p.get('title')}  owner={p.get('owner')}")
        show(textwrap.fill(p.get("text", ""), 92, initial_indent="  ", subsequent_indent="  "))

    step("An over-broad search (limit 500) is refused by the rule's bound")
    rc, out, err = run_qdrant_client(url, token, "search", "--collection", "docs", "--text",
                                     "refund", "--limit", "500", ca=ca)
    show(err.strip()[:600])

    step("A search of the protected collection waits while a data owner approves it")
    held = subprocess.Popen(["node", str(ROOT / "tests" / "peers" / "qdrant_client.mjs"), "--url",
                             url, "--api-key", token, "--ca", str(ca), "search", "--collection",
                             "protected", "--text", "refund dispute", "--limit", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    owner = idp.token(user="dana", groups=["data-owners"], email="dana@corp.example")
    admin = f"http://127.0.0.1:{gw.admin_port}"
    review_id = None
    for _ in range(100):
        listing = run("review", "list", "--gateway", admin, "--token", owner)
        held_lines = [line for line in listing.splitlines()
                      if "pending" in line and "protected-review" in line]
        if held_lines:
            review_id = re.search(r"(r-[a-z0-9]+)", held_lines[0]).group(1)
            show("\n".join(held_lines))
            break
        time.sleep(0.1)
    if review_id is None:
        held.kill()
        raise SystemExit("no review appeared for the held search")
    show(run("review", "approve", review_id, "--comment", "dispute #4411", "--gateway", admin,
             "--token", owner))
    out, err = held.communicate(timeout=60)
    if held.returncode != 0:
        raise SystemExit(f"the held search failed:\n{err}")
    for hit in json.loads(out):
        print(f"    [customer {hit['id']}] " + json.dumps(hit["payload"])[:200])


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
        store = VectorStore(api_key="qdrant-demo-key", tls=True).start()
        print(f"    vector store (Qdrant REST API on @orama/orama) at {store.url}, "
              "same documents, its own API key")

        step("jitgate in front of both: OIDC tokens, policy, masking, approvals, strict audit")
        gw = DemoGateway(pg, idp, state, store).start()
        try:
            print(f"    PostgreSQL clients: 127.0.0.1:{gw.port} (TLS)   HTTP clients: "
                  f"https://127.0.0.1:{gw.http_port}/kb-search   admin API: "
                  f"127.0.0.1:{gw.admin_port}\n    config: {gw.config}")

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

            http_retrieval(gw, idp, token)

            step("Gateway metrics (GET /metrics on the admin listener)")
            with urllib.request.urlopen(f"http://127.0.0.1:{gw.admin_port}/metrics") as res:
                show("\n".join(line for line in res.read().decode().splitlines()
                               if not line.startswith("#")))

            step("Audit: who retrieved document 1, over SQL and over HTTP?")
            show(run("audit", "search", "--config", str(gw.config), "--document", "1"))
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
            store.stop()
    print("\nDemo finished; everything it started has been stopped and removed.")


if __name__ == "__main__":
    main()
