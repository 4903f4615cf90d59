"""The audit HTTP API on the admin listener: statement search and session records for members of
`audit.auditor_groups`, with real OIDC tokens; 401 without a valid token, 403 for others."""
import json
import re
import time

import psycopg
import pytest

from harness import Gateway, make_keys


class AuditGateway(Gateway):
    def __init__(self, pg, idp):
        super().__init__(pg, static_auth=False, admin=True)
        keys = make_keys(self.dir / "keys")
        self.extra_yaml = (idp.identity_yaml() + f"""store: sqlite://{self.dir}/state.db
audit:
  dir: {self.dir}/log
  durability: strict
  raw_payloads: encrypted
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
  auditor_groups: [auditors, security]
masking:
  key_file: {keys}/mask.key
""")



@pytest.fixture(scope="module")
def gw(pg, idp):
    g = AuditGateway(pg, idp).start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def people(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], email="alice@corp.example"),
        "audrey": idp.token(user="audrey", groups=["auditors"], email="audrey@corp.example"),
    }


@pytest.fixture(scope="module")
def session(gw, people):
    """Alice runs a session with a bind parameter and a masked result; returns its id."""
    with psycopg.connect(gw.dsn(password=people["alice"])) as conn:
        assert conn.execute("select doc_id, title from documents where doc_id = %s /* api */",
                            [42]).fetchall() == [(42, "doc 42")]
        conn.execute("select name, email from customers order by id").fetchall()
    sid = re.findall(r"\[(s-[a-z0-9]+)\] authenticated", gw.log_text())[-1]
    # The index is written just after the records are durable: wait for it.
    deadline = time.time() + 10
    while time.time() < deadline:
        status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], session=sid)
        if status == 200 and len(hits) >= 2:
            break
        time.sleep(0.2)
    return sid


def test_no_or_bad_token_is_401(gw, session):
    for path in ("/api/v1/audit/statements", f"/api/v1/audit/sessions/{session}"):
        status, body = gw.admin("GET", path)
        assert status == 401 and body["error"] == "unauthorized"
        status, body = gw.admin("GET", path, token="not-a-token")
        assert status == 401 and body["error"] == "unauthorized"


def test_non_auditor_is_403(gw, people, session):
    for path in ("/api/v1/audit/statements", f"/api/v1/audit/sessions/{session}"):
        status, body = gw.admin("GET", path, people["alice"])
        assert status == 403 and body["error"] == "forbidden", body
        assert "auditor" in body["message"]


def test_auditor_searches_statements(gw, people, session):
    status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], contains="/* api */")
    assert status == 200 and isinstance(hits, list), hits
    mine = [h for h in hits if h["session"] == session]
    assert mine and mine[0]["email"] == "alice@corp.example"
    assert mine[0]["decision"] == "allow"
    status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"],
                       user="alice@corp.example", table="public.customers",
                       since="1h", limit="5")
    assert status == 200 and any(h["session"] == session for h in hits), hits
    assert len(hits) <= 5
    status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], user="nobody@x")
    assert (status, hits) == (200, [])


def test_bad_parameters_are_400(gw, people, session):
    for query in ({"limit": "0"}, {"limit": "many"}, {"since": "yesterday-ish"},
                  {"decision": "maybe"}, {"colour": "blue"}):
        status, body = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], **query)
        assert status == 400 and body["error"] == "bad_request", (query, body)
    status, body = gw.admin("GET", "/api/v1/audit/sessions/bad%20id", people["audrey"])
    assert status == 400, body


def test_mcp_filters_are_accepted_and_select_only_mcp_calls(gw, people, session):
    # The SQL session has statements, none of them an MCP call: a tool or JSON-RPC method filter
    # (and the mcp protocol) leaves them out instead of being refused or ignored.
    status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], session=session)
    assert status == 200 and hits, hits
    for query in ({"tool": "*"}, {"rpc_method": "tools/call"}, {"protocol": "mcp"}):
        status, hits = gw.admin("GET", "/api/v1/audit/statements", people["audrey"],
                                session=session, **query)
        assert (status, hits) == (200, []), (query, hits)
    status, body = gw.admin("GET", "/api/v1/audit/statements", people["audrey"], protocol="ftp")
    assert status == 400 and "mcp" in body["message"], body


def test_auditor_reads_a_session_masked_view_only(gw, people, session):
    status, body = gw.admin("GET", f"/api/v1/audit/sessions/{session}", people["audrey"])
    assert status == 200, body
    assert body["session"] == session and body["truncated"] is False
    types = [r["type"] for r in body["records"]]
    assert types[0] == "connect" and "auth" in types and types[-1] == "session_end"
    bound = [r for r in body["records"] if r["type"] == "statement" and r.get("param_digests")]
    assert bound and all("params" not in r for r in bound)
    assert all("raw_rows" not in r for r in body["records"])
    text = json.dumps(body)
    assert "ada@example.com" not in text  # masked, as the client saw it
    assert "select name, email from customers" in text
    assert people["alice"] not in text
    status, body = gw.admin("GET", "/api/v1/audit/sessions/s-doesnotexist", people["audrey"])
    assert status == 404 and body["error"] == "not_found"
