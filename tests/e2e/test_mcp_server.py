"""jitgate's own MCP server end to end: the official TypeScript SDK client (tests/peers/
mcp_agent.mjs) and @modelcontextprotocol/inspector-cli against the real binary, the real
PostgreSQL and the real OIDC provider. Each test names the behaviour it checks."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import Gateway, make_keys
from http_peers import JsonServer
from oidc_provider import OidcProvider

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "tests" / "peers" / "mcp_agent.mjs"
# The inspector's CLI mode itself (node_modules/.bin/mcp-inspector-cli is the launcher that
# starts it for --cli). It finds its own package.json relative to the working directory, so it
# runs from its build directory.
INSPECTOR = ROOT / "node_modules" / "@modelcontextprotocol" / "inspector-cli" / "build" / "index.js"

POLICIES = """policies:
  - id: agents-read
    reason: agents read the knowledge base
    match: { groups: [agents], resource: kb }
    allow: [select, session]
  - id: customers-review
    reason: customer records need a data owner
    match: { groups: [agents], resource: kb, tables: [public.customers] }
    action: review
    scope: statement
    mode: fail_fast
    approvers: { groups: [data-owners], count: 1 }
  - id: no-secrets
    reason: secrets are off limits to agents
    match: { groups: [agents], tables: [public.mcp_secrets] }
    deny: [all]
  - id: agents-docs
    reason: agents read documents over HTTP
    match: { groups: [agents], resource: docs-api, methods: [GET], paths: ["/documents/*"] }
    action: allow
"""


def docs_api_resource(docs_url):
    """A kind: http resource with one operation the MCP server offers as a tool."""
    return [
        "  - name: docs-api",
        "    kind: http",
        "    mount: /docs-api",
        f"    upstream: {{ url: {docs_url} }}",
        '    masking: { json_paths: [{ path: "$.email", strategy: redact }] }',
        "    operations:",
        "      - name: get_document",
        "        description: One document of the knowledge base by id",
        "        method: GET",
        "        path: /documents/{id}",
        "        input_schema:",
        "          type: object",
        "          properties: { id: { type: integer, minimum: 1 } }",
        "          required: [id]",
        "          additionalProperties: false",
    ]

SESSION_KEY = "k" * 48


def gateway_yaml(gw, idp, keys):
    resource = f"https://127.0.0.1:{gw.http_port}/mcp"
    identity = idp.identity_yaml(issuer_extra={"audiences": [OidcProvider.AUDIENCE, resource]})
    (gw.dir / "mcp.key").write_text(SESSION_KEY)
    os.chmod(gw.dir / "mcp.key", 0o600)
    return identity + f"""store: sqlite://{gw.dir}/state.db
masking:
  key_file: {keys}/mask.key
  columns:
    - {{ table: public.mcp_contacts, column: email, strategy: redact }}
audit:
  dir: {gw.dir}/audit
  durability: batched
  raw_payloads: encrypted
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
mcp:
  path: /mcp
  resources: [kb, docs-api]
  session_key_file: {gw.dir}/mcp.key
  max_rows: 5
