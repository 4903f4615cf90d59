"""The HTTP gateway end to end: real upstreams (the Qdrant-subset vector store on @orama/orama,
json-server), real clients (requests, httpx, curl, the official @qdrant/js-client-rest), the
real OIDC provider and the real binary. Each test names the behaviour it checks."""
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.request

import httpx
import pytest
import requests

from embed import embed
from http_gateway import HttpGateway
from http_peers import JsonServer, McpEverything, VectorStore, run_qdrant_client

POLICIES = """policies:
  - id: kb-search
    reason: pipelines search the knowledge base, at most 50 hits at a time
    match:
      groups: [rag]
      resource: kb-search
      methods: [POST]
      paths: ["/collections/docs/points/search"]
      body:
        - { pointer: /limit, max: 50 }
    action: allow
    response: { max_items: 3, items: $.result }
  - id: kb-browse
    reason: pipelines list collections and stream exports
    match: { groups: [rag], resource: kb-search, methods: [GET],
             paths: ["/collections", "/collections/docs", "/collections/docs/points/export",
                     "/collections/docs/events"] }
    action: allow
  - id: protected-read
    reason: pipelines may search customer records once a data owner approves
    match: { groups: [rag], resource: kb-search, methods: [POST],
             paths: ["/collections/protected/points/search"] }
    action: allow
  - id: protected-review
    reason: customer records need a data owner's approval
    match: { resource: kb-search, paths: ["/collections/protected/**"] }
    action: review
    mode: fail_fast
    approvers: { groups: [data-owners] }
  - id: docs-scroll
    reason: pipelines may page through the knowledge base once a data owner agrees
    match: { groups: [rag], resource: kb-search, methods: [POST],
             paths: ["/collections/docs/points/scroll"] }
    action: allow
  - id: scroll-review
    reason: a full scroll of the knowledge base waits for a data owner
    match: { resource: kb-search, paths: ["/collections/docs/points/scroll"] }
    action: review
    mode: wait
    approvers: { groups: [data-owners] }
  - id: no-delete
    reason: nothing is deleted through the gateway
    match: { resource: kb-search, methods: [DELETE] }
    action: deny
  - id: docs-read
    reason: pipelines read the documents API
    match: { groups: [rag], resource: docs-api, methods: [GET] }
    action: allow
  - id: mcp-post
    reason: agents talk to the MCP server over Streamable HTTP
    match: { groups: [rag], resource: tools, methods: [POST], paths: ["/mcp"] }
    action: allow
"""


@pytest.fixture(scope="module")
def store():
    with VectorStore(api_key="qdrant-test-key-7c1e", gzip=True, tls=True) as vs:
        yield vs


@pytest.fixture(scope="module")
def docs_api():
    with JsonServer() as js:
        yield js


@pytest.fixture(scope="module")
def mcp():
    with McpEverything() as m:
        yield m


@pytest.fixture(scope="module")
def gw(idp, store, docs_api, mcp):
    g = HttpGateway(idp, resources=[], policies=POLICIES, masking=True, audit=True)
    key = g.write_secret("qdrant.key", store.api_key)
    g.resources = [
        {"name": "kb-search", "url": store.url, "upstream_extra": f", ca_file: {store.ca}",
         "credential": f"{{ header: {{ name: api-key, value_file: {key} }} }}",
         "token": "{ header: api-key }",
         "masking": '{ json_paths: [{ path: "$.result[*].payload.owner", strategy: tokenize }] }',
         "documents": '{ json_paths: ["$.result[*].id"] }'},
        {"name": "docs-api", "url": docs_api.url},
        {"name": "tools", "url": mcp.url.rsplit("/mcp", 1)[0]},
    ]
    g.start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def token(idp):
    return idp.token(client="rag-pipeline", groups=["rag"], email="rag@svc.example")


def search(gw, token, limit=5, text="refund policy", collection="docs", **extra):
    body = {"vector": embed(text), "limit": limit, "with_payload": True, **extra}
    return requests.post(gw.url("kb-search", f"/collections/{collection}/points/search"),
                         json=body, headers={"api-key": token}, verify=gw.ca, timeout=30)


