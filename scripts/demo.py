#!/usr/bin/python3
"""`make demo`: the main job end to end on embedded defaults.

A throwaway PostgreSQL with a sample knowledge base (documents with PII), a vector store holding
the same documents (a Qdrant-compatible service), a real OIDC provider, and jitgate with its
SQLite store in front of both. A RAG retriever authenticates with a service-account token, gets
masked chunks over SQL and over HTTP (the official Qdrant client, the token as its API key), is
refused customer records and over-broad searches, waits for a data owner's approval (given in
jitgate's web console, in headless Chromium; screenshots in .demo/screenshots), and the
retrievals of one document are then found together in the audit log and replayed. Then the
same pipeline, as an AI agent on the official MCP SDK, discovers jitgate's authorization server
from a 401, lists its tools, queries the knowledge base (masked), waits for a data owner to
approve a customer lookup, and calls an upstream MCP server's tools through jitgate's MCP proxy,
where a denied tool is not even offered and a result is masked. The audit log then shows the
agent's SQL, HTTP and MCP activity under one identity. Everything is local and removed at the
end.
"""
import json
import os
import re
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Screenshots of the web console (the .demo/ folder is ignored by git).
SHOTS = ROOT / ".demo" / "screenshots"
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "examples"))

import psycopg  # noqa: E402

from console_browser import Browser  # noqa: E402
from harness import JITGATE, PSQL, Gateway, PgServer, make_keys  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402
import rag_retriever  # noqa: E402
from http_peers import McpEverything, VectorStore, run_qdrant_client  # noqa: E402

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
  - id: tools-everyday
    reason: agents use the tool server's everyday tools
    match: { groups: [rag], resource: everything }
    action: allow
  - id: no-env
    reason: the tool server's environment holds its secrets; agents never read it
    match: { resource: everything, tools: [get-env] }
    action: deny
"""

AGENT = ROOT / "tests" / "peers" / "mcp_agent.mjs"


def step(title):
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def show(text):
    print(textwrap.indent(text.rstrip(), "    "), flush=True)


def run(*args):
    r = subprocess.run([str(JITGATE), *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"jitgate {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


# The knowledge base resource: documents are tracked for "who read which document".
KB_RESOURCE = {"name": "kb", "database": "kb",
               "documents": "{ table: public.documents, id_column: doc_id }"}


def search_resource(state, store):
    """The vector store as resource kb-search: jitgate holds its API key (in `state`), masks the
    owner of each hit and records the documents returned."""
    (state / "qdrant.key").write_text(store.api_key + "\n")
    (state / "qdrant.key").chmod(0o600)
    return [
        "  - name: kb-search", "    kind: http",
        f"    upstream: {{ url: {store.url}, ca_file: {store.ca} }}",
        f"    credential: {{ header: {{ name: api-key, value_file: {state}/qdrant.key }} }}",
        "    token: { header: api-key }",
        '    masking: { json_paths: [{ path: "$.result[*].payload.owner", strategy: '
        'tokenize }] }',
        '    documents: { json_paths: ["$.result[*].id"] }']


def masking_yaml(state):
    """Column masking of customer records, keyed by `state`/mask.key."""
    return f"""masking:
  key_file: {state}/mask.key
  columns:
    - {{ table: crm.customers, column: email, strategy: tokenize }}
    - {{ table: crm.customers, column: card, strategy: partial, keep_last: 4 }}
    - {{ table: crm.customers, column: ssn, strategy: "null" }}
