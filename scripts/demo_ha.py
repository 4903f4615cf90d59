#!/usr/bin/python3
"""`make demo-ha`: the demo's story on two gateway replicas that share a PostgreSQL state store,
behind a real HAProxy (Debian): TCP mode for PostgreSQL clients, HTTP mode for the HTTP listener
and the admin API, every replica health-checked on /readyz.

The RAG pipeline's sessions and searches spread over both replicas and come back masked; a
customer lookup held for a data owner's review on replica a is approved through replica b and
wakes within a second (LISTEN/NOTIFY on the store); a contractor admitted through the balancer
is cut off on replica b when the grant is revoked on replica a; a cancel sent to replica b stops
a query running on replica a; the audit search sees both replicas, and `jitgate audit verify`
reports each replica's chain (a replica whose log is on another host is reported as not checked,
then both are checked from one place). Everything is local and removed at the end.
"""
import json
import re
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import demo
from demo import JITGATE, ROOT, run, show, step

sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import psycopg  # noqa: E402

import pgwire  # noqa: E402
import rag_retriever  # noqa: E402
from harness import PgServer, make_keys  # noqa: E402
from http_peers import VectorStore, run_qdrant_client  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402
from replicas import HaProxy, Replica, served_sessions, shared_store, wait_all_up  # noqa: E402

POLICIES = """policies:
  - { id: rag-read, reason: the RAG pipeline reads the knowledge base,
      match: { groups: [rag], resource: kb }, allow: [read, session], row_limit: 5 }
  - { id: crm-review, reason: customer records need a data owner's approval,
      match: { groups: [rag], resource: kb, tables: ["crm.*"] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
  - { id: contractor-read, reason: contractors read the knowledge base once admitted,
      match: { groups: [contractors], resource: kb }, allow: [read] }
  - { id: contractor-session, reason: a data owner admits contractors,
      match: { groups: [contractors], resource: kb }, action: review, scope: session,
      mode: fail_fast, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
  - id: kb-search
    reason: the RAG pipeline searches the vector store, at most 10 hits at a time
    match: { groups: [rag], resource: kb-search, methods: [POST],
             paths: ["/collections/docs/points/search", "/collections/docs/points/query"],
             body: [{ pointer: /limit, max: 10 }] }
    action: allow
"""

STORE_DB = "jitgate_state"
CUSTOMER_SQL = "select name, email, card, ssn from crm.customers where id = 1"


class DemoReplica(Replica):
    """One replica of the demo: the knowledge base and the vector store as resources, the
    demo's column masking (one masking key for both, so a token is the same on either)."""

    def __init__(self, pg, idp, name, store, state, vectors):
        super().__init__(pg, idp, name, store, POLICIES, http=True,
                         resources=[demo.KB_RESOURCE],
                         extra_resources=demo.search_resource(state, vectors),
                         access_yaml="access: { pending_expiry: 10m, wait_timeout: 120s }\n",
                         audit_options=", checkpoint_interval: 1s")
        self.extra_yaml += demo.masking_yaml(state)


