"""The console's auditor pages through the real binary: Chromium (headless, playwright-core)
signed in at the real OIDC provider, real PostgreSQL and a real HTTP upstream (json-server).

Hugo (eng) reads customers (the e-mail column is masked) and document 3 over SQL and over HTTP
(the `docs-api` resource masks `$.email`). Rita (auditors, auditors-raw) opens his session from
the search, reveals the values before masking with a reason, follows document 3's lineage and
checks the health page. Otto is an auditor outside the reveal groups; Opal approves access.
"""
import hashlib
import json
import os
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from console_browser import Browser
from harness import JITGATE, Gateway, make_keys
from http_peers import JsonServer

POLICIES = """policies:
  - { id: kb-read, match: { groups: [eng], resource: kb }, allow: [read, session] }
  - { id: kb-write, reason: writes need a data owner,
      match: { groups: [eng], resource: kb, kinds: [update] }, action: review,
      scope: statement, mode: fail_fast, approvers: { groups: [data-owners], count: 1 } }
  - id: docs-read
    reason: engineers read documents over HTTP
    match: { groups: [eng], resource: docs-api, methods: [GET], paths: ["/documents/*"] }
    action: allow
"""
SHOTS = Path(os.environ.get("JITGATE_CONSOLE_SHOTS") or tempfile.mkdtemp(prefix="jg-console-"))
TLS = ssl._create_unverified_context()
PEOPLE = {"hugo": ["eng"], "rita": ["auditors", "auditors-raw"], "otto": ["auditors"],
          "opal": ["data-owners"]}


def docs_api(url):
    return ["  - name: docs-api", "    kind: http", "    mount: /docs-api",
            f"    upstream: {{ url: {url} }}",
            '    masking: { json_paths: [{ path: "$.email", strategy: redact }] }',
            '    documents: { json_paths: ["$.doc_id"] }']


class AuditConsoleGateway(Gateway):
    def __init__(self, pg, idp, upstream):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin_tls=True, http=True,
                         resources=[{"name": "kb", "database": "kb", "documents":
                                     "{ table: public.documents, id_column: doc_id }"}],
                         extra_resources=docs_api(upstream))
        self.redirect = f"https://127.0.0.1:{self.admin_port}/console/callback"
        secret = idp.add_code_client("jitgate-console-audit", self.redirect)
        (self.dir / "console_secret").write_text(secret + "\n")
        os.chmod(self.dir / "console_secret", 0o600)
        keys = make_keys(self.dir / "keys")
        self.audit_dir = self.dir / "log"
        self.extra_yaml = (
            idp.identity_yaml() + f"store: sqlite://{self.dir}/state.db\n" +
            f"masking: {{ key_file: {keys}/mask.key, columns: "
            "[{ table: public.customers, column: email, strategy: redact }] }\n" +
            f"audit: {{ dir: {self.audit_dir}, durability: batched, "
            f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem, "
            "auditor_groups: [auditors], reveal_groups: [auditors-raw] }\n" +
            f"console: {{ client_id: jitgate-console-audit, client_secret_file: console_secret, "
            f"redirect_url: {self.redirect}, resource: {idp.AUDIENCE}, "
            f"scopes: [openid, db.read] }}\n")


@pytest.fixture(scope="module")
def upstream():
    with JsonServer() as js:
        yield js.url


@pytest.fixture(scope="module")
def gw(pg, idp, upstream):
    for user, groups in PEOPLE.items():
        idp.add_user(user, groups, email=f"{user}@corp.example")
    g = AuditConsoleGateway(pg, idp, upstream).start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def tokens(idp):
    return {u: idp.token(user=u, groups=g, email=f"{u}@corp.example") for u, g in PEOPLE.items()}


