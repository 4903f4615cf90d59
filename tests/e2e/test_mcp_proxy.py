"""The MCP proxy end to end: `kind: mcp` resources in front of the real
@modelcontextprotocol/server-everything (Streamable HTTP), driven by the official SDK client
(tests/peers/mcp_proxy_client.mjs) and by @modelcontextprotocol/inspector-cli, with tokens from
the real OIDC provider and the real binary. Each test names the behaviour it checks."""
import json
import re
import subprocess
import urllib.request

import pytest
import requests

from harness import ROOT
from http_gateway import HttpGateway
from harness import free_port, wait_port
from http_peers import McpEverything, NodePeer

PEERS = ROOT / "tests" / "peers"
NODE_BIN = ROOT / "node_modules" / ".bin"
# inspector-cli looks for its package.json at "../package.json" from the working directory
# (fs.existsSync) but imports it relative to its module: run it from its build directory.
INSPECTOR_CWD = ROOT / "node_modules" / "@modelcontextprotocol" / "inspector-cli" / "build"

POLICIES = """policies:
  - id: agents
    reason: agents use the everything server's tools
    match: { groups: [agents], resources: [everything, budgeted, changing], mcp_methods: ["*"] }
    action: allow
  - id: no-env
    reason: the server's environment holds secrets
    match: { resources: [everything, budgeted], tools: [get-env] }
    action: deny
  - id: sum-review
    reason: sums need a data owner's approval
    match: { resource: everything, tools: [get-sum] }
    action: review
    mode: fail_fast
    approvers: { groups: [data-owners] }
  - id: no-sampling
    reason: the upstream may not use the agent's model
    match: { resources: [everything, budgeted], mcp_methods: [sampling/createMessage] }
    action: deny
"""


@pytest.fixture(scope="module")
def upstream():
    with McpEverything() as m:
        yield m


class ChangingServer(NodePeer):
    """tests/peers/mcp_changing_server.mjs: an SDK server whose tool changes its description on
    the second tools/list of a session."""

    name = "mcp-changing"

    def command(self):
        self.port = free_port()
        return ["node", str(PEERS / "mcp_changing_server.mjs"), "--port", str(self.port)]

    def wait_ready(self, timeout):
        wait_port(self.port, timeout=timeout, proc=self.proc)


@pytest.fixture(scope="module")
def changing():
    with ChangingServer() as c:
        yield c


@pytest.fixture(scope="module")
def gw(idp, upstream, changing):
    base = upstream.url.rsplit("/mcp", 1)[0]
    g = HttpGateway(idp, tls=False, masking=True, audit=True, policies=POLICIES, resources=[
        {"name": "everything", "kind": "mcp", "url": base,
         "mcp": "{ max_notifications_per_second: 5 }"},
        {"name": "budgeted", "kind": "mcp", "url": base,
         "mcp": "{ budgets: { calls: 3, result_bytes: 1KB } }"},
        {"name": "changing", "kind": "mcp", "url": f"http://127.0.0.1:{changing.port}"},
    ])
    g.start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def token(idp):
    return idp.token(client="agent-7", groups=["agents"], email="agent7@svc.example")


def client(gw, token, steps, resource="everything", sampling=False, timeout=90):
    """Runs the SDK client; returns its JSON lines."""
    cmd = ["node", str(PEERS / "mcp_proxy_client.mjs"), "--url", gw.url(resource, "/mcp"),
           "--token", token, "--steps", json.dumps(steps)]
    if sampling:
        cmd.append("--sampling")
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[0]["step"] != "connect", (r.stdout, r.stderr, gw.log_text()[-3000:])
    return lines


def text_of(result):
    return " ".join(c.get("text", "") for c in result["content"])


def test_a_denied_tool_is_not_listed_and_its_call_is_refused(gw, token):
    listed, called, _ = client(gw, token, [{"op": "list"},
                                           {"op": "call", "tool": "get-env"}])
    assert "echo" in listed["tools"] and "get-sum" in listed["tools"]
    assert "get-env" not in listed["tools"]
    assert not called["ok"] and called["code"] == -32001, called
    assert "environment holds secrets" in called["message"]


def test_an_email_and_a_card_in_a_tool_result_are_masked(gw, token):
    message = "write to jane.doe@example.com, card 4111 1111 1111 1111"
    _, echoed, _ = client(gw, token, [{"op": "list"},
                                      {"op": "call", "tool": "echo", "args": {"message": message}}])
    assert echoed["ok"], echoed
    text = text_of(echoed)
    assert text.startswith("Echo: write to ")
    assert "jane.doe@example.com" not in text and "4111 1111 1111 1111" not in text, text


