"""The HTTP gateway's routing by host, session-scope grants and their revocation, and recording
in both durability modes, end to end: the real binary, json-server upstreams, the real OIDC
provider and `requests` on one keep-alive connection where the behaviour is per connection."""
import json
import os
import subprocess
import time
import urllib.request

import pytest
import requests

from harness import fill_filesystem
from http_gateway import HttpGateway
from http_peers import JsonServer

POLICIES = """policies:
  - id: docs-read
    reason: pipelines read the documents API
    match: { groups: [rag], resource: [docs-a, docs-any, docs-b], methods: [GET] }
    action: allow
  - id: vault-read
    reason: pipelines read the vault's documents
    match: { groups: [rag], resource: vault, methods: [GET] }
    action: allow
  - id: vault-window
    reason: the vault opens for a time window once a data owner agrees
    match: { resource: vault }
    action: review
    scope: session
    mode: fail_fast
    grant: 1h
    approvers: { groups: [data-owners] }
"""


@pytest.fixture(scope="module")
def upstreams():
    with JsonServer() as a, JsonServer() as b:
        # Tell the two apart by a document only one of them has.
        requests.post(b.url + "/documents", json={"id": 99, "title": "only on b"}, timeout=10)
        yield a, b


@pytest.fixture(scope="module")
def gw(idp, upstreams):
    a, b = upstreams
    g = HttpGateway(idp, resources=[
        {"name": "docs-a", "url": a.url, "mount": "/docs", "host": "a.docs.example"},
        {"name": "docs-any", "url": a.url, "mount": "/docs"},
        {"name": "docs-b", "url": b.url, "mount": "/docs", "host": "B.Docs.Example"},
        {"name": "vault", "url": b.url},
    ], policies=POLICIES, audit=True)
    g.start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def token(idp):
    return idp.token(client="rag-pipeline", groups=["rag"], email="rag@svc.example")


def api(gw, method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.admin_url + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read() or b"{}")


def titles(resp):
    assert resp.status_code == 200, resp.text
    return {d["title"] for d in resp.json()}


# ---- routing by host -----------------------------------------------------------------------


def test_host_specific_mount_wins_and_host_is_case_insensitive_without_port(gw, token):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    on_b = s.get(gw.url("docs", "/documents"), verify=gw.ca, timeout=10,
                 headers={"Host": f"b.docs.example:{gw.http_port}"})
    assert "only on b" in titles(on_b)
    on_a = s.get(gw.url("docs", "/documents"), verify=gw.ca, timeout=10,
                 headers={"Host": "A.DOCS.EXAMPLE"})
    assert "only on b" not in titles(on_a)
    other = s.get(gw.url("docs", "/documents"), verify=gw.ca, timeout=10)  # Host: 127.0.0.1
    assert "only on b" not in titles(other)
    searched = gw.cli("audit", "search", "--config", str(gw.config), "--protocol", "http",
                      "--resource", "docs-b", "--json").stdout
    assert "/docs/documents" in searched, searched


# ---- session-scope grants --------------------------------------------------------------------


def test_session_grant_opens_the_vault_and_revocation_closes_it_on_the_same_connection(
        gw, idp, token):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    url = gw.url("vault", "/documents/1")
    first = s.get(url, verify=gw.ca, timeout=10)
    assert first.status_code == 403, first.text
    review = first.json()["review_id"]
    owner = idp.token(user="dora", groups=["data-owners"], email="dora@example.com")
    api(gw, "POST", f"/api/v1/reviews/{review}/approve", owner, {"comment": "incident 42"})

    # The grant covers the resource for its window: any request, as often as needed.
    for path in ("/documents/1", "/documents/2", "/documents/1"):
        r = s.get(gw.url("vault", path), verify=gw.ca, timeout=10)
        assert r.status_code == 200, r.text
    grants = api(gw, "GET", "/api/v1/grants?state=active", owner)["grants"]
    grant = [g for g in grants if g["resource"] == "vault"][0]
    api(gw, "POST", f"/api/v1/grants/{grant['id']}/revoke", owner, {"reason": "incident over"})

    after = s.get(url, verify=gw.ca, timeout=10)  # the same keep-alive connection
    assert after.status_code == 403, after.text
    assert after.json()["review_id"] != review
    found = gw.cli("audit", "search", "--config", str(gw.config), "--resource", "vault",
                   "--json").stdout
    rows = [json.loads(line) for line in found.splitlines() if line.strip()]
    decisions = [r.get("decision") for r in rows]
    assert decisions.count("allow") >= 3 and decisions.count("review") >= 2, found


