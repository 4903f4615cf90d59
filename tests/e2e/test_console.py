"""The web console through the real binary: Chromium (headless, playwright-core) signs people in
at the real OIDC provider's login and consent pages, and they decide held statements from real
PostgreSQL clients in the reviews inbox.

Alice (eng) runs statements that wait for a data owner; Bob (data-owners) decides in the console;
Carol is a data owner and an engineer, so her own statement shows in her inbox but she may not
approve it. Dave (contractors) needs a session grant on `vault`; Dana (auditors) searches the
recordings. The admin listener serves TLS with a self-signed certificate.
"""
import json
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from console_browser import Browser
from harness import JITGATE, Gateway, make_keys

POLICIES = """policies:
  - { id: kb-use, match: { groups: [eng], resource: kb }, allow: [read, session, write] }
  - { id: kb-delete, reason: deleting documents needs a data owner,
      match: { groups: [eng], resource: kb, kinds: [delete] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
  - { id: kb-update, reason: changing documents needs a data owner,
      match: { groups: [eng], resource: kb, kinds: [update] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
  - { id: kb-insert, reason: adding documents needs two data owners,
      match: { groups: [eng], resource: kb, kinds: [insert] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 2 } }
  - { id: vault-read, match: { groups: [contractors], resource: vault }, allow: [read, session] }
  - { id: vault-session, reason: a data owner approves access to the vault,
      match: { groups: [contractors], resource: vault }, action: review, scope: session,
      mode: fail_fast, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
"""
# Screenshots go to a temporary folder; JITGATE_CONSOLE_SHOTS=docs/images refreshes the docs'.
SHOTS = Path(os.environ.get("JITGATE_CONSOLE_SHOTS") or tempfile.mkdtemp(prefix="jg-console-"))
TLS = ssl._create_unverified_context()


class ConsoleGateway(Gateway):
    def __init__(self, pg, idp):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin_tls=True,
                         resources=[{"name": "kb", "database": "kb"},
                                    {"name": "vault", "database": "kb"}])
        self.redirect = f"https://127.0.0.1:{self.admin_port}/console/callback"
        secret = idp.add_code_client("jitgate-console", self.redirect)
        (self.dir / "console_secret").write_text(secret + "\n")
        os.chmod(self.dir / "console_secret", 0o600)
        keys = make_keys(self.dir / "keys")
        self.extra_yaml = (
            idp.identity_yaml() + f"store: sqlite://{self.dir}/state.db\n" +
            "access: { pending_expiry: 10m, wait_timeout: 60s }\n" +
            f"audit: {{ dir: {self.dir}/log, durability: batched, "
            f"key_file: {keys}/raw.key, signing_key_file: {keys}/sign.pem, "
            f"auditor_groups: [auditors] }}\n" +
            f"console: {{ client_id: jitgate-console, client_secret_file: console_secret, "
            f"redirect_url: {self.redirect}, resource: {idp.AUDIENCE}, "
            f"scopes: [openid, db.read] }}\n")


@pytest.fixture(scope="module")
def gw(pg, idp):
    for user, groups in (("bob", ["data-owners"]), ("carol", ["data-owners", "eng"]),
                         ("dana", ["auditors"]), ("alice", ["eng"])):
        idp.add_user(user, groups, email=f"{user}@corp.example")
    g = ConsoleGateway(pg, idp).start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def browser(gw):
    b = Browser(gw.admin_url, SHOTS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def tokens(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], email="alice@corp.example"),
        "bob": idp.token(user="bob", groups=["data-owners"], email="bob@corp.example"),
        "carol": idp.token(user="carol", groups=["data-owners", "eng"],
                           email="carol@corp.example"),
    }


def get(gw, path, headers=None, method="GET", body=None):
    """(status, headers, body) of one request to the admin listener, redirects not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=TLS), NoRedirect)
    req = urllib.request.Request(gw.admin_url + path, method=method, headers=headers or {},
                                 data=body)
    try:
        with opener.open(req, timeout=15) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def held(gw, token, sql, result):
    """Runs `sql` as the token's person in a thread; the result lands in `result`."""
    def run():
        try:
            with psycopg.connect(gw.dsn(db="kb", password=token), autocommit=True) as conn:
                result["status"] = conn.execute(sql).statusmessage
        except Exception as e:  # asserted by the test
            result["error"] = str(e)
    t = threading.Thread(target=run)
    t.start()
    return t