def test_a_review_tool_asks_for_approval_and_runs_once_approved(gw, idp, token):
    steps = [{"op": "list"}, {"op": "call", "tool": "get-sum", "args": {"a": 19, "b": 23}}]
    _, refused, _ = client(gw, token, steps)
    assert not refused["ok"] and refused["code"] == -32002, refused
    review = re.search(r"review (\S+) was created", refused["message"]).group(1)
    owner = idp.token(user="dora", groups=["data-owners"], email="dora@example.com")
    req = urllib.request.Request(f"{gw.admin_url}/api/v1/reviews/{review}/approve", data=b"{}",
                                 method="POST", headers={"Authorization": f"Bearer {owner}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status == 200
    _, summed, _ = client(gw, token, steps)
    assert summed["ok"], summed
    assert "42" in text_of(summed)


def test_a_tool_not_listed_in_the_session_is_refused_as_unpinned(gw, token):
    called, _ = client(gw, token, [{"op": "call", "tool": "echo", "args": {"message": "hi"}}])
    assert not called["ok"] and called["code"] == -32004, called


def test_a_tool_definition_changed_mid_session_is_refused_and_stays_blocked(gw, token):
    steps = [{"op": "list"}, {"op": "list"}, {"op": "call", "tool": "lookup",
                                               "args": {"word": "jit"}}]
    first, second, called, _ = client(gw, token, steps, resource="changing")
    assert first["ok"] and first["tools"] == ["lookup"]
    assert not second["ok"] and second["code"] == -32004 and "lookup" in second["message"]
    assert not called["ok"] and called["code"] == -32004, called
    assert "tool-changed" in gw.log_text()


def test_arguments_that_break_the_input_schema_are_refused_before_the_upstream(gw, token):
    _, called, _ = client(gw, token, [{"op": "list"},
                                      {"op": "call", "tool": "echo", "args": {"message": 7}}])
    assert not called["ok"] and called["code"] == -32602, called
    assert "/message" in called["message"]


def test_call_and_result_byte_budgets_refuse_what_goes_beyond_them(gw, token):
    steps = [{"op": "list"},
             {"op": "call", "tool": "echo", "args": {"message": "hi"}},
             {"op": "call", "tool": "echo", "args": {"message": "x" * 2000}},
             {"op": "call", "tool": "echo", "args": {"message": "hi"}},
             {"op": "call", "tool": "echo", "args": {"message": "hi"}}]
    _, small, big, after, fourth, _ = client(gw, token, steps, resource="budgeted")
    assert small["ok"], small
    assert not big["ok"] and big["code"] == -32003 and "result bytes" in big["message"], big
    assert not after["ok"] and after["code"] == -32003, after
    assert not fourth["ok"] and fourth["code"] == -32003 and "3 tool calls" in fourth["message"]


def test_a_notification_flood_ends_the_stream_with_an_error(gw, token):
    steps = [{"op": "list"},
             {"op": "call", "tool": "trigger-long-running-operation",
              "args": {"duration": 1, "steps": 200}, "progress": True}]
    _, called, notes = client(gw, token, steps)
    assert not called["ok"] or called["progress"] < 200, (called, gw.log_text()[-4000:])
    assert any("faster than this resource allows" in str(m.get("data"))
               for m in notes["messages"]), notes
    assert "notification-flood" in gw.log_text()


def test_sampling_requested_by_the_upstream_is_refused_by_policy(gw, token):
    steps = [{"op": "list"},
             {"op": "call", "tool": "trigger-sampling-request",
              "args": {"prompt": "hello", "maxTokens": 5}}]
    _, called, notes = client(gw, token, steps, sampling=True)
    assert notes["sampling"] == 0
    assert not called["ok"] or called["isError"] or "sampled" not in json.dumps(called), called
    assert "server-request-refused" in gw.log_text()


# ---- bad input, from a plain HTTP client ---------------------------------------------------


def post(gw, token, body, session=None, version=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    if session:
        headers["Mcp-Session-Id"] = session
    if version:
        headers["MCP-Protocol-Version"] = version
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(gw.url("everything", "/mcp"), data=data, headers=headers, timeout=30)


def rpc_answer(resp):
    """The JSON-RPC message of a JSON or SSE response."""
    if resp.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:].strip() for line in resp.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return resp.json()


def initialize(gw, token):
    r = post(gw, token, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
    assert r.status_code == 200, r.text
    session = r.headers["mcp-session-id"]
    post(gw, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session,
         "2025-06-18")
    return session


def test_malformed_json_rpc_is_a_parse_error(gw, token):
    r = post(gw, token, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert r.status_code == 400
    assert r.json()["error"]["code"] == -32700
    r = post(gw, token, {"id": 1, "method": "tools/list"})
    assert r.status_code == 400 and r.json()["error"]["code"] == -32600


def test_a_batch_is_refused_where_the_protocol_version_forbids_it(gw, token):
    session = initialize(gw, token)
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
             {"jsonrpc": "2.0", "id": 2, "method": "ping"}]
    r = post(gw, token, batch, session, "2025-06-18")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == -32600 and "batch" in r.json()["error"]["message"]


def test_an_unknown_method_allowed_by_policy_reaches_the_upstream_which_refuses_it(gw, token):
    session = initialize(gw, token)
    r = post(gw, token, {"jsonrpc": "2.0", "id": 5, "method": "no/such-method"}, session,
             "2025-06-18")
    assert r.status_code == 200, r.text
    assert rpc_answer(r)["error"]["code"] == -32601


def test_every_mcp_request_is_recorded(gw, token):
    client(gw, token, [{"op": "list"}, {"op": "call", "tool": "echo", "args": {"message": "x"}}])
    r = gw.cli("audit", "search", "--config", str(gw.config), "--protocol", "mcp",
               "--tool", "echo")
    assert "echo" in r.stdout and "tools/call" in r.stdout, r.stdout
    denied = gw.cli("audit", "search", "--config", str(gw.config), "--protocol", "mcp",
                    "--tool", "get-env")
    assert "get-env" in denied.stdout and "deny" in denied.stdout, denied.stdout


def test_inspector_cli_lists_the_tools_the_policy_offers(gw, token):
    r = subprocess.run([str(NODE_BIN / "mcp-inspector-cli"), "--cli", gw.url("everything", "/mcp"),
                        "--transport", "http", "--method", "tools/list",
                        "--header", f"Authorization: Bearer {token}"],
                       cwd=INSPECTOR_CWD, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, (r.stdout, r.stderr, gw.log_text()[-2000:])
    names = [t["name"] for t in json.loads(r.stdout[r.stdout.index("{"):])["tools"]]
    assert "echo" in names and "get-env" not in names
