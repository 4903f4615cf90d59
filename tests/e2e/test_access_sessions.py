"""Just-in-time access on live PostgreSQL sessions: held connections, one-time statement
approvals, and grants that end sessions when they expire or are revoked."""
import json
import re
import subprocess
import threading
import time

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-session, reason: a data owner approves access to kb,
      match: { groups: [eng], resource: kb }, action: review, scope: session, mode: wait,
      approvers: { groups: [data-owners], count: 1 }, grant: 1h }
  - { id: hr-read, match: { groups: [eng], resource: hr }, allow: [read, session, write] }
  - { id: hr-delete, reason: deleting documents needs a data owner,
      match: { groups: [eng], resource: hr, kinds: [delete] }, action: review,
      scope: statement, mode: fail_fast, approvers: { groups: [data-owners], count: 1 } }
  - { id: hr-update-as-crm, reason: updates run as the crm role once approved,
      match: { groups: [eng], resource: hr, kinds: [update] }, action: review,
      scope: statement, mode: fail_fast, role: crm, approvers: { groups: [data-owners] } }
  - { id: ops-all, match: { groups: [eng], resource: ops }, allow: [read, session, write] }
  - { id: ops-delete, reason: deletes wait for a data owner,
      match: { groups: [eng], resource: ops, kinds: [delete] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
  - { id: short-read, match: { groups: [eng], resource: short }, allow: [read, session] }
  - { id: short-session, reason: short windows, match: { groups: [eng], resource: short },
      action: review, scope: session, mode: fail_fast,
      approvers: { groups: [data-owners], count: 1 }, grant: 6s }
"""


class JitGateway(Gateway):
    def __init__(self, pg, idp):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True,
                         resources=[{"name": "kb", "database": "kb"},
                                    {"name": "hr", "database": "kb"},
                                    {"name": "short", "database": "kb"},
                                    {"name": "ops", "database": "kb"}])
        keys = make_keys(self.dir / "keys")
        self.extra_yaml = (idp.identity_yaml() + f"store: sqlite://{self.dir}/state.db\n" +
                           "access: { pending_expiry: 10m, wait_timeout: 60s }\n" +
                           "timeouts: { startup: 3s }\n" +
                           f"audit: {{ dir: {self.dir}/log, durability: batched, "
                           f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem }}\n")


    def review(self, token, *args):
        r = subprocess.run([str(JITGATE), "review", *args, "--gateway",
                            f"http://127.0.0.1:{self.admin_port}", "--token", token, "--json"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(r.stdout) if r.stdout.strip() else None

    def api(self, method, path, token, body=None):
        """An admin API call that must succeed; returns its JSON body."""
        status, result = self.admin(method, path, token, body)
        assert status < 300, (status, result)
        return result


@pytest.fixture(scope="module")
def gw(pg, idp):
    g = JitGateway(pg, idp).start()
    yield g
    g.cleanup()


def review_of(message):
    m = re.search(r"review (r-[a-z0-9]+)", message)
    assert m, message
    return m.group(1)


def pending_reviews(gw, token):
    return [r for r in gw.api("GET", "/api/v1/reviews?state=pending", token)["reviews"]]


def test_session_review_wait_mode_then_grant_reuse(gw, idp):
    """The held connection outlives timeouts.startup (3 s here): access.wait_timeout governs
    the wait for a data owner."""
    alice = idp.token(user="alice", groups=["eng"], email="alice@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    result = {}

    def connect():
        try:
            conn = psycopg.connect(gw.dsn(db="kb", password=alice))
            result["rows"] = conn.execute("select count(*) from documents").fetchone()
            conn.close()
        except Exception as e:  # reported below
            result["error"] = e

    t = threading.Thread(target=connect)
    started = time.time()
    t.start()
    deadline = time.time() + 15
    review = None
    while time.time() < deadline and review is None:
        mine = [r for r in pending_reviews(gw, bob) if r["resource"] == "kb"]
        review = mine[0] if mine else None
        time.sleep(0.2)
    assert review is not None, "no pending review appeared for the held connection"
    time.sleep(max(0.0, started + 4.5 - time.time()))  # past timeouts.startup
    assert t.is_alive(), "the connection should be held while the review is pending"
    # The requester cannot approve their own review.
    r = subprocess.run([str(JITGATE), "review", "approve", review["id"], "--gateway",
                        f"http://127.0.0.1:{gw.admin_port}", "--token", alice],
                       capture_output=True, text=True)
    assert r.returncode != 0
    gw.review(bob, "approve", review["id"], "--comment", "ok for the incident")
    t.join(timeout=20)
    assert "error" not in result, result.get("error")
    assert result["rows"] == (100,)
    # The grant lets a second connection in without a new review.
    with psycopg.connect(gw.dsn(db="kb", password=alice), connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert "waiting for approval of review" in gw.log_text()
    # Who asked and who approved is in the audit log.
    deadline = time.time() + 10
    while True:
        r = subprocess.run([str(JITGATE), "replay", "access", "--config", str(gw.config)],
                           capture_output=True, text=True, timeout=30)
        if (f"review.approved {review['id']}" in r.stdout or time.time() > deadline):
            break
        time.sleep(0.3)
    assert f"review.created {review['id']}" in r.stdout, r.stdout + r.stderr
    assert f"review.approved {review['id']}" in r.stdout and "by bob@corp.example" in r.stdout
    assert "ok for the incident" in r.stdout


def test_session_review_rejected_reaches_waiting_client(gw, idp):
    dave = idp.token(user="dave", groups=["eng"], email="dave@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    result = {}

    def connect():
        try:
            psycopg.connect(gw.dsn(db="kb", password=dave))
        except psycopg.OperationalError as e:
            result["error"] = str(e)

    t = threading.Thread(target=connect)
    t.start()
    review = None
    deadline = time.time() + 15
    while time.time() < deadline and review is None:
        mine = [r for r in pending_reviews(gw, bob)
                if r["resource"] == "kb" and r["requester"]["subject"] == "dave"]
        review = mine[0] if mine else None
        time.sleep(0.2)
    assert review is not None
    gw.review(bob, "reject", review["id"], "--comment", "not today")
    t.join(timeout=20)
    assert "was not approved (rejected" in result.get("error", ""), result


def test_statement_review_fail_fast_runs_exactly_once(gw, idp, pg):
    pg.sql("CREATE TABLE IF NOT EXISTS scratch (id int); INSERT INTO scratch VALUES (1), (2);"
           "ALTER TABLE scratch OWNER TO app", db="kb")
    erin = idp.token(user="erin", groups=["eng"], email="erin@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    with psycopg.connect(gw.dsn(db="hr", password=erin), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("delete from scratch where id = 1")
        msg = str(e.value)
        assert "review required by rule hr-delete" in msg or "hr-delete" in msg
        review_id = review_of(msg)
        gw.api("POST", f"/api/v1/reviews/{review_id}/approve", bob, {"comment": "once"})
        # A different statement is still refused.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from scratch where id = 2")
        # The approved statement runs once ...
        conn.execute("delete from scratch where id = 1")
        # ... and not twice.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from scratch where id = 1")
    assert pg.sql("select count(*) from scratch", db="kb").strip() == "1"


def test_review_under_another_upstream_role_is_refused_up_front_without_a_review(gw, idp):
    erin = idp.token(user="erin", groups=["eng"], email="erin@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    before = {r["id"] for r in pending_reviews(gw, bob)}
    with psycopg.connect(gw.dsn(db="hr", password=erin), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("update documents set title = title where doc_id = -1")
    msg = str(e.value)
    assert 'rule hr-update-as-crm runs approved statements as upstream role "crm"' in msg, msg
    assert "no review was created" in (e.value.diag.message_detail or ""), msg
    assert {r["id"] for r in pending_reviews(gw, bob)} == before


def test_grant_window_and_revocation_cut_live_sessions(gw, idp):
    frank = idp.token(user="frank", groups=["eng"], email="frank@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    # Fail-fast session review: the error names the review; approve it; connect.
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gw.dsn(db="short", password=frank))
    review_id = review_of(str(e.value))
    gw.review(bob, "approve", review_id)
    conn = psycopg.connect(gw.dsn(db="short", password=frank), autocommit=True)
    start = time.time()
    with pytest.raises(psycopg.OperationalError) as cut:
        while time.time() - start < 20:
            conn.execute("select 1")
            time.sleep(0.2)
    assert 3 < time.time() - start < 15
    assert "ended" in str(cut.value) or "expired" in str(cut.value), str(cut.value)
    # Revocation cuts a live session at once.
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gw.dsn(db="short", password=frank))
    review_id = review_of(str(e.value))
    gw.review(bob, "approve", review_id)
    conn = psycopg.connect(gw.dsn(db="short", password=frank), autocommit=True)
    grants = gw.api("GET", "/api/v1/grants?state=active", bob)["grants"]
    grant = [g for g in grants if g["resource"] == "short"][0]
    gw.api("POST", f"/api/v1/grants/{grant['id']}/revoke", bob, {"reason": "incident over"})
    time.sleep(1.0)
    with pytest.raises(psycopg.OperationalError) as e:
        conn.execute("select 1")
    assert "revoked" in str(e.value) or "incident over" in str(e.value), str(e.value)


def test_statement_needing_approval_cannot_be_prepared_as_named(gw, idp):
    grace = idp.token(user="grace", groups=["eng"], email="grace@corp.example")
    with psycopg.connect(gw.dsn(db="hr", password=grace), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("delete from scratch where id = 7", prepare=True)
        assert "cannot be prepared as a named statement" in str(e.value)


def wait_for_review(gw, token, requester):
    deadline = time.time() + 15
    while time.time() < deadline:
        mine = [r for r in pending_reviews(gw, token)
                if r["resource"] == "ops" and r["requester"]["subject"] == requester]
        if mine:
            return mine[0]
        time.sleep(0.2)
    raise AssertionError("no pending review for the held statement")


def test_statement_held_in_wait_mode_runs_once_approved(gw, idp, pg):
    pg.sql("CREATE TABLE IF NOT EXISTS held (id int); INSERT INTO held VALUES (1), (2);"
           "ALTER TABLE held OWNER TO app", db="kb")
    heidi = idp.token(user="heidi", groups=["eng"], email="heidi@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    notices, result = [], {}
    conn = psycopg.connect(gw.dsn(db="ops", password=heidi), autocommit=True)
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))

    def run():
        try:
            result["status"] = conn.execute("delete from held where id = 1").statusmessage
        except Exception as e:
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    review = wait_for_review(gw, bob, "heidi")
    assert t.is_alive(), "the statement should be held while its review is pending"
    gw.review(bob, "approve", review["id"])
    t.join(timeout=20)
    assert result.get("status") == "DELETE 1", result
    assert any("waiting for approval of review" in n for n in notices), notices
    assert conn.execute("select count(*) from held").fetchone() == (1,)
    conn.close()


def test_held_statement_ends_on_cancel_and_on_rejection(gw, idp):
    ivan = idp.token(user="ivan", groups=["eng"], email="ivan@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    conn = psycopg.connect(gw.dsn(db="ops", password=ivan), autocommit=True)
    result = {}

    def run(key):
        try:
            conn.execute("delete from held where id = 2")
            result[key] = "ran"
        except Exception as e:
            result[key] = e

    t = threading.Thread(target=run, args=("cancel",))
    t.start()
    wait_for_review(gw, bob, "ivan")
    conn.cancel()
    t.join(timeout=20)
    assert isinstance(result["cancel"], psycopg.errors.QueryCanceled), result
    assert conn.execute("select 1").fetchone() == (1,)  # the session goes on
    t = threading.Thread(target=run, args=("reject",))
    t.start()
    review = wait_for_review(gw, bob, "ivan")
    gw.review(bob, "reject", review["id"], "--comment", "no")
    t.join(timeout=20)
    assert isinstance(result["reject"], psycopg.errors.InsufficientPrivilege), result
    assert "was not approved (rejected" in str(result["reject"])
    conn.close()


def review_text(gw, token, *args):
    r = subprocess.run([str(JITGATE), "review", *args, "--gateway",
                        f"http://127.0.0.1:{gw.admin_port}", "--token", token],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_reviews_show_the_requesters_client_and_windows_in_human_units(gw, idp):
    import urllib.request
    erin = idp.token(user="erin", groups=["eng"], email="erin@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    # A statement review asked from a PostgreSQL session: its address and application_name.
    with psycopg.connect(gw.dsn(db="hr", password=erin, application_name="rag-retriever"),
                         autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("delete from documents where doc_id = -42")
    review_id = review_of(str(e.value))
    shown = gw.review(bob, "show", review_id)
    assert shown["client"]["application"] == "rag-retriever", shown
    assert shown["client"]["address"].startswith("127.0.0.1:"), shown
    text = review_text(gw, bob, "show", review_id)
    assert re.search(r"^client\s+127\.0\.0\.1:\d+ \(rag-retriever\)$", text, re.M), text
    listed = review_text(gw, bob, "list", "--state", "pending")
    assert "CLIENT" in listed and "(rag-retriever)" in listed, listed
    # A session review asked through the API: the window as asked, in human units.
    req = urllib.request.Request(
        f"{gw.admin_url}/api/v1/reviews", method="POST",
        data=json.dumps({"resource": "kb", "reason": "incident 7", "duration": "30m"}).encode(),
        headers={"Authorization": "Bearer " + erin, "Content-Type": "application/json",
                 "X-Jitgate-Application": "runbook-cli"})
    with urllib.request.urlopen(req, timeout=15) as res:
        created = json.loads(res.read())
    assert created["grant_duration"] == "30m", created
    assert created["grant_duration_seconds"] == 1800, created
    assert created["client"]["application"] == "runbook-cli", created
    text = review_text(gw, bob, "show", created["id"])
    assert re.search(r"^window\s+30m once approved$", text, re.M), text
    assert "1800" not in text, text
    gw.review(bob, "reject", created["id"], "--comment", "done with the test")
    gw.review(bob, "reject", review_id, "--comment", "done with the test")