def problem(resp):
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    body = resp.json()
    assert body["status"] == resp.status_code and body["title"] and body["detail"]
    return body


# ---- 3. identity --------------------------------------------------------------------------


def test_request_without_token_is_401_with_www_authenticate_and_problem(gw):
    r = requests.get(gw.url("kb-search", "/collections"), verify=gw.ca, timeout=10)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer realm=\"jitgate\"")
    assert "api-key" in problem(r)["detail"]


def test_forged_token_is_401_invalid_token(gw, token):
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = requests.get(gw.url("kb-search", "/collections"), headers={"api-key": forged},
                     verify=gw.ca, timeout=10)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    problem(r)


def test_official_qdrant_client_searches_with_the_token_as_its_api_key(gw, token):
    rc, out, err = run_qdrant_client(gw.url("kb-search"), token, "search", "--collection", "docs",
                                     "--text", "refund policy", "--limit", "3", ca=gw.ca)
    assert rc == 0, err
    hits = json.loads(out)
    assert 1 <= len(hits) <= 3
    assert all("payload" in h for h in hits)


# ---- 2. upstream credentials ----------------------------------------------------------------


def test_upstream_gets_the_gateway_key_never_the_callers_token(gw, store, token):
    # The store refuses any api-key but its own: a 200 means the gateway replaced the header.
    r = requests.get(gw.url("kb-search", "/collections"), headers={"api-key": token},
                     verify=gw.ca, timeout=10)
    assert r.status_code == 200, r.text
    direct = requests.get(store.url + "/collections", headers={"api-key": token},
                          verify=store.ca, timeout=10)
    assert direct.status_code == 401


# ---- 4. policy ------------------------------------------------------------------------------


def test_search_within_the_limit_is_allowed_and_items_are_capped(gw, token):
    r = search(gw, token, limit=10)
    assert r.status_code == 200, r.text
    assert len(r.json()["result"]) == 3  # the rule's response.max_items


def test_over_broad_search_is_refused_with_the_reason(gw, token):
    r = search(gw, token, limit=500)
    assert r.status_code == 403
    body = problem(r)
    assert "limit" in body["detail"] and "50" in body["detail"]


def test_delete_is_denied_by_rule(gw, token):
    r = requests.delete(gw.url("kb-search", "/collections/docs"), headers={"api-key": token},
                        verify=gw.ca, timeout=10)
    assert r.status_code == 403
    assert problem(r)["rule"] == "no-delete"


def test_a_path_no_rule_allows_is_default_deny(gw, token):
    r = requests.get(gw.url("kb-search", "/cluster"), headers={"api-key": token}, verify=gw.ca,
                     timeout=10)
    assert r.status_code == 403
    assert problem(r)["rule"] == "default-deny"


def test_unknown_mount_is_404_problem(gw, token):
    r = requests.get(gw.base + "/nowhere/x", headers={"api-key": token}, verify=gw.ca, timeout=10)
    assert r.status_code == 404
    assert "/nowhere/x" in problem(r)["detail"]


# ---- 6. masking -----------------------------------------------------------------------------


def test_search_results_are_masked_by_detectors_and_path_rules(gw, store, token):
    r = search(gw, token, limit=3)
    assert r.status_code == 200
    text = r.text
    raw = requests.post(store.url + "/collections/docs/points/search",
                        json={"vector": embed("refund policy"), "limit": 3, "with_payload": True},
                        headers={"api-key": store.api_key}, verify=store.ca, timeout=10).json()
    emails = [p["payload"]["email"] for p in raw["result"] if p["payload"].get("email")]
    owners = [p["payload"]["owner"] for p in raw["result"]]
    assert emails and all(e not in text for e in emails)
    assert all(o not in text for o in owners)
    assert "[EMAIL]" in text or "EMAIL" in text


def test_gzip_upstream_body_is_decoded_and_masked(gw, store, token):
    # The store compresses whenever asked; the gateway asks for gzip and decodes it itself.
    r = search(gw, token, limit=3)
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert json.loads(r.text)["result"]
    searches = [l for l in store.log_text().splitlines() if "/points/search" in l]
    assert searches and "gzip" in searches[-1]  # the store did compress that answer


