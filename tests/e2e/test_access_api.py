"""Just-in-time access through the admin API and the CLI, with real OIDC identities.

Alice (engineer) asks ahead with `jitgate request`; Bob and Carol (data owners) decide with
`jitgate review`; Eve is an engineer who approves nothing. The admin listener (`listen.admin`)
must be up: every test fails loudly when it is not.
"""
import json
import os
import subprocess
import threading
import time

import pytest

from harness import JITGATE, Gateway

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-approval, reason: engineers need two data owners to look at kb,
      match: { groups: [eng], resource: kb }, action: review, scope: session, mode: wait,
      approvers: { groups: [data-owners], count: 2 }, grant: 1h }
  - { id: hr-read, match: { groups: [eng], resource: hr }, allow: [read, session], role: reader }
  - { id: hr-approval, reason: one data owner approves hr access,
      match: { groups: [eng], resource: hr }, action: review, scope: session, mode: fail_fast,
      approvers: { groups: [data-owners], count: 1 }, grant: 30m }
"""


class AccessGateway(Gateway):
    """The harness gateway plus an admin listener, a state store and access settings."""

    def __init__(self, pg, idp, access_yaml=""):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True,
                         resources=[{"name": "kb", "database": "kb"},
                                    {"name": "hr", "database": "kb"}])
        self.extra_yaml = (idp.identity_yaml() + f"store: sqlite://{self.dir}/state.db\n" +
                           (access_yaml or "access: { pending_expiry: 10m }\n"))




@pytest.fixture(scope="module")
def gw(pg, idp):
    g = AccessGateway(pg, idp).start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def people(idp):
    """Fresh tokens for each person (they last an hour)."""
    return {
        "alice": idp.token(user="alice", groups=["eng"], email="alice@corp.example"),
        "eve": idp.token(user="eve", groups=["eng"], email="eve@corp.example"),
        "bob": idp.token(user="bob", groups=["data-owners"], email="bob@corp.example"),
        "carol": idp.token(user="carol", groups=["data-owners", "eng"],
                           email="carol@corp.example"),
    }


def cli(gw, token, *args, timeout=30):
    """Runs `jitgate ...` against the admin API with the token in $JITGATE_TOKEN."""
    env = dict(os.environ, JITGATE_TOKEN=token, JITGATE_ADMIN_URL=gw.admin_url,
               JITGATE_TOKEN_CACHE="/nonexistent/jitgate-token.json")
    return subprocess.run([str(JITGATE), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def request_via_cli(gw, token, resource, reason, *extra):
    r = cli(gw, token, "request", resource, "--reason", reason, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_health_needs_no_token(gw):
    assert gw.admin("GET", "/healthz") == (200, {"status": "ok"})


def test_api_refuses_missing_and_bad_tokens_with_json(gw, people):
    status, body = gw.admin("GET", "/api/v1/reviews")
    assert status == 401 and body["error"] == "unauthorized"
    status, body = gw.admin("GET", "/api/v1/reviews", token="not-a-token")
    assert status == 401 and body["error"] == "unauthorized"
    forged = people["bob"][:-4] + ("AAAA" if not people["bob"].endswith("AAAA") else "BBBB")
    assert gw.admin("GET", "/api/v1/reviews", token=forged)[0] == 401
    assert people["bob"] not in gw.log_text()


def test_ask_ahead_then_two_distinct_approvers_make_a_grant(gw, people):
    review = request_via_cli(gw, people["alice"], "kb", "incident 4711", "--role", "reader",
                             "--for", "30m")
    rid = review["id"]
    assert review["state"] == "pending" and review["rule"] == "kb-approval"
    assert review["grant_duration_seconds"] == 1800
    assert f"jitgate review approve {rid}" in review["hint"]

    status = cli(gw, people["alice"], "request", "status", rid)
    assert status.returncode == 0 and "pending" in status.stdout, status.stderr

    # Nobody approves their own review.
    own = cli(gw, people["alice"], "review", "approve", rid)
    assert own.returncode == 1 and "own review" in own.stderr
    # Eve is not a data owner.
    eve = cli(gw, people["eve"], "review", "approve", rid)
    assert eve.returncode == 1 and "data-owners" in eve.stderr

    first = cli(gw, people["bob"], "review", "approve", rid, "--comment", "ok for the incident")
    assert first.returncode == 0, first.stderr
    assert "pending (1 of 2 approvals)" in first.stdout
    again = cli(gw, people["bob"], "review", "approve", rid)
    assert again.returncode == 1 and "already" in again.stderr

    second = cli(gw, people["carol"], "review", "approve", rid)
    assert second.returncode == 0, second.stderr
    assert "approved" in second.stdout

    done = cli(gw, people["alice"], "request", "status", rid, "--json")
    shown = json.loads(done.stdout)
    assert shown["state"] == "approved" and shown["grant_id"].startswith("g-")
    assert [d["approver"]["email"] for d in shown["decisions"]] == \
        ["bob@corp.example", "carol@corp.example"]
    assert shown["decisions"][0]["comment"] == "ok for the incident"

    grants = cli(gw, people["bob"], "review", "grants", "--state", "active", "--json")
    active = json.loads(grants.stdout)["grants"]
    assert any(g["id"] == shown["grant_id"] and g["grantee"]["email"] == "alice@corp.example"
               for g in active)


def test_self_approval_is_refused_with_403(gw, people):
    # Carol is an engineer and a data owner: she may ask, and approve others, not herself.
    status, review = gw.admin("POST", "/api/v1/reviews", people["carol"],
                         {"resource": "hr", "reason": "payroll check", "duration": "10m"})
    assert status == 201, review
    status, body = gw.admin("POST", f"/api/v1/reviews/{review['id']}/approve", people["carol"], {})
    assert status == 403 and body["error"] == "forbidden"
    assert "own review" in body["message"]


def test_rejection_is_final_and_visible_to_the_requester(gw, people):
    review = request_via_cli(gw, people["eve"], "hr", "curiosity")
    rejected = cli(gw, people["bob"], "review", "reject", review["id"], "--comment", "no need")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout, rejected.stderr
    status = cli(gw, people["eve"], "request", "status", review["id"])
    assert status.returncode == 1 and "rejected" in status.stdout and "no need" in status.stdout
    assert gw.admin("POST", f"/api/v1/reviews/{review['id']}/approve", people["carol"], {})[0] == 409


def test_reviews_are_listed_to_approvers_and_to_their_requesters_only(gw, people):
    mine = request_via_cli(gw, people["eve"], "kb", "listing test")
    status, body = gw.admin("GET", "/api/v1/reviews?state=pending", people["bob"])
    assert status == 200 and mine["id"] in [r["id"] for r in body["reviews"]]
    status, body = gw.admin("GET", "/api/v1/reviews", people["alice"])
    assert status == 200
    assert all(r["requester"]["email"] == "alice@corp.example" for r in body["reviews"])
    assert gw.admin("GET", f"/api/v1/reviews/{mine['id']}", people["alice"])[0] == 403
    assert gw.admin("GET", "/api/v1/reviews/r-doesnotexist", people["bob"])[0] == 404
    listed = cli(gw, people["bob"], "review", "list", "--state", "pending")
    assert listed.returncode == 0 and mine["id"] in listed.stdout


def test_revoking_a_grant(gw, people):
    review = request_via_cli(gw, people["alice"], "hr", "quarter close", "--for", "5m")
    approved = cli(gw, people["bob"], "review", "approve", review["id"])
    assert approved.returncode == 0, approved.stderr
    grant = gw.admin("GET", f"/api/v1/reviews/{review['id']}", people["alice"])[1]["grant_id"]
    status, body = gw.admin("POST", f"/api/v1/grants/{grant}/revoke", people["eve"], {})
    assert status == 403
    revoked = cli(gw, people["carol"], "review", "revoke", grant, "--reason", "quarter closed")
    assert revoked.returncode == 0, revoked.stderr
    status, body = gw.admin("GET", f"/api/v1/grants/{grant}", people["alice"])
    assert body["state"] == "revoked" and body["ended_by"] == "carol@corp.example"
    assert body["end_reason"] == "quarter closed"
    again = cli(gw, people["carol"], "review", "revoke", grant)
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert gw.admin("POST", "/api/v1/grants/g-nothing/revoke", people["bob"], {})[0] == 404


def test_two_approvers_racing_do_not_double_decide(gw, people):
    review = request_via_cli(gw, people["alice"], "hr", "race")
    results = []
    barrier = threading.Barrier(2)

    def approve(who):
        barrier.wait()
        results.append(gw.admin("POST", f"/api/v1/reviews/{review['id']}/approve",
                           people[who], {"comment": who}))

    threads = [threading.Thread(target=approve, args=(w,)) for w in ("bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200, 409]
    shown = gw.admin("GET", f"/api/v1/reviews/{review['id']}", people["bob"])[1]
    assert shown["state"] == "approved" and len(shown["decisions"]) == 1


def test_request_needs_a_review_rule(gw, people, idp):
    stranger = idp.token(user="sam", groups=["sales"], email="sam@corp.example")
    r = cli(gw, stranger, "request", "kb", "--reason", "just looking")
    assert r.returncode == 1 and "denied" in r.stderr


def test_pending_review_expires(pg, idp, people):
    g = AccessGateway(pg, idp, access_yaml="access: { pending_expiry: 2s }\n").start()
    try:
        review = request_via_cli(g, people["alice"], "kb", "will expire")
        time.sleep(3)
        status = cli(g, people["alice"], "request", "status", review["id"])
        assert status.returncode == 1 and "expired" in status.stdout
        late = cli(g, people["bob"], "review", "approve", review["id"])
        assert late.returncode == 1 and "expired" in late.stderr
    finally:
        g.cleanup()