"""


def load_knowledge_base(pg):
    """The sample knowledge base (examples/kb/schema.sql: documents with PII) in database kb."""
    pg.create_db("kb")
    pg.sql("GRANT CREATE ON DATABASE kb TO app", db="postgres")
    subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(pg.dir), "-p",
                    str(pg.port), "-U", "app", "-d", "kb", "-f",
                    str(ROOT / "examples" / "kb" / "schema.sql")], check=True)
    print(f"    PostgreSQL 15 on 127.0.0.1:{pg.port}; "
          + pg.sql("select count(*) || ' chunks, ' || (select count(*) from crm.customers)"
                   " || ' customers' from chunks", db="kb").strip())


class DemoGateway(Gateway):
    def __init__(self, pg, idp, state, store, tools):
        search = search_resource(state, store) + [
            "  - name: everything", "    kind: mcp", "    mount: /tools",
            f"    upstream: {{ url: {tools.url.rsplit('/mcp', 1)[0]} }}"]
        super().__init__(pg, static_auth=False, policies=POLICIES, admin_tls=True, http=True,
                         resources=[KB_RESOURCE], extra_resources=search)
        self.mcp_url = f"https://127.0.0.1:{self.http_port}/mcp"
        # The web console signs people in at the provider with the authorization code flow.
        redirect = f"https://127.0.0.1:{self.admin_port}/console/callback"
        (state / "console_secret").write_text(idp.add_code_client("jitgate-console", redirect))
        (state / "console_secret").chmod(0o600)
        console = (f"console: {{ client_id: jitgate-console, client_secret_file: "
                   f"{state}/console_secret, redirect_url: {redirect}, "
                   f"resource: {OidcProvider.AUDIENCE}, scopes: [openid, db.read] }}\n")
        (state / "mcp.key").write_bytes(os.urandom(32))
        (state / "mcp.key").chmod(0o600)
        audiences = {"audiences": [OidcProvider.AUDIENCE, self.mcp_url]}
        self.extra_yaml = idp.identity_yaml(issuer_extra=audiences) + f"""store: sqlite://{state}/state.db
mcp: {{ path: /mcp, resources: [kb], session_key_file: {state}/mcp.key, max_rows: 20 }}
access: {{ pending_expiry: 10m }}
{console}{masking_yaml(state)}audit:
  dir: {state}/audit
  durability: strict
  raw_payloads: encrypted
  key_file: {state}/raw.key
  signing_key_file: {state}/sign.pem
  auditor_groups: [auditors]
  reveal_groups: [auditors]
"""



def approve_in_console(gw, idp, review_id):
    """Dana signs in to the web console (headless Chromium) and approves the review there."""
    step(f"Dana (data owner) approves {review_id} in the web console (headless Chromium)")
    idp.add_user("dana", ["data-owners"], email="dana@corp.example")
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = Browser(gw.admin_url, SHOTS)
    try:
        browser.ok("login", **{"as": "dana"})
        shown = browser.ok("wait_review", **{"as": "dana", "id": review_id})["text"]
        show("\n".join(line for line in shown.splitlines() if line.strip())[:900])
        browser.ok("screenshot", **{"as": "dana", "name": "demo-inbox"})
        decided = browser.ok("decide", **{"as": "dana", "id": review_id, "verdict": "approve",
                                          "comment": "refund dispute #4411"})
        show(decided["note"])
        browser.ok("goto", **{"as": "dana", "page": "grants"})
        browser.ok("screenshot", **{"as": "dana", "name": "demo-grants"})
    finally:
        browser.close()
    print(f"    screenshots: {SHOTS / 'demo-inbox.png'}, {SHOTS / 'demo-grants.png'}")


def replay_in_console(gw, idp, session):
    """Ida (auditor) opens the customer lookup's replay in the console and reveals it."""
    step(f"Ida (auditor) opens session {session} in the web console and reveals the values "
         "before masking, giving a reason (the reveal is recorded first)")
    idp.add_user("ida", ["auditors"], email="ida@corp.example")
    browser = Browser(gw.admin_url, SHOTS)
    try:
        browser.ok("login", **{"as": "ida"})
        browser.ok("goto", **{"as": "ida", "page": "sessions"})
        browser.ok("search", **{"as": "ida", "fields": {"table": "crm.customers"}})
        page = browser.ok("open_session", **{"as": "ida", "table": "hits", "session": session})
        browser.ok("screenshot", **{"as": "ida", "name": "demo-replay"})
        shown = browser.ok("reveal", **{"as": "ida", "reason": "refund dispute #4411 audit"})
        browser.ok("screenshot", **{"as": "ida", "name": "demo-reveal"})
    finally:
        browser.close()
    show(page["status"] + "\n" + page["facts"])
    show(shown["banner"])
    print(f"    cells masking changed: {', '.join(shown['marked']) or 'none'}")
    print(f"    screenshots: {SHOTS / 'demo-replay.png'}, {SHOTS / 'demo-reveal.png'}")


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
    admin = gw.admin_url
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