def jitgate(*args):
    """Runs the CLI; returns (exit code, output) whatever the exit code."""
    r = subprocess.run([str(JITGATE), *args], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def spread_and_retrieve(lb, replicas, token):
    step("The RAG pipeline connects through HAProxy (TCP mode): its sessions spread over both "
         "replicas, and PII in the chunks comes back masked")
    dsn = lb.dsn(token, user="rag-pipeline")
    wait_all_up(lb, replicas, token, user="rag-pipeline")
    before = [served_sessions(r) for r in replicas]
    for chunk_id, doc_id, title, body, score in rag_retriever.retrieve(dsn, "refund", 2):
        print(f"    [doc {doc_id} / chunk {chunk_id}] {title}")
        show("  " + body[:180])
    for _ in range(3):
        rag_retriever.retrieve(dsn, "invoice", 1)
    after = [served_sessions(r) for r in replicas]
    print("    sessions per replica: " + ", ".join(
        f"{r.name}={a - b}" for r, a, b in zip(replicas, after, before)))


def search_through_lb(lb, token):
    step("The vector store through HAProxy in HTTP mode (TLS to HAProxy and again to the "
         "replica): the official Qdrant client, the token as its API key; owners are masked")
    rc, out, err = run_qdrant_client(lb.http_url + "/kb-search", token, "search",
                                     "--collection", "docs", "--text", "refund", "--limit", "2",
                                     ca=lb.ca)
    if rc != 0:
        raise SystemExit(f"the search through HAProxy failed:\n{err}")
    for hit in json.loads(out):
        p = hit["payload"]
        print(f"    [doc {hit['id']}] {p.get('title')}  owner={p.get('owner')}")


def held_on_a_approved_on_b(a, b, token, owner):
    step("A customer lookup on replica a is held for a data owner's review (mode: wait); Dana "
         "approves it through replica b, and the statement on a wakes through the store")
    result = {}

    def lookup():
        with psycopg.connect(a.dsn(password=token, user="rag-pipeline"), autocommit=True) as c:
            result["row"] = c.execute(CUSTOMER_SQL).fetchone()
            result["at"] = time.time()

    held = threading.Thread(target=lookup)
    held.start()
    review_id = None
    for _ in range(200):
        pending = b.api("GET", "/api/v1/reviews?state=pending", owner)["reviews"]
        if pending:
            review_id = pending[0]["id"]
            break
        time.sleep(0.05)
    if review_id is None:
        raise SystemExit("no review appeared for the held lookup")
    print(f"    replica b lists {review_id}, requested on replica a "
          f"(still held: {held.is_alive()})")
    show(run("review", "approve", review_id, "--comment", "refund dispute #4411", "--gateway",
             b.admin_url, "--token", owner))
    approved_at = time.time()
    held.join(timeout=60)
    if "row" not in result:
        raise SystemExit("the held lookup did not finish:\n" + a.log_text()[-2000:])
    print(f"    replica a ran it {result['at'] - approved_at:.2f} s after the approval on b, "
          "masked:")
    for name, value in zip(["name", "email", "card", "ssn"], result["row"]):
        print(f"    {name:6} {value}")


def revoked_on_a_ends_session_on_b(lb, a, b, carol, owner):
    step("A contractor is admitted through the balancer once Dana approves; the grant is then "
         "revoked on replica a, and the contractor's session on replica b ends")
    try:
        psycopg.connect(lb.dsn(carol, user="carol")).close()
        raise SystemExit("expected the contractor to need a review")
    except psycopg.OperationalError as e:
        show(str(e).strip().splitlines()[-1])
        review_id = re.search(r"review (r-[a-z0-9]+)", str(e)).group(1)
    approved = run("review", "approve", review_id, "--comment", "audit week", "--gateway",
                   lb.admin_url, "--token", owner)
    show(approved)
    grant_id = re.search(r"grant (g-[a-z0-9]+)", approved).group(1)
    # A raw wire client reads the FATAL itself (libpq reports it as a lost connection).
    sock = pgwire.tls_connect(b.port)
    try:
        login = pgwire.password_login(sock, {"user": "carol", "database": "kb"}, carol)
        if login[-1][0] != b"Z":
            raise SystemExit(f"the contractor was not admitted on b: {login}")
        print("    carol is connected to replica b under the grant")
        show(run("review", "revoke", grant_id, "--reason", "audit week is over", "--gateway",
                 a.admin_url, "--token", owner))
        revoked_at = time.time()
        msgs = pgwire.read_messages(sock, until={b"E"})
    finally:
        sock.close()
    err = pgwire.error_fields(msgs[-1][1]) if msgs and msgs[-1][0] == b"E" else {}
    print(f"    replica b ended it {time.time() - revoked_at:.2f} s later: "
          f"{err.get('S')} {err.get('C')} {err.get('M')}")


def cancel_across(a, b, token):
    step("A long query runs on replica a; its CancelRequest reaches replica b, which relays it "
         "through the store to a")
    sock = pgwire.tls_connect(a.port)
    try:
        login = pgwire.password_login(sock, {"user": "rag-pipeline", "database": "kb"}, token)
        pid, secret = pgwire.backend_key(login)
        sock.sendall(pgwire.query(b"select pg_sleep(60)"))
        time.sleep(0.5)
        started = time.time()
        pgwire.cancel_request(b.port, pid, secret)
        msgs = pgwire.read_messages(sock, until={b"E", b"Z"})
    finally:
        sock.close()
    errors = [pgwire.error_fields(p) for k, p in msgs if k == b"E"]
    if not errors or errors[0].get("C") != "57014":
        raise SystemExit(f"the cancel did not reach the query: {msgs}")
    print(f"    {errors[0]['C']} {errors[0]['M']} ({time.time() - started:.2f} s after the "
          "cancel was sent to b)")
    for r, what in ((b, "relayed to the other replicas"), (a, "relayed by another replica")):
        line = next((ln for ln in r.log_text().splitlines() if what in ln), "")
        print(f"    replica {r.name} log: {line.strip()[:150]}")


def instance_of(replica):
    """A replica's audit instance: the one directory in its audit directory."""
    return next(p.name for p in (replica.dir / "log").iterdir() if p.is_dir())


def audit_across(pg, a, b):
    # Each replica signs a checkpoint within a second of its newest records and anchors it in
    # the store: that is how the store knows every replica's chain.
    deadline = time.time() + 15
    while pg.sql("select count(*) from audit_anchors", db=STORE_DB).strip() != "2":
        if time.time() > deadline:
            raise SystemExit("the replicas did not anchor their checkpoints in the store")
        time.sleep(0.1)
    step("Audit search reads the index in the shared store: from replica a's configuration, "
         "the pipeline's statements on both replicas")
    show(run("audit", "search", "--config", str(a.config), "--user", "rag-pipeline",
             "--limit", "6"))
    hits = [json.loads(line) for line in run(
        "audit", "search", "--config", str(a.config), "--user", "rag-pipeline", "--limit",
        "1000", "--json").splitlines() if line.strip()]
    print("    statements per replica: " + ", ".join(
        f"{r.name} ({instance_of(r)})="
        f"{sum(1 for h in hits if h.get('instance') == instance_of(r))}" for r in (a, b)))
    step("`jitgate audit verify` on replica a's host: a's chain is checked; b's is anchored in "
         "the store but its log is on b's host, so it is reported as not checked (exit 1)")
    rc, out = jitgate("audit", "verify", "--config", str(a.config), "--live")
    show(out)
    print(f"    exit code {rc}")
    if rc != 1:
        raise SystemExit("expected verify to report b's chain as not checked")
    step("With b's audit directory mounted here (--replica-dir) and both public keys, every "
         "replica's chain verifies from one place")
    rc, out = jitgate("audit", "verify", "--config", str(a.config), "--live", "--replica-dir",
                      str(b.dir / "log"), "--public-key", str(a.dir / "keys" / "sign.pub"),
                      "--public-key", str(b.dir / "keys" / "sign.pub"))
    show(out)
    if rc != 0:
        raise SystemExit("the replicas' audit logs did not verify")


def story(pg, idp, lb, replicas):
    a, b = replicas
    token = idp.token(client="rag-pipeline", groups=["rag"])
    owner = idp.token(user="dana", groups=["data-owners"], email="dana@corp.example")
    carol = idp.token(user="carol", groups=["contractors"], email="carol@corp.example")
    spread_and_retrieve(lb, replicas, token)
    search_through_lb(lb, token)
    held_on_a_approved_on_b(a, b, token, owner)
    revoked_on_a_ends_session_on_b(lb, a, b, carol, owner)
    cancel_across(a, b, token)
    audit_across(pg, a, b)


def main():
    step("A throwaway PostgreSQL: the sample knowledge base, and a database for jitgate's "
         "shared state store")
    with PgServer() as pg, OidcProvider() as idp:
        demo.load_knowledge_base(pg)
        print(f"    OIDC provider (oidc-provider) at {idp.issuer}")
        password = secrets.token_urlsafe(18)
        with shared_store(pg, STORE_DB, "jitgate_store", password) as store:
            state = make_keys(Path(pg.dir) / "jitgate-state")
            vectors = VectorStore(api_key="qdrant-demo-key", tls=True).start()
            replicas, lb = [], None
            try:
                step("Two jitgate replicas on that store, each with its own audit log and keys, "
                     "behind HAProxy")
                for name in ("a", "b"):
                    replicas.append(DemoReplica(pg, idp, name, store, state, vectors).start())
                (Path(pg.dir) / "haproxy").mkdir()
                lb = HaProxy(Path(pg.dir) / "haproxy", replicas, http=True).start()
                for r in replicas:
                    print(f"    replica {r.name}: PostgreSQL 127.0.0.1:{r.port}, HTTP "
                          f"127.0.0.1:{r.http_port}, admin {r.admin_url}")
                print(f"    HAProxy: PostgreSQL clients 127.0.0.1:{lb.pg_port} (TCP mode), HTTP "
                      f"clients {lb.http_url}, admin API {lb.admin_url} (HTTP mode)\n"
                      f"    store: {replicas[0].store_url.split('?')[0]}")
                story(pg, idp, lb, replicas)
            finally:
                if lb:
                    lb.stop()
                for r in replicas:
                    r.cleanup()
                vectors.stop()
    print("\nDemo finished; everything it started has been stopped and removed.")


if __name__ == "__main__":
    main()