def test_ndjson_export_is_masked_line_by_line(gw, token):
    with requests.get(gw.url("kb-search", "/collections/docs/points/export"),
                      headers={"api-key": token}, verify=gw.ca, stream=True, timeout=30) as r:
        assert r.status_code == 200
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert len(lines) >= 3
    assert all("@acme.example" not in json.dumps(p) for p in lines)


def test_sse_events_are_masked_and_arrive_before_the_stream_ends(gw, token):
    first_at, events = None, []
    start = time.monotonic()
    with httpx.Client(verify=gw.ca, timeout=30) as c:
        with c.stream("GET", gw.url("kb-search", "/collections/docs/events"),
                      headers={"api-key": token}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data:"):
                    first_at = first_at or time.monotonic() - start
                    events.append(json.loads(line[5:]))
    total = time.monotonic() - start
    assert len(events) >= 3
    assert first_at < total  # streamed event by event, not buffered to the end
    assert all("@acme.example" not in json.dumps(e) for e in events)


def test_docs_api_over_plain_http_upstream_is_masked(gw, idp, token):
    r = httpx.get(gw.url("docs-api", "/documents"), headers={"authorization": f"Bearer {token}"},
                  verify=gw.ca, timeout=10)
    assert r.status_code == 200, r.text
    assert "billing@acme.example" not in r.text and "[EMAIL]" in r.text


def test_mcp_server_sse_response_streams_through_as_masked_events(gw, token):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "jitgate-test", "version": "1"}}}
    r = requests.post(gw.url("tools", "/mcp"), json=init, verify=gw.ca, timeout=30,
                      headers={"authorization": f"Bearer {token}",
                               "accept": "application/json, text/event-stream"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    data = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    assert data and data[0]["result"]["serverInfo"]["name"]
    assert r.headers.get("mcp-session-id")  # the server's session header comes back


# ---- 5. approvals ---------------------------------------------------------------------------


def test_protected_collection_needs_approval_then_runs_once(gw, idp, token):
    r = search(gw, token, limit=2, collection="protected")
    assert r.status_code == 403
    body = problem(r)
    review = body["review_id"]
    assert body["review_url"].endswith(review)
    owner = idp.token(user="dora", groups=["data-owners"], email="dora@example.com")
    req = urllib.request.Request(f"{gw.admin_url}/api/v1/reviews/{review}/approve",
                                 data=b'{"comment":"ok for the ticket"}', method="POST",
                                 headers={"Authorization": f"Bearer {owner}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status == 200
    again = search(gw, token, limit=2, collection="protected")
    assert again.status_code == 200, again.text
    hits = again.json()["result"]
    assert hits and all(h["payload"]["ssn"] == "[US_SSN]" for h in hits)
    assert all(h["payload"]["card"] == "[CREDIT_CARD]" for h in hits)
    third = search(gw, token, limit=2, collection="protected")
    assert third.status_code == 403  # a one-time approval


def test_wait_mode_holds_the_request_until_a_data_owner_approves(gw, idp, token):
    result = {}

    def held():
        result["r"] = requests.post(gw.url("kb-search", "/collections/docs/points/scroll"),
                                    json={"limit": 2, "with_payload": True},
                                    headers={"api-key": token}, verify=gw.ca, timeout=60)

    t = threading.Thread(target=held)
    t.start()
    owner = idp.token(user="dora", groups=["data-owners"], email="dora@example.com")
    review = None
    for _ in range(100):
        req = urllib.request.Request(f"{gw.admin_url}/api/v1/reviews?state=pending",
                                     headers={"Authorization": f"Bearer {owner}"})
        with urllib.request.urlopen(req, timeout=10) as res:
            pending = [r for r in json.loads(res.read())["reviews"]
                       if "scroll-review" in json.dumps(r)]
        if pending:
            review = pending[0]["id"]
            break
        time.sleep(0.1)
    assert review, "no pending review for the held request"
    assert t.is_alive()  # still held: nothing was answered yet
    req = urllib.request.Request(f"{gw.admin_url}/api/v1/reviews/{review}/approve", data=b"{}",
                                 method="POST", headers={"Authorization": f"Bearer {owner}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status == 200
    t.join(timeout=60)
    assert result["r"].status_code == 200, result["r"].text
    assert "@acme.example" not in result["r"].text


# ---- 1. listener limits and bad input --------------------------------------------------------


def raw_exchange(gw, data, read_timeout=5.0):
    ctx = ssl.create_default_context(cafile=gw.ca)
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=read_timeout) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(data)
            out = b""
            try:
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except (socket.timeout, ssl.SSLError, ConnectionResetError):
                pass
            return out


def test_smuggling_with_content_length_and_transfer_encoding_is_400(gw, token):
    out = raw_exchange(gw, b"POST /kb-search/collections HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert b"application/problem+json" in out


def test_oversized_header_is_431(gw):
    out = raw_exchange(gw, b"GET /kb-search/collections HTTP/1.1\r\nHost: x\r\nX-Big: " +
                       b"a" * 40000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431"), out[:200]


def test_oversized_body_is_413_before_the_body_is_sent(gw, token, tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * (11 << 20))
    r = subprocess.run(["curl", "-sS", "--cacert", gw.ca, "-o", str(tmp_path / "out"), "-w",
                        "%{http_code}", "-H", f"api-key: {token}", "-H",
                        "content-type: application/json", "-H", "Expect: 100-continue",
                        "--data-binary", f"@{big}",
                        gw.url("kb-search", "/collections/docs/points/search")],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "413", r.stdout + r.stderr
    assert "max_body_bytes" in (tmp_path / "out").read_text()


def test_malformed_json_body_is_400(gw, token):
    r = requests.post(gw.url("kb-search", "/collections/docs/points/search"),
                      data=b'{"limit": 5,', headers={"api-key": token,
                                                     "content-type": "application/json"},
                      verify=gw.ca, timeout=10)
    assert r.status_code == 400
    assert "JSON" in problem(r)["detail"]


def test_keep_alive_serves_several_requests_on_one_connection(gw, token):
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", gw.http_port, timeout=10,
                                       context=ssl.create_default_context(cafile=gw.ca))
    sockets = []
    for _ in range(3):
        conn.request("GET", "/kb-search/collections", headers={"api-key": token})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        assert r.getheader("connection", "").lower() != "close"
        sockets.append(conn.sock)
    conn.close()
    # http.client opens a new socket after the server closes one: the same socket means one
    # connection served all three.
    assert sockets[0] is not None and all(s is sockets[0] for s in sockets)


def test_curl_gets_the_collections(gw, token):
    r = subprocess.run(["curl", "-sS", "--cacert", gw.ca, "-H", f"api-key: {token}",
                        gw.url("kb-search", "/collections")], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    assert "collections" in r.stdout


# ---- 7. recording and 8. operations --------------------------------------------------------


def test_exchanges_are_recorded_and_searchable(gw, token):
    assert search(gw, token, limit=2).status_code == 200
    r = gw.cli("audit", "search", "--config", str(gw.config), "--protocol", "http",
               "--resource", "kb-search", "--path", "/kb-search/collections/*/points/search")
    assert "/kb-search/collections/docs/points/search" in r.stdout, r.stdout
    denied = gw.cli("audit", "search", "--config", str(gw.config), "--protocol", "http",
                    "--status", "403")
    assert "DELETE" in denied.stdout or "403" in denied.stdout, denied.stdout


def test_metrics_count_requests_by_resource_decision_and_status(gw, token):
    search(gw, token, limit=500)
    with urllib.request.urlopen(gw.admin_url + "/metrics", timeout=10) as res:
        text = res.read().decode()
    assert 'jitgate_http_requests_total{resource="kb-search",decision="deny",status="403"}' in text
    assert "jitgate_http_request_seconds_bucket" in text


def test_check_config_lists_http_resources(gw):
    r = gw.cli("check-config", str(gw.config))
    assert "http /kb-search ->" in r.stdout