def agent(gw, *args, oauth=None, token=None, url=None):
    """Runs the MCP agent (tests/peers/mcp_agent.mjs, the official SDK) and returns its JSON."""
    cmd = ["node", str(AGENT), "--url", url or gw.mcp_url]
    if oauth:
        cmd += ["--client-id", oauth[0], "--client-secret", oauth[1], "--scope", "db.read"]
    if token:
        cmd += ["--token", token]
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(gw.dir / "server.crt"))
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=150, cwd=ROOT,
                       env=env)
    if not r.stdout.strip():
        raise SystemExit(f"the MCP agent failed:\n{r.stderr}")
    return json.loads(r.stdout.splitlines()[-1])


def show_rows(result, limit=92):
    content = result.get("structuredContent") or {}
    names = [c["name"] for c in content.get("columns", [])]
    for row in content.get("rows", []):
        print("    " + "  ".join(f"{n}={v}" for n, v in zip(names, row))[:limit + 40])


def agent_over_mcp(gw, idp, oauth):
    step("An AI agent on the official MCP SDK connects to jitgate's MCP endpoint with no token: "
         "the 401 names the protected-resource metadata, the SDK finds the identity provider "
         "there and gets a token by client credentials")
    listed = agent(gw, "list", oauth=oauth)
    for tool in listed["tools"]:
        print(f"    {tool['name']:24} {tool.get('description', '')[:70]}")

    step("The agent queries the knowledge base through the query_kb tool: the statement runs in a "
         "real PostgreSQL session of the gateway, so the same policy and masking apply")
    out = agent(gw, "call", "query_kb", json.dumps({
        "sql": "select doc_id, left(body, 90) as body from chunks where body ilike $1 limit 3",
        "params": ["%@%"]}), oauth=oauth)
    show_rows(out["result"])

    step("The agent looks up a customer: the tool answers that a data owner must approve, the "
         "agent waits with await_review, and the lookup runs once approved")
    sql = {"sql": "select name, email, card from crm.customers where id = $1", "params": [2]}
    held = subprocess.Popen(["node", str(AGENT), "--url", gw.mcp_url, "--client-id", oauth[0],
                             "--client-secret", oauth[1], "--scope", "db.read", "run-approved",
                             "query_kb", json.dumps(sql)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ,
                                     NODE_EXTRA_CA_CERTS=str(gw.dir / "server.crt")))
    owner = idp.token(user="dana", groups=["data-owners"], email="dana@corp.example")
    admin = gw.admin_url
    review_id = None
    for line in held.stderr:  # the agent names the review it waits for
        if line.startswith("{") and "review_id" in line:
            review_id = json.loads(line)["review_id"]
            break
    if review_id is None:
        held.kill()
        raise SystemExit("the agent's customer lookup did not ask for a review")
    listing = run("review", "list", "--gateway", admin, "--token", owner)
    show("\n".join(line for line in listing.splitlines() if review_id in line))
    show(run("review", "approve", review_id, "--comment", "ticket #4417", "--gateway", admin,
             "--token", owner))
    try:
        out, err = held.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        held.kill()
        out, err = held.communicate()
        raise SystemExit(f"the agent did not finish:\n{out}\n{err}\n{gw.log_text()[-3000:]}")
    done = json.loads(out.splitlines()[-1])
    print(f"    first answer: {done['first']['content'][0]['text'][:160]}")
    print(f"    await_review: {done['awaited']['structuredContent']['status']}")
    show_rows(done["result"])

    tools_url = f"https://127.0.0.1:{gw.http_port}/tools/mcp"
    step("Through jitgate's MCP proxy, the agent reaches an upstream MCP server "
         "(server-everything): get-env, which would show the server's secrets, is not offered")
    token = idp.token(client=oauth[0], groups=["rag"])
    listed = agent(gw, "list", token=token, url=tools_url)
    names = sorted(t["name"] for t in listed["tools"])
    print(f"    offered: {', '.join(names)}")
    print(f"    get-env offered: {'get-env' in names}")
    refused = agent(gw, "call", "get-env", "{}", token=token, url=tools_url)
    print(f"    calling it anyway: {json.dumps(refused.get('error') or refused)[:200]}")

    step("The upstream's answer is masked on the way back (echo of a message with PII)")
    echoed = agent(gw, "call", "echo", json.dumps(
        {"message": "refund for jane.roe@acme.example, card 4111 1111 1111 1111"}),
        token=token, url=tools_url)
    print("    " + echoed["result"]["content"][0]["text"])