def pending_review(gw, token, text):
    deadline = time.time() + 15
    while time.time() < deadline:
        status, body = gw.admin("GET", "/api/v1/reviews", token, state="pending")
        assert status == 200, body
        for r in body["reviews"]:
            if text in r.get("statement", {}).get("text", ""):
                return r
        time.sleep(0.2)
    raise AssertionError(f"no pending review for {text!r}")


def test_pages_carry_a_strict_content_security_policy(gw):
    status, headers, body = get(gw, "/console/")
    assert status == 200 and b"<!doctype html>" in body
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'") and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    status, headers, _ = get(gw, "/console/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    again = get(gw, "/console/app.js", {"If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[2] == b""


def test_admin_listener_speaks_only_tls(gw):
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://127.0.0.1:{gw.admin_port}/healthz", timeout=5).read()
    assert gw.admin("GET", "/healthz") == (200, {"status": "ok"})


def test_login_redirects_to_the_issuer_with_pkce(gw, idp):
    status, headers, _ = get(gw, "/console/login")
    assert status == 302
    location = headers["Location"]
    assert location.startswith(idp.issuer + "/auth?response_type=code&client_id=jitgate-console")
    for part in ("&state=", "&nonce=", "&code_challenge=", "code_challenge_method=S256"):
        assert part in location
    login_cookie = headers["Set-Cookie"]
    assert login_cookie.startswith("__Host-jg_console_login=") and "SameSite=Lax" in login_cookie
    assert "HttpOnly" in login_cookie and "Secure" in login_cookie
    # A sign-in completes only in the browser that started it (no login CSRF).
    state = re.search(r"[?&]state=([^&]+)", location).group(1)
    status, _, body = get(gw, f"/console/callback?state={state}&code=x")
    assert status == 400 and b"not started in this browser" in body
    assert get(gw, "/console/callback?state=forged&code=x",
               {"Cookie": "__Host-jg_console_login=forged"})[0] == 400


def test_sign_in_sets_a_strict_host_cookie_and_sign_out_ends_the_session(gw, browser):
    signed_in = browser.ok("login", **{"as": "bob"})
    assert "bob@corp.example" in signed_in["who"]
    [cookie] = signed_in["cookies"]
    assert cookie["name"] == "__Host-jg_console" and cookie["path"] == "/"
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    me = browser.ok("fetch", **{"as": "bob", "path": "/console/api/me"})
    assert me["status"] == 200 and json.loads(me["body"])["csrf_token"]
    session = f"__Host-jg_console={cookie['value']}"
    assert get(gw, "/api/v1/reviews", {"Cookie": session})[0] == 200
    assert browser.ok("logout", **{"as": "bob"})["cookies"] == []
    status, _, body = get(gw, "/api/v1/reviews", {"Cookie": session})
    assert status == 401 and b"sign in again" in body
    subject = json.loads(me["body"])["subject"]
    for action in ("console.signed_in", "console.signed_out"):
        record = wait_access_record(gw, lambda r: r.get("action") == action and
                                    r.get("actor_sub") == subject)
        assert record["actor"] == "bob@corp.example" and "web console from 127.0.0.1" in \
            record["comment"], record


def test_state_change_without_the_csrf_token_is_refused(gw, browser, tokens):
    browser.ok("login", **{"as": "bob"})
    me = json.loads(browser.ok("fetch", **{"as": "bob", "path": "/console/api/me"})["body"])
    forged = browser.ok("fetch", **{"as": "bob", "path": "/api/v1/reviews/r-nope/approve",
                                    "method": "POST", "body": "{}"})
    assert forged["status"] == 403 and "X-CSRF-Token" in forged["body"]
    # A cross-site form or script cannot read the token; with a stolen token the Origin betrays it.
    status, _, body = get(gw, "/api/v1/reviews/r-nope/approve", method="POST", body=b"{}",
                          headers={"X-CSRF-Token": me["csrf_token"],
                                   "Origin": "https://evil.example",
                                   "Cookie": browser_cookie(browser, "bob")})
    assert status == 403 and b"evil.example" in body
    # With the token, from the console's own origin, the request reaches the access API.
    ok = browser.ok("fetch", **{"as": "bob", "path": "/api/v1/reviews/r-nope/approve",
                                "method": "POST", "body": "{}",
                                "headers": {"X-CSRF-Token": me["csrf_token"],
                                            "Content-Type": "application/json"}})
    assert ok["status"] == 404, ok


