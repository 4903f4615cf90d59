"""Three gateway replicas on one PostgreSQL state store behind a real HAProxy (Debian), as
docs/deployment.md describes: TCP mode for PostgreSQL clients with `/readyz` health checks, HTTP
mode for the admin API that approvers call.

What this shows through real parts: sessions spread over all three replicas; a review requested
through one replica is approved through the load-balanced admin API and the client gets in on
every replica; a statement held for review on the first replica runs once approved on the
third; `kill -9` of a replica under load costs its clients one error each, they
reconnect through HAProxy and go on while the other replica never stops serving, the surviving
replica reaps the session roles the killed one left (it holds the reaping lease once the other
stops beating), and after a restart the killed replica's audit log verifies and holds every
statement a client saw acknowledged; a cancel that lands on the other replica reaches the query;
`jitgate audit verify` on one replica's host reports every replica's chain, the others' as not
checked, and all three intact given their directories; exactly one replica holds the
`expire-access` lease and a review past its window is expired (and recorded) once, by it, and
after `kill -9` of that holder a survivor takes the lease over and expires the next one.
Sessions log in upstream as ephemeral roles, as a production deployment would.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

import psycopg
import pytest

import pgwire
from harness import JITGATE
from replicas import (HaProxy, Replica, served_sessions, shared_store, wait_all_up,
                      wait_until)

STORE_DB = "jitgate_deploy_state"
STORE_ROLE = "jitgate_deploy"
STORE_PASSWORD = "deploy-Secret-5b09"

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, session], role: reader }
  - { id: kb-contractor-read, reason: contractors read the knowledge base once admitted,
      match: { groups: [contractors], resource: kb }, allow: [read], role: reader }
  - { id: kb-contractor-session, reason: a data owner approves contractors,
      match: { groups: [contractors], resource: kb }, action: review, scope: session,
      mode: fail_fast, approvers: { groups: [data-owners], count: 1 }, grant: 1h }
  - { id: kb-customers-review, reason: customer records wait for a data owner,
      match: { groups: [eng], resource: kb, tables: [public.customers] }, action: review,
      scope: statement, mode: wait, approvers: { groups: [data-owners], count: 1 } }
"""

ADMIN_PASSWORD = "deploy-admin-pw-3c7e"
# Short intervals, so that a dead replica is found in seconds, not in half a minute.
REPLICAS_YAML = "replicas: { heartbeat: 500ms, dead_after: 2s, reap_every: 1s }\n"


class DeployReplica(Replica):
    """A replica whose sessions log in upstream as ephemeral roles (one per session)."""

    def write_config(self):
        super().write_config()
        (self.dir / "admin_password").write_text(ADMIN_PASSWORD + "\n")
        os.chmod(self.dir / "admin_password", 0o600)
        creds = ["    credentials: ephemeral", "    max_ttl: 1h",
                 "    admin: { user: deploy_admin, password_file: admin_password }",
                 "    roles: { reader: deploy_reader }"]
        out = []
        for line in self.config.read_text().split("\n"):
            out.append(line)
            if line.startswith("    upstream:"):
                out += creds
        self.config.write_text("\n".join(out) + REPLICAS_YAML)

    def session_roles(self):
        """Session roles whose marker names this replica's instance (`<host>-<port>`)."""
        return int(self.pg.sql(
            "SELECT count(*) FROM pg_roles WHERE shobj_description(oid, 'pg_authid') "
            f"LIKE 'jitgate:v1:%-{self.port}:%'"))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(pg, idp, tmp_path_factory):
    pg.sql(f"""
        DO $$BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'deploy_admin') THEN
            CREATE ROLE deploy_admin LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}';
            CREATE ROLE deploy_reader NOLOGIN;
          END IF;
        END$$;
        GRANT pg_signal_backend TO deploy_admin;
    """)
    pg.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO deploy_reader", db="kb")
    with shared_store(pg, STORE_DB, STORE_ROLE, STORE_PASSWORD) as store:
        # A checkpoint (anchored in the store) within a second of a replica's newest records.
        replicas = [DeployReplica(pg, idp, name, store, POLICIES, durability="strict", threads=1,
                                  audit_options=", checkpoint_interval: 1s")
                    for name in ("a", "b", "c")]
        for r in replicas:
            r.start()
        lb = HaProxy(tmp_path_factory.mktemp("haproxy"), replicas).start()
        yield {"replicas": replicas, "lb": lb}
        lb.stop()
        for r in replicas:
            r.cleanup()


@pytest.fixture(scope="module")
def people(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], ttl=900),
        "carol": idp.token(user="carol", groups=["contractors"], ttl=900),
        "bob": idp.token(user="bob", groups=["data-owners"], ttl=900),
    }