def main():
    step("A throwaway PostgreSQL with a sample knowledge base (documents containing PII)")
    with PgServer() as pg, OidcProvider() as idp:
        load_knowledge_base(pg)
        print(f"    OIDC provider (oidc-provider) at {idp.issuer}")

        state = make_keys(Path(pg.dir) / "jitgate-state")
        store = VectorStore(api_key="qdrant-demo-key", tls=True).start()
        tools = McpEverything().start()
        print(f"    vector store (Qdrant REST API on @orama/orama) at {store.url}, "
              "same documents, its own API key")

        step("jitgate in front of both: OIDC tokens, policy, masking, approvals, strict audit")
        gw = DemoGateway(pg, idp, state, store, tools).start()
        os.environ["JITGATE_ADMIN_CA"] = str(gw.dir / "server.crt")  # the CLI trusts the admin TLS
        try:
            print(f"    PostgreSQL clients: 127.0.0.1:{gw.port} (TLS)   HTTP clients: "
                  f"https://127.0.0.1:{gw.http_port}/kb-search   admin API: "
                  f"{gw.admin_url}\n    web console: {gw.admin_url}/console/\n"
                  f"    config: {gw.config}")

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

                approve_in_console(gw, idp, review_id)

                step("The same statement now runs once, with column masking applied")
                row = conn.execute(sql).fetchone()
                for name, value in zip(["name", "email", "card", "ssn", "notes"], row):
                    print(f"    {name:6} {value}")
                try:
                    conn.execute(sql)
                except psycopg.errors.InsufficientPrivilege:
                    print("    (a second run is refused again: the approval was for one run)")

            http_retrieval(gw, idp, token)
            secret = idp.add_client("rag-pipeline", groups=["rag"])
            agent_over_mcp(gw, idp, ("rag-pipeline", secret))

            step("Gateway metrics (GET /metrics on the admin listener)")
            admin_tls = ssl.create_default_context(cafile=os.environ["JITGATE_ADMIN_CA"])
            with urllib.request.urlopen(f"{gw.admin_url}/metrics", context=admin_tls) as res:
                show("\n".join(line for line in res.read().decode().splitlines()
                               if not line.startswith("#")))

            step("Audit: who retrieved document 1, over SQL and over HTTP?")
            show(run("audit", "search", "--config", str(gw.config), "--document", "1"))
            step("Audit: the pipeline's activity over SQL, HTTP and MCP under one identity")
            show(run("audit", "search", "--config", str(gw.config), "--user", "rag-pipeline",
                     "--limit", "25"))
            step("Audit: the agent's MCP tool calls (--protocol mcp --rpc-method tools/call)")
            show(run("audit", "search", "--config", str(gw.config), "--protocol", "mcp",
                     "--rpc-method", "tools/call", "--limit", "10"))
            step("Audit: who read crm.customers, and what did they see?")
            show(run("audit", "search", "--config", str(gw.config), "--table", "crm.customers"))
            # The psycopg session of the customer lookup (not the agent's in-process ones).
            session = [m.group(1) for m in re.finditer(r"\[(s-[a-z0-9]+)\] authenticated(.*)",
                                                         gw.log_text())
                       if "in process" not in m.group(2)][-1]
            step(f"Replay of session {session} (as the pipeline saw it)")
            show(run("replay", session, "--config", str(gw.config)))
            step("Raw replay with the key (pre-masking values; the replay itself is recorded)")
            raw = run("replay", session, "--config", str(gw.config), "--raw", "--reason",
                      "refund dispute #4411", "--key-file",
                      str(state / "raw.key"))
            show("\n".join(l for l in raw.splitlines() if "customers" in l or "@" in l)[:1500])
            replay_in_console(gw, idp, session)
            step("The log verifies: hash chain, Ed25519 signatures, the anchored checkpoint")
            show(run("audit", "verify", "--live", "--config", str(gw.config), "--public-key",
                     str(state / "sign.pub")))
        finally:
            gw.cleanup()
            store.stop()
            tools.stop()
    print("\nDemo finished; everything it started has been stopped and removed.")


if __name__ == "__main__":
    main()