def browser_cookie(browser, who):
    """The Cookie header of `who`'s browser: what a stolen session would carry."""
    [cookie] = browser.ok("cookies", **{"as": who})["cookies"]
    return f"{cookie['name']}={cookie['value']}"


def test_statement_held_in_wait_mode_runs_once_approved_in_the_console(gw, browser, tokens):
    browser.ok("login", **{"as": "bob"})
    sql = "delete from documents where doc_id = -1"
    result = {}
    t = held(gw, tokens["alice"], sql, result)
    review = pending_review(gw, tokens["bob"], sql)
    shown = browser.ok("wait_review", **{"as": "bob", "id": review["id"]})["text"]
    assert sql in shown and "kb-delete" in shown and "alice@corp.example" in shown
    assert "0 of 1 approvals" in shown and re.search(r"\(UTC[+-]\d\d:\d\d\)", shown)
    browser.ok("screenshot", **{"as": "bob", "name": "console-inbox"})
    phone = browser.ok("layout", **{"as": "bob", "width": 390})
    assert phone["scrollWidth"] <= phone["clientWidth"], phone
    browser.ok("screenshot", **{"as": "bob", "name": "console-inbox-phone"})
    browser.ok("layout", **{"as": "bob", "width": 1100, "height": 900})
    assert t.is_alive(), "the statement must wait for the decision"
    decided = browser.ok("decide", **{"as": "bob", "id": review["id"], "verdict": "approve",
                                      "comment": "cleanup is fine"})
    assert not decided["refused"] and "approved" in decided["note"], decided
    t.join(timeout=20)
    assert result.get("status") == "DELETE 0", result
    status, body = gw.admin("GET", f"/api/v1/reviews/{review['id']}", tokens["bob"])
    [decision] = body["decisions"]
    assert decision["approver"]["display"] == "bob@corp.example"
    assert decision["comment"] == "cleanup is fine"
    deadline = time.time() + 10
    while True:
        r = subprocess.run([str(JITGATE), "replay", "access", "--config", str(gw.config)],
                           capture_output=True, text=True, timeout=30)
        if f"review.approved {review['id']}" in r.stdout or time.time() > deadline:
            break
        time.sleep(0.3)
    assert f"review.approved {review['id']}" in r.stdout and "by bob@corp.example" in r.stdout


def test_two_of_two_needs_both_approvers_and_the_statement_waits_for_the_second(
        gw, browser, tokens):
    sql = "insert into documents select * from documents where false"
    result = {}
    t = held(gw, tokens["alice"], sql, result)
    review = pending_review(gw, tokens["bob"], sql)
    browser.ok("login", **{"as": "bob"})
    shown = browser.ok("wait_review", **{"as": "bob", "id": review["id"]})["text"]
    assert "0 of 2 approvals" in shown and "kb-insert" in shown, shown
    first = browser.ok("decide", **{"as": "bob", "id": review["id"], "verdict": "approve",
                                    "comment": "first"})
    assert "1 of 2" in first["note"] and "pending" in first["note"], first
    time.sleep(0.5)
    assert t.is_alive(), "one approval of two must not release the statement"
    browser.ok("login", **{"as": "carol"})
    shown = browser.ok("wait_review", **{"as": "carol", "id": review["id"]})["text"]
    assert "1 of 2 approvals" in shown, shown
    second = browser.ok("decide", **{"as": "carol", "id": review["id"], "verdict": "approve",
                                     "comment": "second"})
    assert "2 of 2" in second["note"] and "approved" in second["note"], second
    t.join(timeout=20)
    assert result.get("status") == "INSERT 0 0", result
    status, body = gw.admin("GET", f"/api/v1/reviews/{review['id']}", tokens["bob"])
    assert body["state"] == "approved"
    assert [d["approver"]["display"] for d in body["decisions"]] == \
        ["bob@corp.example", "carol@corp.example"]