def test_haproxy_spreads_sessions_over_all_three_replicas(cluster, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    wait_all_up(lb, replicas, people["alice"])
    before = [served_sessions(r) for r in replicas]
    for _ in range(9):
        with psycopg.connect(lb.dsn(people["alice"])) as conn:
            assert conn.execute("select count(*) from documents").fetchone() == (100,)
    after = [served_sessions(r) for r in replicas]
    assert all(a - b >= 2 for a, b in zip(after, before)), (before, after)


def test_a_review_requested_on_one_replica_is_approved_through_the_balancer(cluster, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(lb.dsn(people["carol"]))
    review = re.search(r"review (r-[a-z0-9]+)", str(refused.value))
    assert review, str(refused.value)
    r = subprocess.run([str(JITGATE), "review", "approve", review.group(1), "--gateway",
                        lb.admin_url, "--token", people["bob"], "--comment", "via haproxy",
                        "--json"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout
    assert json.loads(r.stdout)["state"] == "approved", r.stdout
    # Round robin: four sessions land on every replica; each admits carol under the grant.
    before = [served_sessions(x) for x in replicas]
    for _ in range(4):
        with psycopg.connect(lb.dsn(people["carol"])) as conn:
            assert conn.execute("select count(*) from documents").fetchone() == (100,)
    after = [served_sessions(x) for x in replicas]
    assert all(a > b for a, b in zip(after, before)), (before, after)
    for x in replicas:
        assert "under grant" in x.log_text(), x.name


def test_a_statement_held_on_the_first_replica_runs_once_approved_on_the_third(cluster,
                                                                              people):
    a, c = cluster["replicas"][0], cluster["replicas"][2]
    result = {}

    def lookup():
        try:
            with psycopg.connect(a.dsn(password=people["alice"]), autocommit=True) as conn:
                result["rows"] = conn.execute(
                    "select name from public.customers order by id").fetchall()
        except psycopg.Error as e:  # reported below
            result["error"] = e
        result["at"] = time.time()

    held = threading.Thread(target=lookup)
    held.start()

    def alices_pending_review():
        reviews = c.api("GET", "/api/v1/reviews?state=pending", people["bob"])["reviews"]
        return [r for r in reviews if r["requester"]["subject"] == "alice"]
    review = wait_until(alices_pending_review, 15, "the review, listed by the third replica")[0]
    assert held.is_alive(), f"the statement was not held: {result}"
    c.review(people["bob"], "approve", review["id"], "--comment", "via the third replica")
    approved_at = time.time()
    held.join(timeout=20)
    assert result.get("rows") == [("Ada",), ("Linus",)], result
    assert result["at"] - approved_at < 2.0, f"woke {result['at'] - approved_at:.2f} s later"


class Client(threading.Thread):
    """Runs marked statements through the balancer; reconnects after any error."""

    def __init__(self, lb, token, n):
        super().__init__(daemon=True)
        self.lb, self.token, self.n = lb, token, n
        self.acked = []           # (marker, time acknowledged)
        self.errors = []          # time of each error
        self.stop = threading.Event()

    def run(self):
        k = 0
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.lb.dsn(self.token), autocommit=True) as conn:
                    while not self.stop.is_set():
                        k += 1
                        marker = f"deploy-marker-{self.n}-{k}"
                        conn.execute(f"select '{marker}'").fetchone()
                        self.acked.append((marker, time.time()))
            except psycopg.Error:
                self.errors.append(time.time())
                time.sleep(0.05)


def test_kill_9_of_a_replica_under_load_loses_nothing_acknowledged(cluster, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    a, survivors = replicas[0], replicas[1:]
    clients = [Client(lb, people["alice"], n) for n in range(4)]
    for c in clients:
        c.start()
    time.sleep(2)
    assert a.session_roles() >= 1, "no session was on replica a when it was killed"
    killed_at = time.time()
    a.kill9()
    time.sleep(4)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(timeout=15)
    for s in survivors:
        assert s.proc.poll() is None, f"the surviving replica {s.name} stopped"
    for c in clients:
        assert any(t > killed_at + 1 for _, t in c.acked), \
            f"client {c.n} made no progress after the kill (errors {len(c.errors)})"
    assert sum(len(c.errors) for c in clients) >= 1, "no client was on the killed replica"
    # The killed replica's session roles are orphans; a surviving replica (the one holding the
    # reaping lease) reaps them once a has been silent for dead_after, without waiting for a.
    wait_until(lambda: a.session_roles() == 0, 20, "a surviving replica to reap a's roles",
               0.2)
    reaped = r"orphaned by gateway \S+-%d, which stopped" % a.port
    assert [s for s in survivors if re.search(reaped, s.log_text())], "no survivor reaped"
    # The killed replica restarts on its own audit directory and verifies.
    try:
        a.start()
    except RuntimeError as err:
        raise AssertionError(f"the killed replica did not restart: {err}\n{a.log_text()[-3000:]}")
    wait_all_up(lb, replicas, people["alice"])
    verify = subprocess.run([str(JITGATE), "audit", "verify", "--config", str(a.config),
                             "--instance", instance_of(a), "--live", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Every acknowledged statement is in one replica's log (reindexed into the shared store).
    for r in replicas:
        rx = subprocess.run([str(JITGATE), "audit", "reindex", "--config", str(r.config)],
                            capture_output=True, text=True, timeout=120)
        assert rx.returncode == 0, rx.stderr
    found = search_markers(a)
    acked = {m for c in clients for m, _ in c.acked}
    missing = sorted(acked - found)
    assert not missing, f"{len(missing)} acknowledged statements are in no log: {missing[:5]}"


def instance_of(replica):
    """The audit instance name of a replica: the one directory under its audit dir."""
    dirs = [p.name for p in (replica.dir / "log").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def search_markers(replica):
    r = subprocess.run([str(JITGATE), "audit", "search", "--config", str(replica.config),
                        "--contains", "deploy-marker-", "--limit", "100000", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    found = set()
    for line in r.stdout.splitlines():
        if line.strip():
            m = re.search(r"deploy-marker-\d+-\d+", json.loads(line)["text"])
            if m:
                found.add(m.group(0))
    return found


def test_a_cancel_that_lands_on_the_other_replica_reaches_the_query(cluster, people):
    lb, (a, b, _) = cluster["lb"], cluster["replicas"]
    wait_all_up(lb, cluster["replicas"], people["alice"])
    sock = pgwire.tls_connect(b.port)
    try:
        login = pgwire.password_login(sock, {"user": "alice", "database": "kb"},
                                      people["alice"])
        assert login[-1][0] == b"Z", login
        pid, secret = pgwire.backend_key(login)
        sock.sendall(pgwire.query(b"select pg_sleep(60)"))
        time.sleep(0.5)  # the query is running upstream
        started = time.time()
        pgwire.cancel_request(a.port, pid, secret)  # to the replica that does not hold it
        msgs = pgwire.read_messages(sock, until={b"E", b"Z"})
        elapsed = time.time() - started
    finally:
        sock.close()
    errors = [pgwire.error_fields(p) for k, p in msgs if k == b"E"]
    assert errors and errors[0]["C"] == "57014", msgs  # query_canceled
    assert elapsed < 5, f"the cancel took {elapsed:.1f} s"
    assert "relayed to the other replicas" in a.log_text()
    assert "relayed by another replica" in b.log_text()


def test_a_cancel_with_a_wrong_secret_cancels_nothing_anywhere(cluster, people):
    a, b, _ = cluster["replicas"]
    sock = pgwire.tls_connect(b.port)
    try:
        login = pgwire.password_login(sock, {"user": "alice", "database": "kb"},
                                      people["alice"])
        pid, secret = pgwire.backend_key(login)
        sock.sendall(pgwire.query(b"select pg_sleep(2), 'survived'"))
        time.sleep(0.3)
        pgwire.cancel_request(a.port, pid, secret ^ 1)
        msgs = pgwire.read_messages(sock, until={b"E", b"Z"})
    finally:
        sock.close()
    assert not [m for m in msgs if m[0] == b"E"], msgs
    assert any(k == b"D" and b"survived" in p for k, p in msgs), msgs


def verify(replica, *args):
    r = subprocess.run([str(JITGATE), "audit", "verify", "--config", str(replica.config),
                        "--live", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return r


def test_audit_verify_reports_every_replicas_chain_and_the_ones_not_here_as_not_checked(
        cluster, pg):
    replicas = cluster["replicas"]
    a = replicas[0]
    names = {r.name: instance_of(r) for r in replicas}

    def anchored():
        return set(pg.sql("SELECT instance FROM audit_anchors", db=STORE_DB).split())
    wait_until(lambda: set(names.values()) <= anchored(), 15,
               "every replica to anchor a checkpoint in the store", 0.2)
    # On a's host: a's chain is checked; b's and c's are known to the store but not here.
    alone = verify(a, "--json")
    assert alone.returncode == 1, alone.stdout
    report = json.loads(alone.stdout)
    states = {i["instance"]: i["state"] for i in report["instances"]}
    assert states[names["a"]] == "intact", report
    assert states[names["b"]] == states[names["c"]] == "absent", report
    assert report["absent"] == 2 and not report["ok"], report
    text = verify(a).stdout
    for r in replicas:
        lines = [line for line in text.splitlines() if line.startswith(names[r.name] + ": ")]
        assert len(lines) == 1, text
        assert ("NOT CHECKED" in lines[0]) == (r is not a), lines[0]
    assert "audit log NOT FULLY CHECKED" in text, text
    # From one place, with every replica's directory and public key: all three intact.
    args = ["--json"]
    for r in replicas:
        args += ["--public-key", str(r.dir / "keys" / "sign.pub")]
        if r is not a:
            args += ["--replica-dir", str(r.dir / "log")]
    together = verify(a, *args)
    assert together.returncode == 0, together.stdout
    report = json.loads(together.stdout)
    assert {i["instance"]: (i["state"], i["dir"]) for i in report["instances"]
            if i["instance"] in names.values()} == {
        names[r.name]: ("intact", str(r.dir / "log")) for r in replicas}, report


def expiry_lease_holder(pg):
    """The instance holding the `expire-access` lease now (None when nobody does)."""
    rows = pg.sql("SELECT holder FROM store_leases WHERE task = 'expire-access' AND until_us > "
                  "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint", db=STORE_DB)
    holders = rows.split()
    assert len(holders) <= 1, holders
    return holders[0] if holders else None


def replica_named(replicas, instance):
    return next(r for r in replicas if instance.endswith(f"-{r.port}"))


def past_window_review(replica, idp, user):
    """A review requested through `replica` whose window the store says has already ended."""
    token = idp.token(user=user, groups=["contractors"], ttl=900)
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(replica.dsn(password=token))
    review = re.search(r"review (r-[a-z0-9]+)", str(refused.value))
    assert review, str(refused.value)
    pg = replica.pg
    pg.sql("UPDATE access_reviews SET expires_at = "
           "(extract(epoch FROM clock_timestamp()) * 1000)::bigint "
           f"WHERE id = '{review.group(1)}' AND state = 'pending'", db=STORE_DB)
    return review.group(1)


def expired_records(replica, review_id):
    """The `review.expired` records of `review_id` in the replica's log (`jitgate replay`)."""
    # A replay records itself as instance replay-<host>, anchored in the shared store; here the
    # three replicas share one host, so each replay starts that log afresh in its own directory.
    replica.pg.sql("DELETE FROM audit_anchors WHERE instance LIKE 'replay-%'", db=STORE_DB)
    r = subprocess.run([str(JITGATE), "replay", "access", "--config", str(replica.config),
                        "--json"], capture_output=True, text=True, timeout=30)
    if r.returncode == 1 and "no records for session access" in r.stderr:
        return []
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return [x for x in records
            if x.get("action") == "review.expired" and x.get("review") == review_id]


def assert_expired_once_by(pg, replicas, holder, review_id):
    """The review expires, and its one `review.expired` record is in the holder's log."""
    state = lambda: pg.sql(f"SELECT state FROM access_reviews WHERE id = '{review_id}'",
                           db=STORE_DB).strip()
    wait_until(lambda: state() == "expired", 10, f"review {review_id} to expire", 0.1)
    live = [r for r in replicas if r.proc.poll() is None]
    counts = lambda: {r.name: len(expired_records(r, review_id)) for r in live}
    recorded = wait_until(lambda: (c := counts()) and sum(c.values()) and c, 10,
                          f"a record of the expiry of {review_id}", 0.2)
    assert recorded == {r.name: int(r is holder) for r in live}, (holder.name, recorded)


def test_one_replica_holds_the_expiry_lease_and_expires_a_review_once(cluster, pg, idp):
    replicas = cluster["replicas"]
    holder = wait_until(lambda: expiry_lease_holder(pg), 10, "a holder of expire-access")
    h = replica_named(replicas, holder)
    other = next(r for r in replicas if r is not h)
    review_id = past_window_review(other, idp, "erin")
    assert_expired_once_by(pg, replicas, h, review_id)
    assert expiry_lease_holder(pg) == holder


def test_when_the_expiry_lease_holder_dies_a_survivor_takes_over(cluster, pg, idp, people):
    lb, replicas = cluster["lb"], cluster["replicas"]
    wait_all_up(lb, replicas, people["alice"])
    dead = replica_named(replicas, wait_until(lambda: expiry_lease_holder(pg), 10,
                                              "a holder of expire-access"))
    dead.kill9()
    try:
        # The lease runs out after twice the sweep interval plus dead_after (2 s).
        holder = wait_until(lambda: (h := expiry_lease_holder(pg)) and
                            not h.endswith(f"-{dead.port}") and h, 15,
                            "a surviving replica to take expire-access", 0.2)
        h = replica_named(replicas, holder)
        survivor = next(r for r in replicas if r is not dead and r is not h)
        review_id = past_window_review(survivor, idp, "frank")
        assert_expired_once_by(pg, replicas, h, review_id)
    finally:
        dead.start()
        wait_all_up(lb, replicas, people["alice"])