"""


def start_gateway(pg, idp, docs_url):
    gw = Gateway(pg, policies=POLICIES, admin=True, http=True, static_auth=False,
                 extra_resources=docs_api_resource(docs_url))
    keys = make_keys(gw.dir / "keys")
    gw.extra_yaml = gateway_yaml(gw, idp, keys)
    gw.start()
    return gw


@pytest.fixture(scope="module")
def docs_api():
    with JsonServer() as js:
        yield js


@pytest.fixture(scope="module")
def mcp_gw(pg, idp, docs_api):
    pg.sql("""
      CREATE TABLE IF NOT EXISTS mcp_contacts (id int PRIMARY KEY, name text, email text);
      TRUNCATE mcp_contacts;
      INSERT INTO mcp_contacts VALUES (1, 'Ada', 'ada@example.com'), (2, 'Linus', NULL);
      CREATE TABLE IF NOT EXISTS mcp_secrets (id int, secret text);
      ALTER TABLE mcp_contacts OWNER TO app; ALTER TABLE mcp_secrets OWNER TO app;
    """, db="kb")
    gw = start_gateway(pg, idp, docs_api.url)
    yield gw
    gw.cleanup()


@pytest.fixture(scope="module")
def agent(idp):
    secret = idp.add_client("mcp-agent", groups=["agents"], email="agent@svc.example")
    return {"client": "mcp-agent", "secret": secret}


def url(gw):
    return f"https://127.0.0.1:{gw.http_port}/mcp"


def agent_token(idp, gw, client="mcp-agent", groups=("agents",)):
    return idp.token(client=client, groups=list(groups), audience=url(gw))


def run_agent(gw, *args, token=None, oauth=None, timeout=60):
    cmd = ["node", str(AGENT), "--url", url(gw)]
    if token:
        cmd += ["--token", token]
    if oauth:
        cmd += ["--client-id", oauth["client"], "--client-secret", oauth["secret"],
                "--scope", "db.read"]
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(gw.dir / "server.crt"))
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                       cwd=ROOT, env=env)
    assert r.stdout, f"no output from the agent: {r.stderr}"
    return json.loads(r.stdout.splitlines()[-1])


def rpc(gw, token, body, session=None, headers=None):
    h = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
         "Content-Type": "application/json"}
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(url(gw), data=data, headers=h, verify=str(gw.dir / "server.crt"),
                         timeout=30)


def initialize(gw, token):
    r = rpc(gw, token, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                   "clientInfo": {"name": "pytest", "version": "1"}}})
    assert r.status_code == 200, r.text
    return r.headers["Mcp-Session-Id"]


def text_of(result):
    return result["content"][0]["text"]


# ---- authorization ----------------------------------------------------------------------------


def test_protected_resource_metadata_points_at_the_issuer(mcp_gw, idp):
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        r = requests.get(f"https://127.0.0.1:{mcp_gw.http_port}{path}",
                         verify=str(mcp_gw.dir / "server.crt"), timeout=10)
        assert r.status_code == 200
        doc = r.json()
        assert doc["resource"] == url(mcp_gw)
        assert doc["authorization_servers"] == [idp.issuer]
        assert doc["bearer_methods_supported"] == ["header"]


def test_request_without_token_is_401_naming_the_metadata(mcp_gw):
    r = requests.post(url(mcp_gw), json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                      verify=str(mcp_gw.dir / "server.crt"), timeout=10)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer resource_metadata=\"https://127.0.0.1:")
    assert "/.well-known/oauth-protected-resource/mcp\"" in challenge
    bad = rpc(mcp_gw, "not-a-token", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_sdk_discovers_the_authorization_server_from_a_401_and_lists_tools(mcp_gw, agent):
    out = run_agent(mcp_gw, "list", oauth=agent)
    names = [t["name"] for t in out["tools"]]
    assert names == ["query_kb", "list_tables_kb", "describe_table_kb", "get_document",
                     "await_review"]
    query = out["tools"][0]
    assert query["inputSchema"]["required"] == ["sql"] and "outputSchema" in query


# ---- sessions ---------------------------------------------------------------------------------


def test_session_id_of_another_subject_is_refused(mcp_gw, idp):
    session = initialize(mcp_gw, agent_token(idp, mcp_gw))
    other = agent_token(idp, mcp_gw, client="other-agent")
    r = rpc(mcp_gw, other, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=session)
    assert r.status_code == 404 and "session not found" in r.json()["error"]["message"]


def test_tampered_or_missing_session_id_is_refused(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    session = initialize(mcp_gw, token)
    tampered = session[:-2] + ("AA" if not session.endswith("AA") else "BA")
    r = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=tampered)
    assert r.status_code == 404
    r = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert r.status_code == 400
    ok = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 3, "method": "ping"}, session=session)
    assert ok.status_code == 200 and ok.json() == {"jsonrpc": "2.0", "id": 3, "result": {}}
    gone = requests.delete(url(mcp_gw), headers={"Authorization": f"Bearer {token}",
                                                 "Mcp-Session-Id": session},
                           verify=str(mcp_gw.dir / "server.crt"), timeout=10)
    assert gone.status_code == 204


def test_second_replica_with_the_same_key_accepts_the_session_id(mcp_gw, pg, idp, docs_api):
    token = agent_token(idp, mcp_gw)
    session = initialize(mcp_gw, token)
    replica = Gateway(pg, policies=POLICIES, admin=True, http=True, static_auth=False,
                      extra_resources=docs_api_resource(docs_api.url))
    keys = make_keys(replica.dir / "keys")
    replica.extra_yaml = gateway_yaml(replica, idp, keys).replace(
        f"https://127.0.0.1:{replica.http_port}/mcp", url(mcp_gw))
    replica.start()
    try:
        h = {"Authorization": f"Bearer {token}", "Mcp-Session-Id": session,
             "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        r = requests.post(f"https://127.0.0.1:{replica.http_port}/mcp",
                          json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=h,
                          verify=str(replica.dir / "server.crt"), timeout=30)
        assert r.status_code == 200, r.text
        assert [t["name"] for t in r.json()["result"]["tools"]][0] == "query_kb"
    finally:
        replica.cleanup()


def test_browser_origin_other_than_the_gateway_is_403(mcp_gw, idp):
    r = rpc(mcp_gw, agent_token(idp, mcp_gw), {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_get_is_405_and_unsupported_protocol_version_is_400(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    r = requests.get(url(mcp_gw), headers={"Authorization": f"Bearer {token}"},
                     verify=str(mcp_gw.dir / "server.crt"), timeout=10)
    assert r.status_code == 405
    session = initialize(mcp_gw, token)
    r = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=session,
            headers={"MCP-Protocol-Version": "1999-01-01"})
    assert r.status_code == 400


# ---- bad input --------------------------------------------------------------------------------


def test_malformed_json_batch_and_unknown_method_get_jsonrpc_errors(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    session = initialize(mcp_gw, token)
    r = rpc(mcp_gw, token, '{"jsonrpc": "2.0", "id": ', session=session)
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700
    r = rpc(mcp_gw, token, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}], session=session)
    assert r.json()["error"]["code"] == -32600
    r = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 9, "method": "resources/list"},
            session=session)
    assert r.json()["error"]["code"] == -32601 and r.json()["id"] == 9
    r = rpc(mcp_gw, token, {"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                            "params": {"name": "drop_everything", "arguments": {}}},
            session=session)
    assert r.json()["error"]["code"] == -32602 and "unknown tool" in r.json()["error"]["message"]
    assert mcp_gw.proc.poll() is None


def test_arguments_that_break_the_schema_are_32602(mcp_gw, idp):
    out = run_agent(mcp_gw, "call", "query_kb", '{"sql": 42}', token=agent_token(idp, mcp_gw))
    assert out["error"]["code"] == -32602
    assert "/sql" in out["error"]["message"]


# ---- tools ------------------------------------------------------------------------------------


def test_query_returns_rows_with_the_masked_column_masked(mcp_gw, idp):
    out = run_agent(mcp_gw, "call", "query_kb",
                    json.dumps({"sql": "SELECT id, name, email FROM mcp_contacts WHERE id >= $1 "
                                       "ORDER BY id", "params": [1]}),
                    token=agent_token(idp, mcp_gw))
    result = out["result"]
    assert not result.get("isError"), result
    s = result["structuredContent"]
    assert [c["name"] for c in s["columns"]] == ["id", "name", "email"]
    assert s["rows"][0][0] == "1" and s["rows"][0][1] == "Ada"
    assert s["rows"][0][2] != "ada@example.com" and "ada@example.com" not in text_of(result)
    assert s["rows"][1][2] is None
    assert s["row_count"] == 2 and s["truncated"] is False


def test_query_over_max_rows_is_truncated_and_says_so(mcp_gw, idp):
    out = run_agent(mcp_gw, "call", "query_kb",
                    '{"sql": "SELECT doc_id FROM documents ORDER BY doc_id"}',
                    token=agent_token(idp, mcp_gw))
    s = out["result"]["structuredContent"]
    assert s["row_count"] == 5 and s["truncated"] is True
    assert "truncated" in text_of(out["result"])


def test_table_the_policy_denies_is_an_error_result(mcp_gw, idp):
    out = run_agent(mcp_gw, "call", "query_kb", '{"sql": "SELECT * FROM mcp_secrets"}',
                    token=agent_token(idp, mcp_gw))
    result = out["result"]
    assert result["isError"] is True
    assert "no-secrets" in text_of(result) and "42501" in text_of(result)


def test_list_and_describe_tables_go_through_the_session(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    out = run_agent(mcp_gw, "call", "describe_table_kb", '{"table": "public.mcp_contacts"}',
                    token=token)
    rows = out["result"]["structuredContent"]["rows"]
    assert [r[0] for r in rows] == ["id", "name", "email"]
    listed = run_agent(mcp_gw, "call", "list_tables_kb", "{}", token=token)
    assert "result" in listed


def approve(gw, idp, review):
    owner = idp.token(user="dora", groups=["data-owners"], email="dora@example.com")
    status, body = gw.admin("POST", f"/api/v1/reviews/{review}/approve", token=owner,
                            body={"comment": "ok for the ticket"})
    assert status == 200, body


def test_query_needing_approval_waits_with_await_review_then_runs_once(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    args = json.dumps({"sql": "SELECT name FROM customers WHERE id = $1", "params": [1]})
    cmd = ["node", str(AGENT), "--url", url(mcp_gw), "--token", token, "run-approved",
           "query_kb", args]
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(mcp_gw.dir / "server.crt"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    try:
        line = proc.stderr.readline()
        while line and not line.startswith("{"):
            line = proc.stderr.readline()
        review = json.loads(line)["review_id"]
        time.sleep(0.5)  # the agent is waiting in await_review
        approve(mcp_gw, idp, review)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = json.loads(stdout.splitlines()[-1])
    first = out["first"]
    assert first["isError"] and first["structuredContent"]["status"] == "pending"
    assert first["structuredContent"]["review_id"] == review
    assert out["awaited"]["structuredContent"]["status"] == "approved"
    assert out["result"]["structuredContent"]["rows"] == [["Ada"]]
    again = run_agent(mcp_gw, "call", "query_kb", args, token=token)
    assert again["result"]["isError"] is True
    assert again["result"]["structuredContent"]["status"] == "pending"
    assert again["result"]["structuredContent"]["review_id"] != review


def test_http_operation_goes_through_the_http_front_end_and_is_masked(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    out = run_agent(mcp_gw, "call", "get_document", '{"id": 1}', token=token)
    result = out["result"]
    assert not result.get("isError"), result
    body = result["structuredContent"]["body"]
    assert body["title"] == "Refund policy"
    assert body["email"] != "billing@acme.example"
    bad = run_agent(mcp_gw, "call", "get_document", '{"id": 0}', token=token)
    assert bad["error"]["code"] == -32602 and "/id" in bad["error"]["message"]
    http = search_until(mcp_gw, "/docs-api/documents/1", "--protocol", "http", "--resource",
                        "docs-api")
    assert "/docs-api/documents/1" in http, http


def test_inspector_cli_lists_and_calls_tools_through_jitgate(mcp_gw, idp):
    token = agent_token(idp, mcp_gw)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(mcp_gw.dir / "server.crt"))
    base = ["node", str(INSPECTOR), url(mcp_gw), "--transport", "http",
            "--header", f"Authorization: Bearer {token}"]
    r = subprocess.run(base + ["--method", "tools/list"], capture_output=True, text=True,
                       timeout=60, env=env, cwd=INSPECTOR.parent)
    assert r.returncode == 0, r.stderr
    assert "query_kb" in r.stdout
    r = subprocess.run(base + ["--method", "tools/call", "--tool-name", "query_kb",
                               "--tool-arg", "sql=SELECT count(*) AS n FROM mcp_contacts"],
                       capture_output=True, text=True, timeout=60, env=env, cwd=INSPECTOR.parent)
    assert r.returncode == 0, r.stderr
    assert '"n"' in r.stdout and '"2"' in r.stdout


def search_until(gw, needle, *args):
    """`audit search` until `needle` shows (the index is written in batches)."""
    deadline = time.monotonic() + 15
    while True:
        out = audit_search(gw, *args)
        if needle in out or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def audit_search(gw, *args):
    r = subprocess.run([str(gw.binary), "audit", "search", "--config", str(gw.config), *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_mcp_requests_and_their_sessions_are_recorded(mcp_gw, idp):
    run_agent(mcp_gw, "call", "query_kb", '{"sql": "SELECT name FROM mcp_contacts WHERE id = 2"}',
              token=agent_token(idp, mcp_gw))
    deadline = time.monotonic() + 15
    while True:
        http = audit_search(mcp_gw, "--protocol", "mcp", "--tool", "query_*",
                            "--rpc-method", "tools/call")
        sql = audit_search(mcp_gw, "--protocol", "postgres", "--contains", "WHERE id = 2")
        if ("/mcp" in http and "mcp_contacts" in sql) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "query_kb" in http and "/mcp" in http, http
    assert "mcp_contacts" in sql, sql