# ---- recording in both durability modes -----------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "auditfs"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def fill(directory):
    fill_filesystem(directory)


@pytest.mark.parametrize("durability", ["batched", "strict"])
def test_full_audit_disk_refuses_http_requests_with_503_and_recovers(idp, upstreams, token,
                                                                   tmpfs, durability):
    a, _ = upstreams
    g = HttpGateway(idp, resources=[{"name": "docs-a", "url": a.url}], policies=POLICIES,
                    audit=True, durability=durability)
    g.write_config()
    text = g.config.read_text().replace(f"dir: {g.dir}/audit", f"dir: {tmpfs}/log")
    text = text.replace("durability:", "segment_max_bytes: 4096\n  retry_interval: 200ms\n"
                        "  durability:")
    g.config.write_text(text)
    g.write_config = lambda: None  # keep the edited file
    g.start()
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        url = g.url("docs-a", "/documents")
        assert s.get(url, verify=g.ca, timeout=10).status_code == 200
        fill(tmpfs)
        # A response whose recording fails midway is cut (never finished unrecorded); the
        # requests after that are refused before they reach the upstream.
        refused, cut = None, 0
        for _ in range(300):
            try:
                r = s.get(url, verify=g.ca, timeout=10)
            except requests.RequestException:
                cut += 1
                s = requests.Session()
                s.headers["Authorization"] = f"Bearer {token}"
                continue
            if r.status_code != 200:
                refused = r
                break
            fill(tmpfs)
        assert refused is not None, f"the full audit disk was never noticed ({cut} cut)"
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "audit log" in refused.json()["detail"]
        os.remove(tmpfs / "filler")
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if requests.get(url, headers=s.headers, verify=g.ca,
                                timeout=10).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("the gateway did not recover after space was freed")
        g.stop()
        verified = g.cli("audit", "verify", "--config", str(g.config), check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        g.cleanup()


# ---- sandbox replay --------------------------------------------------------------------------


def test_sandbox_replay_resends_an_http_session_and_reports_what_differs(gw, upstreams, token):
    a, b = upstreams
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    one = s.get(gw.url("docs", "/documents/1"), verify=gw.ca, timeout=10,
                headers={"Host": "a.docs.example"})
    every = s.get(gw.url("docs", "/documents"), verify=gw.ca, timeout=10,
                  headers={"Host": "a.docs.example"})
    assert one.status_code == every.status_code == 200
    found = gw.cli("audit", "search", "--config", str(gw.config), "--resource", "docs-a",
                   "--path", "/docs/documents/1", "--limit", "1", "--json").stdout
    session = json.loads(found.splitlines()[0])["session"]

    # Against upstream a itself: every allowed request answers as recorded.
    same = gw.cli("replay", session, "--config", str(gw.config), "--sandbox-url", a.url,
                  "--json", check=False)
    report = json.loads(same.stdout.splitlines()[-1])
    assert same.returncode == 0 and report["ok"], same.stdout + same.stderr
    assert report["matched"] >= 2 and report["differed"] == 0, report

    # Against upstream b, which holds one more document: the listing differs, document 1 not.
    other = gw.cli("replay", session, "--config", str(gw.config), "--sandbox-url", b.url,
                   "--json", check=False)
    report = json.loads(other.stdout.splitlines()[-1])
    assert other.returncode == 1 and not report["ok"], other.stdout + other.stderr
    by_target = {x["target"]: x["outcome"] for x in report["requests"]}
    assert by_target["/documents/1"] == "match", by_target
    assert by_target["/documents"] == "differs", by_target
