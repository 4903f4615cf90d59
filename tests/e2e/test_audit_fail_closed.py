"""The recorder fails closed in every durability mode and recovers by itself.

The audit directory is a 2 MiB tmpfs that the test fills up while clients work. Once a write
fails, new statements get ERROR 58030 (or, for a session whose records were caught in the failed
write, FATAL 58030), new connections FATAL 58030, and GET /metrics shows the alert. Once space is
freed the gateway serves again without a restart, and afterwards every row the upstream received
has its statement in the log, which verifies."""
import json
import os
import subprocess
import time

import pytest

import pgwire
from harness import JITGATE, Gateway, fill_filesystem, make_keys, scrape_metrics

SIZE = "2m"


@pytest.fixture
def tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "auditfs"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def fill(directory):
    fill_filesystem(directory)


def metrics(gw):
    return scrape_metrics(gw)


def login(gw):
    s = pgwire.connect(gw.port)
    msgs = pgwire.password_login(s, {"user": "alice", "database": "kb"}, Gateway.CLIENT_PASSWORD)
    assert msgs and msgs[-1][0] == b"Z", msgs
    return s


def run(sock, sql):
    """('ok', rows) | ('error', fields) | ('fatal', fields) | ('closed', None)."""
    try:
        sock.sendall(pgwire.message(b"Q", sql.encode() + b"\0"))
        msgs = pgwire.read_messages(sock, until={b"Z"})
    except OSError:
        return "closed", None
    errors = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    if errors:
        return ("fatal" if errors[0].get("S") == "FATAL" else "error"), errors[0]
    if not msgs or msgs[-1][0] != b"Z":
        return "closed", None
    return "ok", [p for t, p in msgs if t == b"D"]


def refused_connection(gw):
    """The gateway's answer to a new connection: the ErrorResponse it sends, if any."""
    s = pgwire.connect(gw.port)
    try:
        msgs = pgwire.read_messages(s, until={b"E", b"R", b"N", b"S"})
    finally:
        s.close()
    return pgwire.error_fields(msgs[0][1]) if msgs and msgs[0][0] == b"E" else None


def cli(gw, *args):
    return subprocess.run([str(JITGATE), *args, "--config", str(gw.config)], capture_output=True,
                          text=True, timeout=120)


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("durability", ["batched", "strict"])
def test_full_audit_disk_refuses_work_and_recovers_without_restart(pg, tmp_path, tmpfs,
                                                                  durability):
    table = f"failclosed_{durability}"
    pg.sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n text); "
           f"GRANT ALL ON {table} TO app", db="kb")
    keys = make_keys(tmp_path / "keys")
    yaml = f"""store: sqlite://{tmp_path}/state.db
audit:
  dir: {tmpfs}/log
  durability: {durability}
  batch_delay: 5ms
  segment_max_bytes: 4096
  retry_interval: 200ms
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""
    gw = Gateway(pg, tls=False, admin=True, extra_yaml=yaml).start()
    try:
        idle = login(gw)  # its records are durable before the disk fills
        assert run(idle, "select 'idle is here'")[0] == "ok"
        worker = login(gw)
        time.sleep(0.2)
        fill(tmpfs)

        # Work until the log cannot be written; keep the disk full as the recorder frees space.
        served, outcome = [], None
        for i in range(400):
            kind, detail = run(worker, f"insert into {table} values ('w-{i}')")
            if kind == "ok":
                served.append(f"w-{i}")
                fill(tmpfs)
                continue
            outcome = (kind, detail)
            break
        assert outcome is not None, "the full audit disk was never noticed"
        kind, fields = outcome
        assert kind in ("error", "fatal"), outcome
        assert fields["C"] == "58030", fields
        assert "audit log" in fields["M"], fields

        # New statements are refused with ERROR 58030; the idle session stays open.
        kind, fields = run(idle, f"insert into {table} values ('refused')")
        assert kind == "error" and fields["C"] == "58030", (kind, fields)
        assert "audit log cannot be written" in fields["M"]
        kind, fields = run(idle, "select 1")
        assert kind == "error" and fields["C"] == "58030", (kind, fields)
        # New sessions get FATAL 58030 at once.
        fields = refused_connection(gw)
        assert fields and fields["S"] == "FATAL" and fields["C"] == "58030", fields
        m = metrics(gw)
        assert m["jitgate_audit_writable"] == 0
        assert m["jitgate_audit_write_failures_total"] >= 1
        assert m["jitgate_audit_refused_sessions_total"] >= 1
        assert m["jitgate_audit_refused_statements_total"] >= 2
        # The log names the cause; the client was only told that the audit log failed.
        log = gw.log_text()
        assert "audit log unavailable: audit log" in log and "No space left on device" in log
        assert "No space left on device" not in fields["M"]
        time.sleep(0.6)  # a few failed probes: still refusing
        assert metrics(gw)["jitgate_audit_writable"] == 0
        assert pg.sql(f"select count(*) from {table} where n = 'refused'", db="kb").strip() == "0"

        # Space comes back: the gateway serves again by itself.
        os.remove(tmpfs / "filler")
        assert wait_for(lambda: metrics(gw)["jitgate_audit_writable"] == 1), gw.log_text()[-3000:]
        assert metrics(gw)["jitgate_audit_recoveries_total"] >= 1
        kind, rows = run(idle, f"insert into {table} values ('after')")
        assert kind == "ok", rows
        fresh = login(gw)
        assert run(fresh, f"insert into {table} values ('fresh')")[0] == "ok"
        served += ["after", "fresh"]
        for s in (idle, worker, fresh):
            s.close()
        assert "audit log writable again" in gw.log_text()
    finally:
        assert gw.stop() == 0
    try:
        # Everything the upstream received is in the log, and the log verifies.
        r = cli(gw, "audit", "verify")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "audit log OK" in r.stdout
        r = cli(gw, "audit", "reindex")
        assert r.returncode == 0, r.stderr
        r = cli(gw, "audit", "search", "--contains", f"insert into {table}", "--json", "--limit",
                "10000")
        assert r.returncode == 0, r.stderr
        hits = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        allowed = {h["text"] for h in hits if h["decision"] == "allow"}
        upstream = pg.sql(f"select n from {table}", db="kb").split()
        assert upstream and set(served) <= set(upstream)
        for n in upstream:
            assert f"insert into {table} values ('{n}')" in allowed, n
        refused = [h for h in hits if h.get("rule") == "builtin:audit-unavailable"]
        assert refused and all(h["decision"] == "deny" for h in refused), hits
    finally:
        gw.cleanup()