@pytest.fixture(scope="module")
def browser(gw):
    b = Browser(gw.admin_url, SHOTS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def hugo_session(gw, tokens):
    """Hugo's recorded session: a customer by a bound id (masked e-mail) and document 3."""
    with psycopg.connect(gw.dsn(db="kb", password=tokens["hugo"]), autocommit=True) as conn:
        row = conn.execute("select name, email from customers where id = %s", [1]).fetchone()
        assert row == ("Ada", "[REDACTED]") or "ada@example.com" not in str(row), row
        conn.execute("select doc_id, title from documents where doc_id = 3").fetchall()
    return wait_hits(gw, tokens["rita"], user="hugo@corp.example", table="public.customers")[0]


def wait_hits(gw, token, **query):
    deadline = time.time() + 15
    while True:
        status, hits = gw.admin("GET", "/api/v1/audit/statements", token, **query)
        assert status == 200, hits
        if hits or time.time() > deadline:
            assert hits, f"nothing indexed for {query}"
            return hits
        time.sleep(0.3)


def http_get(gw, path, token):
    req = urllib.request.Request(f"https://127.0.0.1:{gw.http_port}{path}",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=TLS, timeout=15) as res:
        return json.loads(res.read())


def api_post(gw, path, token, body):
    req = urllib.request.Request(gw.admin_url + path, method="POST", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=TLS, timeout=15) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_auditor_opens_a_session_from_the_search_and_sees_its_replay_as_sent(
        gw, browser, hugo_session):
    browser.ok("login", **{"as": "rita"})
    browser.ok("goto", **{"as": "rita", "page": "sessions"})
    found = browser.ok("search", **{"as": "rita", "fields": {"user": "hugo@corp.example",
                                                             "table": "public.customers"}})
    assert found["rows"] and hugo_session["session"] in found["rows"][0], found
    page = browser.ok("open_session", **{"as": "rita", "table": "hits",
                                        "session": hugo_session["session"]})
    assert page["url"].endswith(f"#session/{hugo_session['session']}"), page
    assert "hugo@corp.example" in page["facts"] and "kb" in page["facts"], page
    timeline = page["timeline"]
    assert "select name, email from customers where id = $1" in timeline, timeline
    assert "1 parameter value(s), sealed" in timeline and "1 row(s) as sent" in timeline
    assert "Ada" in timeline and "ada@example.com" not in timeline, timeline
    assert "allowed · rule kb-read" in timeline, timeline


def test_reveal_shows_values_before_masking_and_is_recorded_with_the_reason(
        gw, browser, tokens, hugo_session):
    page = browser.ok("reveal", **{"as": "rita", "reason": "ticket SEC-7: suspected leak"})
    assert "ticket SEC-7: suspected leak" in page["banner"], page
    assert "ada@example.com" in page["marked"], page  # the cell masking changed, marked
    assert "Parameters (before masking)" in page["timeline"] and '["1"]' in page["timeline"]
    browser.ok("screenshot", **{"as": "rita", "name": "console-session"})
    hits = wait_hits(gw, tokens["rita"], kind="replay", user="rita@corp.example")
    text = hits[0]["text"]
    assert hugo_session["session"] in text and "--raw" in text, hits
    assert "ticket SEC-7: suspected leak" in text, hits


def test_reveal_is_refused_outside_the_reveal_groups_and_without_a_reason(
        gw, browser, tokens, hugo_session):
    sid = hugo_session["session"]
    browser.ok("login", **{"as": "otto"})
    browser.ok("goto", **{"as": "otto", "page": "sessions"})
    browser.ok("search", **{"as": "otto", "fields": {"user": "hugo@corp.example"}})
    page = browser.ok("open_session", **{"as": "otto", "table": "hits", "session": sid})
    assert "ada@example.com" not in page["timeline"]
    refused = browser.ok("reveal", **{"as": "otto", "reason": "curious"})
    assert "HTTP 403" in refused["note"] and "may not reveal raw values" in refused["note"]
    assert refused["banner"] == "" and refused["marked"] == [], refused
    assert "members of auditors-raw" in refused["note"], refused
    path = f"/api/v1/audit/sessions/{sid}/reveal"
    status, body = api_post(gw, path, tokens["rita"], {"reason": "   "})
    assert status == 400 and "reason" in body["message"], body
    status, body = api_post(gw, path, tokens["hugo"], {"reason": "mine"})
    assert status == 403 and "not an auditor" in body["message"], body
    status, body = api_post(gw, "/api/v1/audit/sessions/no-such-session/reveal", tokens["rita"],
                            {"reason": "check"})
    assert status == 404, body
    status, hits = gw.admin("GET", "/api/v1/audit/statements", tokens["rita"], kind="replay",
                            user="otto@corp.example")
    assert status == 200 and hits == [], hits  # a refused reveal showed nothing
    # ... and each refusal of a person is an access record naming them and why.
    deadline = time.time() + 15
    while True:
        out = subprocess.run([str(JITGATE), "replay", "access", "--config", str(gw.config),
                              "--json"], capture_output=True, text=True, timeout=30).stdout
        refused = [json.loads(x) for x in out.splitlines() if '"reveal.refused"' in x]
        if len(refused) >= 3 or time.time() > deadline:
            break
        time.sleep(0.3)
    by = {(r["actor"], sid in r["comment"]) for r in refused}
    assert by == {("otto@corp.example", True), ("rita@corp.example", True),
                  ("hugo@corp.example", True)}, refused
    assert any("may not reveal raw values" in r["comment"] for r in refused), refused


def test_document_lineage_lists_its_sql_and_http_retrievals(gw, browser, tokens, hugo_session):
    doc = http_get(gw, "/docs-api/documents/3", tokens["hugo"])
    assert doc["doc_id"] == 3 and doc["email"] != "ops@globex.example", doc
    wait_hits(gw, tokens["rita"], document="3", protocol="http")
    browser.ok("login", **{"as": "rita"})
    browser.ok("goto", **{"as": "rita", "page": "documents"})
    found = browser.ok("lineage", **{"as": "rita", "document": "3"})
    assert "retrieval(s) of document 3 (" in found["status"], found
    assert "http" in found["status"] and "postgres" in found["status"], found
    texts = "\n".join(found["rows"])
    assert "GET /docs-api/documents/3" in texts and "where doc_id = 3" in texts, texts
    browser.ok("screenshot", **{"as": "rita", "name": "console-lineage"})
    none = browser.ok("lineage", **{"as": "rita", "document": "999999"})
    assert none["rows"] == [] and "Nothing recorded returned document 999999" in none["status"]
    http_hit = wait_hits(gw, tokens["rita"], document="3", protocol="http")[0]
    browser.ok("lineage", **{"as": "rita", "document": "3"})
    page = browser.ok("open_session", **{"as": "rita", "table": "lineage-hits",
                                        "session": http_hit["session"]})
    assert "GET /docs-api/documents/3" in page["timeline"], page
    assert "ops@globex.example" not in page["timeline"] and "documents 3" in page["timeline"]


def test_health_shows_the_configuration_checksum_store_recorder_and_verified_chain(
        gw, browser, tokens):
    checksum = "sha256:" + hashlib.sha256(Path(gw.config).read_bytes()).hexdigest()
    status, health = gw.admin("GET", "/api/v1/health", tokens["opal"])  # an approver
    assert status == 200 and health["config"]["checksum"] == checksum, health
    assert health["store"] == {"kind": "sqlite", "ok": True}, health
    assert health["recorder"]["ok"] and health["recorder"]["durability"] == "batched", health
    status, refused = gw.admin("GET", "/api/v1/health", tokens["hugo"])
    assert status == 403, refused
    status, refused = api_post(gw, "/api/v1/audit/verify", tokens["opal"], {})
    assert status == 403 and "auditor" in refused["message"], refused
    browser.ok("login", **{"as": "rita"})
    browser.ok("goto", **{"as": "rita", "page": "health"})
    page = browser.ok("health", **{"as": "rita", "state": "ok", "verify": True})
    assert "Verification started" in page["note"] or "already under way" in page["note"], page
    assert checksum in page["text"] and "sqlite: OK" in page["text"], page
    assert "chain intact" in page["text"] and "Records checked" in page["text"], page
    browser.ok("screenshot", **{"as": "rita", "name": "console-health"})


def test_a_tampered_audit_log_shows_as_failed_after_verify_now(gw, browser, tokens):
    instance = gw.admin("GET", "/api/v1/health", tokens["rita"])[1]["recorder"]["instance"]
    segments = sorted((gw.audit_dir / instance).glob("*.seg"))  # the gateway's own chain
    assert segments, list(gw.audit_dir.rglob("*"))
    data = bytearray(segments[0].read_bytes())
    written = len(bytes(data).rstrip(b"\0"))  # the segment is preallocated with zeros
    data[written // 3] ^= 0x20  # inside an early frame
    segments[0].write_bytes(bytes(data))
    # Records written after it: the altered frame is not the one being written at the end (which
    # a live check must take for a torn write).
    with psycopg.connect(gw.dsn(db="kb", password=tokens["hugo"]), autocommit=True) as conn:
        for _ in range(3):
            conn.execute("select 1").fetchall()
    status, body = api_post(gw, "/api/v1/audit/verify", tokens["rita"], {})
    assert status == 202, body
    deadline = time.time() + 20
    while gw.admin("GET", "/api/v1/health", tokens["rita"])[1]["audit_chain"]["state"] != "failed":
        assert time.time() < deadline, json.dumps(gw.admin("GET", "/api/v1/health", tokens["rita"])[1]["audit_chain"])
        time.sleep(0.3)
    page = browser.ok("health", **{"as": "rita", "state": "failed"})
    assert "chain FAILED" in page["text"] and "First bad record" in page["text"], page


def test_every_api_path_the_console_calls_is_in_the_documented_admin_api():
    import re
    import yaml
    root = Path(__file__).resolve().parents[2]
    documented = [p.split("/") for p in yaml.safe_load(
        (root / "docs" / "openapi.yaml").read_text())["paths"]]
    called = set()
    for js in (root / "console").glob("*.js"):
        for m in re.finditer(r"[`'](/(?:api|console/api|console/logout)[^`'?]*)", js.read_text()):
            called.add(re.sub(r"(\$\{[^}]*\})+", "{}", m.group(1)).rstrip("/"))
    assert len(called) >= 10, called

    def matches(path, doc):
        parts = path.split("/")
        return len(parts) == len(doc) and all(
            a == b or a == "{}" or (b.startswith("{") and a == "{}") for a, b in zip(parts, doc))
    missing = [p for p in sorted(called) if not any(matches(p, d) for d in documented)]
    assert not missing, f"the console calls undocumented paths: {missing}"
