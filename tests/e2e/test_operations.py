"""Operating the gateway: /metrics names, /readyz, JSON log fields, live sessions through the admin
API and the CLI, and `make install`."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from harness import JITGATE, ROOT, Gateway, fill_filesystem, make_keys, scrape_metrics

POLICIES = """policies:
  - { id: kb-read, reason: engineers read the knowledge base,
      match: { groups: [eng], resource: kb }, allow: [read, write, session] }
  - { id: no-customers, reason: customer rows are not for this pipeline,
      match: { groups: [eng], resource: kb, tables: [public.customers] }, deny: [delete] }
  - { id: kb-write, reason: writes need a data owner,
      match: { groups: [eng], resource: kb, kinds: [insert, update, delete] }, action: review,
      scope: statement, mode: fail_fast, approvers: { groups: [data-owners], count: 1 } }
"""


class OpsGateway(Gateway):
    def __init__(self, pg, idp, audit_dir):
        super().__init__(pg, static_auth=False, policies=POLICIES, admin=True, tls=False)
        keys = make_keys(self.dir / "keys")
        key = self.dir / "mask.key"
        key.write_bytes(os.urandom(32))
        os.chmod(key, 0o600)
        self.extra_yaml = (
            idp.identity_yaml() + f"store: sqlite://{self.dir}/state.db\n" +
            f"masking: {{ key_file: {key}, strategy: redact, detectors: [email] }}\n" +
            f"audit: {{ dir: {audit_dir}/log, durability: batched, batch_delay: 5ms, "
            f"retry_interval: 200ms, segment_max_bytes: 65536, key_file: {keys}/raw.key, "
            f"signing_key_file: {keys}/sign.pem }}\n")

    def log_lines(self):
        """The JSON log lines (the gateway runs with --log-format json)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def cli(self, token, *args):
        return subprocess.run([str(JITGATE), *args, "--gateway", self.admin_url, "--token", token],
                              capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def auditfs(tmp_path_factory):
    """A small tmpfs for the audit log, so a test can fill it (readiness turns 503)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path_factory.mktemp("opsfs")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture(scope="module")
def gw(pg, idp, auditfs):
    g = OpsGateway(pg, idp, auditfs).start(extra_args=["--log-format", "json"])
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def tokens(idp):
    return {
        "alice": idp.token(user="alice", groups=["eng"], email="alice@corp.example"),
        "bob": idp.token(user="bob", groups=["data-owners"], email="bob@corp.example"),
        "mallory": idp.token(user="mallory", groups=["sales"], email="mallory@corp.example"),
    }


def dsn(gw, token, db="kb"):
    return gw.dsn(db=db, password=token, sslmode="disable")


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def readyz(gw):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(gw.admin_url + "/readyz", timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def traffic(gw, tokens):
    """One allowed query with a masked value, one refused statement, one bad token, one policy
    refusal of a session: what the metrics and logs below are checked against."""
    with psycopg.connect(dsn(gw, tokens["alice"]), autocommit=True) as conn:
        (email,) = conn.execute("select email from customers where name = 'Ada'").fetchone()
        assert "ada@example.com" not in email
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from customers where id = -1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(gw, "not-a-token"))
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(dsn(gw, tokens["mallory"]))
    return {"refused": str(refused.value)}


def test_metrics_carry_every_operational_family(gw, traffic):
    m = scrape_metrics(gw)
    assert m['jitgate_statements_total{resource="kb",decision="allow",rule="kb-read"}'] >= 1
    assert m['jitgate_statements_total{resource="kb",decision="deny",rule="no-customers"}'] >= 1
    assert m['jitgate_auth_failures_total{front="postgres",reason="invalid_credential"}'] >= 1
    assert m['jitgate_masked_values_total{label="EMAIL"}'] >= 1, \
        [k for k in m if "masked" in k]
    assert wait_for(
        lambda: scrape_metrics(gw)['jitgate_sessions_by_resource{resource="kb"}'] == 0)
    assert m['jitgate_upstream_connects_total{resource="kb",result="ok"}'] >= 1
    assert m["jitgate_upstream_connect_seconds_count"] >= 1
    assert m['jitgate_upstream_connect_seconds_bucket{le="+Inf"}'] >= 1
    assert m["jitgate_audit_fsync_seconds_count"] >= 1
    assert m["jitgate_audit_fsync_seconds_sum"] > 0
    assert m["jitgate_audit_queued_records"] >= 0
    assert m["jitgate_reviews_pending"] == 0
    assert m["jitgate_webhook_deliveries_total"] == 0
    assert m["jitgate_webhook_failures_total"] == 0
    assert "jitgate_classifier_hits_total" in m


def test_metrics_count_a_pending_review_and_its_decision(gw, tokens, traffic):
    with psycopg.connect(dsn(gw, tokens["alice"]), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as held:
            conn.execute("update documents set title = title where doc_id = 1")
    found = re.search(r"review (r-[a-z0-9]+)", str(held.value))
    assert found, str(held.value)
    review = found.group(1)
    m = scrape_metrics(gw)
    assert m["jitgate_reviews_pending"] == 1
    assert m['jitgate_review_events_total{event="review.created"}'] >= 1
    assert [k for k in m if k.startswith("jitgate_statements_total") and 'rule="kb-write"' in k]
    status, _ = gw.admin("POST", f"/api/v1/reviews/{review}/reject", tokens["bob"], {})
    assert status == 200
    m = scrape_metrics(gw)
    assert m["jitgate_reviews_pending"] == 0
    assert m['jitgate_review_events_total{event="review.rejected"}'] == 1


def test_policy_refusal_is_not_logged_or_counted_as_an_authentication_failure(gw, traffic):
    assert "42501" in traffic["refused"] or "no rule" in traffic["refused"], traffic
    lines = gw.log_lines()
    refused = [x for x in lines if x["msg"].startswith("session refused by policy")]
    assert refused, [x["msg"] for x in lines]
    sid = refused[-1]["sid"]
    assert not [x for x in lines if x.get("sid") == sid and "authentication failed" in x["msg"]]
    failed = [x for x in lines if "authentication failed" in x["msg"]]
    assert len(failed) == 1 and failed[0]["reason"] == "invalid_credential", failed
    m = scrape_metrics(gw)
    assert m['jitgate_auth_failures_total{front="postgres",reason="invalid_credential"}'] == 1
    assert 'jitgate_auth_failures_total{front="postgres",reason="not_accepted"}' not in m


def test_json_log_lines_carry_structured_fields(gw, traffic):
    lines = gw.log_lines()
    refused = [x for x in lines if x["msg"].startswith("statement refused")]
    assert refused
    assert refused[0]["rule"] == "no-customers"
    assert refused[0]["resource"] == "kb"
    assert refused[0]["sqlstate"] == "42501"
    assert refused[0]["sid"].startswith("s-")
    ended = [x for x in lines if x["msg"].startswith("session ended:") and x.get("user")]
    assert ended and ended[0]["user"] == "alice@corp.example" and ended[0]["resource"] == "kb"
    assert ended[0]["statements_refused"] == "1"
    assert "EMAIL=1" in ended[0]["masked"]
    policy = [x for x in lines if x["msg"].startswith("session refused by policy")][-1]
    assert policy["user"] == "mallory@corp.example" and policy["sqlstate"] == "42501"


def test_a_session_logs_no_line_twice(gw, traffic):
    by_session = {}
    for x in gw.log_lines():
        if x.get("sid"):
            by_session.setdefault(x["sid"], []).append(x["msg"])
    assert by_session
    for sid, msgs in by_session.items():
        assert len(msgs) == len(set(msgs)), (sid, msgs)


def test_cli_commands_keep_host_notices_and_info_lines_off_their_output(gw):
    r = subprocess.run([str(JITGATE), "check-config", str(gw.config)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Vectorscan" not in r.stdout + r.stderr
    assert " info " not in r.stdout + r.stderr


def test_admin_lists_live_sessions_and_ends_one_with_57p01_naming_who(gw, tokens):
    with psycopg.connect(dsn(gw, tokens["alice"]), autocommit=True) as conn:
        conn.execute("select 1")
        listed = gw.cli(tokens["bob"], "sessions", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        sessions = json.loads(listed.stdout)["sessions"]
        mine = [s for s in sessions if s["user"] == "alice@corp.example"]
        assert len(mine) == 1 and mine[0]["resource"] == "kb" and mine[0]["state"] == "active"
        assert scrape_metrics(gw)['jitgate_sessions_by_resource{resource="kb"}'] == 1
        table = gw.cli(tokens["bob"], "sessions", "list")
        assert mine[0]["id"] in table.stdout and "alice@corp.example" in table.stdout

        denied = gw.cli(tokens["alice"], "sessions", "end", mine[0]["id"])
        assert denied.returncode == 1 and "approvers" in denied.stderr, denied.stderr
        missing = gw.cli(tokens["bob"], "sessions", "end", "s-nosuchsession")
        assert missing.returncode == 1 and "no live session" in missing.stderr

        ended = gw.cli(tokens["bob"], "sessions", "end", mine[0]["id"], "--reason", "rotation")
        assert ended.returncode == 0, ended.stderr
        assert "being ended" in ended.stdout
        with pytest.raises(psycopg.OperationalError) as cut:
            deadline = time.time() + 15  # the end is asynchronous; a busy machine is slow
            while time.time() < deadline:
                conn.execute("select 1")
                time.sleep(0.05)
        assert "ended by administrator bob@corp.example: rotation" in str(cut.value)
    assert wait_for(lambda: not [s for s in gw.admin("GET", "/api/v1/sessions",
                                                      tokens["bob"])[1]["sessions"]
                                 if s["id"] == mine[0]["id"]])
    lines = gw.log_lines()
    end = [x for x in lines if x.get("sid") == mine[0]["id"] and x["msg"].startswith("session ended:")]
    assert end and end[-1]["sqlstate"] == "57P01"
    assert scrape_metrics(gw)['jitgate_sessions_ended_by_admin_total{resource="kb"}'] == 1


def test_sessions_api_needs_a_token(gw):
    status, body = gw.admin("GET", "/api/v1/sessions")
    assert status == 401 and body["error"] == "unauthorized"
    assert scrape_metrics(gw)['jitgate_auth_failures_total{front="admin",reason="no_token"}'] >= 1


def test_readyz_names_its_checks_and_turns_503_when_the_audit_disk_is_full(gw, tokens, auditfs):
    status, body = readyz(gw)
    assert status == 200, body
    assert body["status"] == "ready"
    assert {c["name"] for c in body["checks"]} == {"store", "audit", "keys"}
    assert all(c["ok"] for c in body["checks"])
    fill_filesystem(auditfs)
    try:
        with psycopg.connect(dsn(gw, tokens["alice"]), autocommit=True) as conn:
            with pytest.raises(psycopg.Error):
                for _ in range(200):
                    conn.execute("select md5(g::text) from generate_series(1, 2000) g")
        assert wait_for(lambda: readyz(gw)[0] == 503)
        status, body = readyz(gw)
        failing = [c for c in body["checks"] if not c["ok"]]
        assert [c["name"] for c in failing] == ["audit"], body
        assert failing[0]["error"]
    finally:
        os.remove(auditfs / "filler")
    assert wait_for(lambda: readyz(gw)[0] == 200, timeout=30)


def test_make_install_puts_binary_manual_example_config_and_unit_under_destdir(tmp_path):
    build = JITGATE.parent
    if not (build / "cmake_install.cmake").exists():
        pytest.skip(f"{build} is not a CMake build directory")
    r = subprocess.run(["make", "-C", str(ROOT), "install", f"BUILD={build}",
                        f"DESTDIR={tmp_path}", "PREFIX=/usr/local"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    root = tmp_path / "usr/local"
    binary = root / "bin/jitgate"
    assert os.access(binary, os.X_OK)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("jitgate ")
    man = (root / "share/man/man1/jitgate.1").read_text()
    assert man.startswith(".TH JITGATE 1")
    assert ".SS jitgate sessions end" in man and ".SS jitgate serve" in man
    example = root / "share/jitgate/jitgate.yaml.example"
    assert "listen:" in example.read_text()
    unit = (root / "lib/systemd/system/jitgate.service").read_text()
    assert "ExecStart=/usr/local/bin/jitgate serve --config /etc/jitgate/jitgate.yaml" in unit
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                      "CapabilityBoundingSet=", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert hardening in unit
    assert "@" not in re.sub(r"@system-service|@privileged", "", unit)


def test_release_split_leaves_a_small_binary_linked_to_its_debug_info():
    build = JITGATE.parent
    dry = subprocess.run(["ninja", "-C", str(build), "-n", "jitgate"], capture_output=True,
                         text=True)
    if dry.returncode != 0 or "Building" in dry.stdout or "Linking" in dry.stdout:
        pytest.skip("the jitgate binary is not up to date: the split would rebuild it")
    r = subprocess.run(["cmake", "--build", str(build), "--target", "jitgate-release"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = Path(build) / "release"
    size = (out / "jitgate").stat().st_size
    assert size < 32 << 20, size
    assert (out / "jitgate.debug").stat().st_size > size
    sections = subprocess.run(["objdump", "-h", str(out / "jitgate")], capture_output=True,
                              text=True).stdout
    assert ".gnu_debuglink" in sections and ".debug_info" not in sections
    version = subprocess.run([str(out / "jitgate"), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("jitgate ")