def test_rejection_with_a_reason_reaches_the_waiting_client(gw, browser, tokens):
    browser.ok("login", **{"as": "bob"})
    sql = "update documents set title = title where doc_id = -1"
    result = {}
    t = held(gw, tokens["alice"], sql, result)
    review = pending_review(gw, tokens["bob"], sql)
    browser.ok("wait_review", **{"as": "bob", "id": review["id"]})
    # Alice's earlier requests (decided in the tests before this one) are listed under it.
    history = wait_text(browser, "bob", f'li[data-id="{review["id"]}"] .history-list',
                        " · kb · ")
    assert "approved by bob@corp.example" in history and review["id"] not in history, history
    decided = browser.ok("decide", **{"as": "bob", "id": review["id"], "verdict": "reject",
                                      "comment": "not during the freeze"})
    assert "Rejected" in decided["note"], decided
    t.join(timeout=20)
    assert "error" in result and "status" not in result, result
    status, body = gw.admin("GET", f"/api/v1/reviews/{review['id']}", tokens["bob"])
    assert body["state"] == "rejected"
    assert body["decisions"][0]["comment"] == "not during the freeze"


def test_own_statement_cannot_be_approved_and_leaves_the_inbox_when_decided_elsewhere(
        gw, browser, tokens):
    browser.ok("login", **{"as": "carol"})
    sql = "delete from documents where doc_id = -2"
    result = {}
    t = held(gw, tokens["carol"], sql, result)
    review = pending_review(gw, tokens["bob"], sql)
    browser.ok("wait_review", **{"as": "carol", "id": review["id"]})
    refused = browser.ok("decide", **{"as": "carol", "id": review["id"], "verdict": "approve",
                                      "comment": "mine"})
    assert refused["refused"] and "own review" in refused["note"], refused
    # Bob decides from the CLI, over TLS to the admin listener, trusting its certificate.
    cli = subprocess.run([str(JITGATE), "review", "reject", review["id"], "--comment",
                          "ask someone else", "--gateway", gw.admin_url, "--token", tokens["bob"]],
                         env=dict(os.environ, JITGATE_ADMIN_CA=str(gw.dir / "server.crt")),
                         capture_output=True, text=True, timeout=30)
    assert cli.returncode == 0, cli.stderr
    browser.ok("wait_gone", **{"as": "carol", "id": review["id"]})
    t.join(timeout=20)
    assert "error" in result


