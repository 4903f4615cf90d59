"""Two gateway replicas on one PostgreSQL state store: a decision or a revocation made through
replica A reaches replica B through the store's LISTEN/NOTIFY channel within a second or two,
and after B's listening connection is cut, B reconnects and catches up.

Both replicas use the same store URL except application_name (jitgate-a, jitgate-b), so the
listening connection of B is `jitgate-b-listen` in pg_stat_activity. Each has its own ports and
audit directory. One pair is started per module.
"""
import re
import threading
import time

import psycopg
import pytest

import pgwire
from harness import scrape_metrics
from replicas import Replica, shared_store, wait_until

STORE_DB = "jitgate_replicas"
STORE_ROLE = "jitgate_replicas"
STORE_PASSWORD = "replicas-Secret-5b1f"

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-session, reason: a data owner approves access to kb,
      match: { groups: [eng], resource: kb }, action: review, scope: session, mode: fail_fast,
      approvers: { groups: [data-owners], count: 1 }, grant: 1h }
  - { id: ops-all, match: { groups: [eng], resource: ops }, allow: [read, session, write] }
  - { id: ops-delete, reason: deletes wait for a data owner,
      match: { groups: [eng], resource: ops, kinds: [delete] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
"""

# A decision on A must reach B well before B's safety-net poll (every 30 s) would find it.
CROSS_REPLICA_SECONDS = 2.0


@pytest.fixture(scope="module")
def replicas(pg, idp):
    pg.sql("CREATE TABLE IF NOT EXISTS replica_held (id int);"
           "ALTER TABLE replica_held OWNER TO app", db="kb")
    with shared_store(pg, STORE_DB, STORE_ROLE, STORE_PASSWORD) as store:
        kw = {"resources": [{"name": "kb", "database": "kb"}, {"name": "ops", "database": "kb"}],
              "access_yaml": "access: { pending_expiry: 10m, wait_timeout: 60s }\n"}
        a = Replica(pg, idp, "a", store, POLICIES, **kw).start()
        b = Replica(pg, idp, "b", store, POLICIES, **kw).start()
        yield a, b
        for g in (a, b):
            g.cleanup()


@pytest.fixture(scope="module")
def bob(idp):
    return idp.token(user="bob", groups=["data-owners"], email="bob@corp.example")


def pending_review(gw, token, requester):
    def find():
        reviews = gw.api("GET", "/api/v1/reviews?state=pending", token)["reviews"]
        mine = [r for r in reviews if r["requester"]["subject"] == requester]
        return mine[0] if mine else None
    return wait_until(find, 15, f"a pending review of {requester}")


def hold_delete_on(gw, token, row):
    """Starts `delete from replica_held where id = <row>` on `gw`, held in wait mode."""
    conn = psycopg.connect(gw.dsn(db="ops", password=token), autocommit=True)
    result = {}

    def run():
        try:
            result["status"] = conn.execute(
                f"delete from replica_held where id = {row}").statusmessage
        except Exception as e:  # reported by the test
            result["error"] = e
        result["at"] = time.time()

    t = threading.Thread(target=run)
    t.start()
    return conn, t, result


def approve_on_a_and_time_b(a, b, bob, requester, token, row):
    """Holds a delete on B, approves its review through A's CLI; returns seconds to completion."""
    conn, t, result = hold_delete_on(b, token, row)
    try:
        review = pending_review(a, bob, requester)  # created by B, listed by A: one store
        assert t.is_alive(), "the statement should be held while its review is pending"
        a.review(bob, "approve", review["id"])
        approved_at = time.time()
        t.join(timeout=20)
        assert result.get("status") == "DELETE 1", result
        return result["at"] - approved_at
    finally:
        conn.close()


def test_statement_held_on_b_runs_once_approved_on_a(replicas, pg, idp, bob):
    a, b = replicas
    pg.sql("INSERT INTO replica_held VALUES (1)", db="kb")
    heidi = idp.token(user="heidi", groups=["eng"], email="heidi@corp.example")
    before = scrape_metrics(b).get('jitgate_store_events_received_total{kind="review"}', 0)
    elapsed = approve_on_a_and_time_b(a, b, bob, "heidi", heidi, 1)
    assert elapsed < CROSS_REPLICA_SECONDS, f"B woke {elapsed:.2f}s after the approval on A"
    after = scrape_metrics(b).get('jitgate_store_events_received_total{kind="review"}', 0)
    assert after > before  # woken by the store event, not by a poll


def test_grant_revoked_on_a_ends_the_session_on_b(replicas, idp, bob):
    a, b = replicas
    frank = idp.token(user="frank", groups=["eng"], email="frank@corp.example")
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(b.dsn(db="kb", password=frank))
    review_id = re.search(r"review (r-[a-z0-9]+)", str(e.value)).group(1)
    a.review(bob, "approve", review_id)
    # A raw wire client reads the ErrorResponse itself: libpq reports a FATAL that arrives on
    # an idle connection as a lost connection, without its SQLSTATE.
    sock = pgwire.tls_connect(b.port)
    try:
        login = pgwire.password_login(sock, {"user": "frank", "database": "kb"}, frank)
        assert login[-1][0] == b"Z", login  # admitted under the grant, idle
        grants = a.api("GET", "/api/v1/grants?state=active", bob)["grants"]
        grant = [g for g in grants if g["review_id"] == review_id][0]
        a.api("POST", f"/api/v1/grants/{grant['id']}/revoke", bob, {"reason": "incident over"})
        revoked_at = time.time()
        msgs = pgwire.read_messages(sock, until={b"E"})
        elapsed = time.time() - revoked_at
    finally:
        sock.close()
    assert msgs and msgs[-1][0] == b"E", msgs
    err = pgwire.error_fields(msgs[-1][1])
    assert elapsed < CROSS_REPLICA_SECONDS, f"B ended the session {elapsed:.2f}s after revocation"
    assert (err["S"], err["C"]) == ("FATAL", "57P01"), err
    assert "revoked by bob@corp.example" in err["M"] and "incident over" in err["M"], err


def test_b_reconnects_its_listener_and_still_wakes(replicas, pg, idp, bob):
    a, b = replicas
    pg.sql("INSERT INTO replica_held VALUES (2)", db="kb")
    killed = pg.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'jitgate-b-listen'", db=STORE_DB)
    # Two listeners: the broker's (reviews, grants) and the cancel relay's.
    assert killed.strip() == "2", killed
    ivan = idp.token(user="ivan", groups=["eng"], email="ivan@corp.example")
    elapsed = approve_on_a_and_time_b(a, b, bob, "ivan", ivan, 2)
    assert elapsed < CROSS_REPLICA_SECONDS, f"B woke {elapsed:.2f}s after the approval on A"
    wait_until(lambda: scrape_metrics(b).get("jitgate_store_listen_reconnects_total", 0) >= 1, 5,
               "B's listener to count its reconnect")
    assert "event listener connection lost" in b.log_text()
    assert STORE_PASSWORD not in a.log_text() + b.log_text()


def readyz(gw):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(gw.admin_url + "/readyz", timeout=5) as res:
            return res.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_store_outage_fails_closed_and_everything_catches_up(replicas, pg, idp, bob):
    """The store refuses connections for 10 s: readiness drops, a statement that needs a review
    is refused (never run unreviewed), a session under an allow rule is still served; once the
    store is back both replicas turn ready, and a decision on A reaches B again."""
    a, b = replicas
    grace = idp.token(user="grace", groups=["eng"], email="grace@corp.example")
    reconnects = scrape_metrics(b).get("jitgate_store_listen_reconnects_total", 0)
    pg.sql("INSERT INTO replica_held VALUES (3)", db="kb")
    pg.sql(f"ALTER DATABASE {STORE_DB} ALLOW_CONNECTIONS false")
    pg.sql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           f"WHERE datname = '{STORE_DB}'")
    cut_at = time.time()
    try:
        wait_until(lambda: readyz(b) == 503 and readyz(a) == 503, 8, "both replicas unready")
        with psycopg.connect(b.dsn(db="ops", password=grace), autocommit=True) as conn:
            assert conn.execute("select count(*) from replica_held").fetchone()[0] >= 1
            with pytest.raises(psycopg.Error) as refused:
                conn.execute("delete from replica_held where id = 3")
        assert pg.sql("select count(*) from replica_held where id = 3", db="kb").strip() == "1"
        # Refused, not run unreviewed, and the client is not told where the store is.
        assert refused.value.sqlstate == "42501", refused.value
        assert "state store is unavailable" in str(refused.value), refused.value
        assert STORE_DB not in str(refused.value), refused.value
        time.sleep(max(0.0, 10 - (time.time() - cut_at)))
    finally:
        pg.sql(f"ALTER DATABASE {STORE_DB} ALLOW_CONNECTIONS true")
    wait_until(lambda: readyz(a) == 200 and readyz(b) == 200, 20, "both replicas ready again")
    wait_until(lambda: scrape_metrics(b).get("jitgate_store_listen_reconnects_total", 0)
               > reconnects, 20, "B's listener to reconnect")
    elapsed = approve_on_a_and_time_b(a, b, bob, "grace", grace, 3)
    assert elapsed < CROSS_REPLICA_SECONDS, f"B woke {elapsed:.2f}s after the approval on A"