def test_inbox_polling_gets_304_while_nothing_changes(gw, tokens):
    auth = {"Authorization": "Bearer " + tokens["bob"]}
    status, headers, body = get(gw, "/api/v1/reviews?state=pending", auth)
    assert status == 200 and headers["ETag"].startswith('"')
    again = get(gw, "/api/v1/reviews?state=pending", {**auth, "If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[2] == b""
    other = get(gw, "/api/v1/reviews?state=pending", {**auth, "If-None-Match": '"stale"'})
    assert other[0] == 200 and other[2] == body


def in_flight(conn):
    """Runs a long statement on `conn` in a thread: the error it ends with lands in `result`."""
    result = {}

    def run():
        try:
            conn.execute("select pg_sleep(30)")
            result["status"] = "finished"
        except psycopg.Error as e:  # asserted by the test
            result["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, result


def ended_error(gw, t, result, session_id):
    """The error the session's client got; the gateway logs that it ended with 57P01 (libpq
    reports a FATAL followed by the close without its SQLSTATE)."""
    t.join(timeout=20)
    assert not t.is_alive() and "error" in result, result
    deadline = time.time() + 10
    while True:
        end = [x for x in gw.log_text().splitlines() if f"[{session_id}] session ended:" in x]
        if end or time.time() > deadline:
            break
        time.sleep(0.2)
    assert end and end[-1].endswith("(57P01)"), end
    return result["error"]


def wait_text(browser, who, selector, needle):
    """The text of an element once it contains `needle` (the pages load asynchronously)."""
    deadline = time.time() + 10
    while True:
        text = browser.ok("text", **{"as": who, "selector": selector})["text"] or ""
        if needle in text or time.time() > deadline:
            assert needle in text, text
            return text
        time.sleep(0.2)


def access_records(gw, session="access"):
    """The access events of a recorded session (`jitgate replay access --json`)."""
    r = subprocess.run([str(JITGATE), "replay", session, "--config", str(gw.config), "--json"],
                       capture_output=True, text=True, timeout=30)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def wait_access_record(gw, match, session="access"):
    deadline = time.time() + 15
    while time.time() < deadline:
        found = [r for r in access_records(gw, session) if match(r)]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError("no such access record")


def test_revoking_a_grant_in_the_console_ends_its_session_and_is_recorded(
        gw, browser, tokens, idp):
    dave = idp.token(user="dave", groups=["contractors"], email="dave@corp.example")
    status, review = gw.admin("POST", "/api/v1/reviews", dave,
                              {"resource": "vault", "reason": "incident 42", "duration": "1h"})
    assert status == 201, review
    browser.ok("login", **{"as": "bob"})
    shown = browser.ok("wait_review", **{"as": "bob", "id": review["id"]})["text"]
    assert "Session access on vault" in shown and "dave@corp.example" in shown
    decided = browser.ok("decide", **{"as": "bob", "id": review["id"], "verdict": "approve",
                                      "comment": "for the incident"})
    assert not decided["refused"], decided
    [grant] = [g for g in gw.admin("GET", "/api/v1/grants", tokens["bob"], state="active")[1]
               ["grants"] if g["review_id"] == review["id"]]
    conn = psycopg.connect(gw.dsn(db="vault", password=dave), autocommit=True)
    assert conn.execute("select 1").fetchone() == (1,)
    page = browser.ok("goto", **{"as": "bob", "page": "grants"})
    assert page["url"].endswith("#grants")
    row = browser.ok("wait_row", **{"as": "bob", "table": "grants-active", "id": grant["id"]})
    assert "dave@corp.example" in row["text"] and "vault-session" in row["text"]
    assert review["id"] in row["text"] and re.search(r"\(UTC[+-]\d\d:\d\d\)", row["text"])
    browser.ok("screenshot", **{"as": "bob", "name": "console-grants"})
    phone = browser.ok("layout", **{"as": "bob", "width": 390})
    assert phone["scrollWidth"] <= phone["clientWidth"], phone  # the table scrolls, not the page
    browser.ok("layout", **{"as": "bob", "width": 1100, "height": 900})
    # A revocation says why: without a reason the page asks for one and sends nothing.
    bare = browser.ok("row_action", **{"as": "bob", "table": "grants-active", "id": grant["id"],
                                       "reason": "", "button": "Revoke"})
    assert bare["refused"] and "reason" in bare["note"], bare
    assert conn.execute("select 2").fetchone() == (2,)
    [live] = [x for x in gw.admin("GET", "/api/v1/sessions", tokens["bob"])[1]["sessions"]
              if x["user"] == "dave@corp.example"]
    t, result = in_flight(conn)
    revoked = browser.ok("row_action", **{"as": "bob", "table": "grants-active",
                                          "id": grant["id"], "reason": "incident closed",
                                          "button": "Revoke"})
    assert not revoked["refused"] and "Revoked" in revoked["note"], revoked
    ended = ended_error(gw, t, result, live["id"])
    assert "revoked by bob@corp.example" in str(ended) and "incident closed" in str(ended)
    conn.close()
    row = browser.ok("wait_row", **{"as": "bob", "table": "grants-ended", "id": grant["id"]})
    assert "revoked" in row["text"] and "incident closed" in row["text"], row
    # Both actions are in the audit log with the signed-in person's identity, as from the CLI.
    me = json.loads(browser.ok("fetch", **{"as": "bob", "path": "/console/api/me"})["body"])
    for action, key in (("review.approved", review["id"]), ("grant.revoked", grant["id"])):
        record = wait_access_record(gw, lambda r: r.get("action") == action and
                                    key in (r.get("review"), r.get("grant")))
        assert record["actor"] == "bob@corp.example" and record["actor_sub"] == me["subject"]
    signed_in = wait_access_record(gw, lambda r: r.get("action") == "console.signed_in" and
                                   r.get("actor_sub") == me["subject"])
    assert signed_in["actor"] == "bob@corp.example" and "web console" in signed_in["comment"]


def test_live_session_is_listed_and_ended_from_the_sessions_page(gw, browser, idp):
    erin = idp.token(user="erin", groups=["eng"], email="erin@corp.example")
    bob = idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")
    conn = psycopg.connect(gw.dsn(db="kb", password=erin), autocommit=True)
    conn.execute("select count(*) from documents")
    [live] = [s for s in gw.admin("GET", "/api/v1/sessions", bob)[1]["sessions"]
              if s["user"] == "erin@corp.example"]
    assert live["statements"] >= 1, live
    browser.ok("login", **{"as": "bob"})
    browser.ok("goto", **{"as": "bob", "page": "sessions"})
    row = browser.ok("wait_row", **{"as": "bob", "table": "live", "id": live["id"]})["text"]
    assert "erin@corp.example" in row and "kb" in row and "127.0.0.1" in row, row
    # Bob approves access but is no auditor: the search is refused with the reason.
    refusal = wait_text(browser, "bob", "#search-refused", "not an auditor")
    assert "members of auditors" in refusal, refusal
    browser.ok("screenshot", **{"as": "bob", "name": "console-sessions"})
    t, result = in_flight(conn)
    ended = browser.ok("row_action", **{"as": "bob", "table": "live", "id": live["id"],
                                        "reason": "end of shift", "button": "End session"})
    assert not ended["refused"] and "Ended" in ended["note"], ended
    error = ended_error(gw, t, result, live["id"])
    assert "ended by administrator bob@corp.example" in str(error), str(error)
    assert "end of shift" in str(error)
    conn.close()
    browser.ok("wait_row_gone", **{"as": "bob", "table": "live", "id": live["id"]})
    me = json.loads(browser.ok("fetch", **{"as": "bob", "path": "/console/api/me"})["body"])
    record = wait_access_record(gw, lambda r: r.get("action") == "session.ended",
                                session=live["id"])
    assert record["requester"] == "erin@corp.example" and record["actor"] == "bob@corp.example"
    assert record["actor_sub"] == me["subject"] and "end of shift" in record["comment"]


def test_auditor_searches_recorded_statements_by_user_with_paging(gw, browser, idp):
    fay = idp.token(user="fay", groups=["eng"], email="fay@corp.example")
    dana = idp.token(user="dana", groups=["auditors"], email="dana@corp.example")
    with psycopg.connect(gw.dsn(db="kb", password=fay), autocommit=True) as conn:
        for n in range(27):
            conn.execute(f"select doc_id from documents where doc_id = {n}")
    deadline = time.time() + 15
    while len(gw.admin("GET", "/api/v1/audit/statements", dana, user="fay@corp.example")[1]) < 27:
        assert time.time() < deadline, "the statements were not indexed"
        time.sleep(0.3)
    browser.ok("login", **{"as": "dana"})
    browser.ok("goto", **{"as": "dana", "page": "sessions"})
    wait_text(browser, "dana", "#live-refused", "may not see or end live sessions")
    first = browser.ok("search", **{"as": "dana", "fields": {
        "user": "fay@corp.example", "table": "documents", "decision": "allow"}})
    assert first["status"].startswith("Showing 1–25"), first
    assert len(first["rows"]) == 25 and "fay@corp.example" in first["rows"][0]
    assert "select doc_id from documents where doc_id = 26" in first["rows"][0], first["rows"][0]
    browser.ok("screenshot", **{"as": "dana", "name": "console-search"})
    second = browser.ok("click", **{"as": "dana", "name": "Next page"})
    assert second["status"].startswith("Showing 26–27") and len(second["rows"]) == 2, second
    assert "doc_id = 0" in second["rows"][-1]
    none = browser.ok("search", **{"as": "dana", "fields": {"user": "nobody@corp.example"}})
    assert none["rows"] == [] and "Nothing recorded matches" in none["status"], none


def test_person_neither_approver_nor_auditor_gets_a_refusal_page(gw, browser, tokens):
    browser.ok("login", **{"as": "alice"})
    page = browser.ok("goto", **{"as": "alice", "page": "sessions"})
    deadline = time.time() + 10
    while time.time() < deadline and not (
            "not an auditor" in page["text"] and "may not see" in page["text"]):
        time.sleep(0.2)
        page = browser.ok("goto", **{"as": "alice", "page": "sessions"})
    assert "not an auditor" in page["text"] and "may not see or end live sessions" in page["text"]
    # Only the refusals are shown: no table, no search form.
    for absent in ("Search recorded", "Statements", "Document id", "Next page"):
        assert absent not in page["text"], page
    browser.ok("screenshot", **{"as": "alice", "name": "console-refused"})
    refused = browser.ok("fetch", **{"as": "alice", "path": "/api/v1/sessions"})
    assert refused["status"] == 403
    grants = browser.ok("goto", **{"as": "alice", "page": "grants"})
    assert "No grant is active" in grants["text"], grants
