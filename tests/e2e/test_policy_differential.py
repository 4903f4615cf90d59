"""Differential test of policy soundness against the real server.

Random sessions (diff_sessions.py) go through a gateway whose policy lets group `rag` read
`public.documents` and keep house (SET, SHOW, transactions), nothing else. Afterwards PostgreSQL
itself says what each statement did (diff_oracle.py: its statement log and auto_explain plans,
plus side effects read from the catalog), and the test checks:

- every plan the server ran for the session touched only public.documents and called no
  side-effecting or SQL-text-running function;
- no sequence moved, no large object appeared, no notification was sent, no advisory lock was
  left held, and the statistics of every other table show no scan or write;
- for every plan, the tables the gateway recorded in its audit log for the statement include
  every relation the plan touched.

JITGATE_DIFF_SEED (default 1) and JITGATE_DIFF_SESSIONS (default 40) choose the run
(JITGATE_DIFF_FIRST skips to a session index); a failure prints the seed, each failing session's
script with what the client saw, and what the server did. JITGATE_DIFF_VERBOSE=1 prints every
session (with -s). `make fuzz` runs it longer, with a random seed.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

import pgwire
from diff_oracle import SERVER_SETTINGS, parse_log, plan_of, statement_text
from diff_sessions import generate_session
from harness import JITGATE, Gateway, PgServer, make_keys

SEED = int(os.environ.get("JITGATE_DIFF_SEED", "1"))
SESSIONS = int(os.environ.get("JITGATE_DIFF_SESSIONS", "40"))
FIRST = int(os.environ.get("JITGATE_DIFF_FIRST", "0"))  # to rerun one session: FIRST=i SESSIONS=1

POLICIES = """policies:
  - id: read-documents
    reason: the pipeline reads public.documents and nothing else
    match: { groups: [rag], resource: diff, tables: [public.documents] }
    allow: [select]
  - id: housekeeping
    reason: session settings and transactions
    match: { groups: [rag], resource: diff }
    allow: [session]
"""

SCHEMA = """
CREATE SCHEMA secret;
CREATE SCHEMA app AUTHORIZATION app;  -- "$user" for the upstream user: shadows public
CREATE TABLE public.documents (doc_id int PRIMARY KEY, title text, body text);
INSERT INTO public.documents SELECT g, 'doc ' || g, 'public text' FROM generate_series(1, 20) g;
CREATE TABLE secret.keys (k text);
INSERT INTO secret.keys VALUES ('secret-key-1'), ('secret-key-2');
CREATE TABLE secret.documents (doc_id int, title text, body text);
INSERT INTO secret.documents VALUES (1, 'secret doc', 'secret text');
CREATE TABLE app.documents (doc_id int, title text, body text);
INSERT INTO app.documents VALUES (1, 'shadow doc', 'shadow text');
CREATE SEQUENCE public.doc_seq;
GRANT USAGE ON SCHEMA secret TO app;
GRANT ALL ON ALL TABLES IN SCHEMA secret, public TO app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;
ALTER TABLE app.documents OWNER TO app;
"""

# Side effects read from the catalogue after each session (as the superuser, over the socket).
SNAPSHOT = """
SELECT json_build_object(
  'sequences', (SELECT json_object_agg(schemaname || '.' || sequencename,
                                       coalesce(last_value::text, 'unset')) FROM pg_sequences),
  'large_objects', (SELECT count(*) FROM pg_largeobject_metadata),
  'tables', (SELECT json_object_agg(schemaname || '.' || relname,
                                    json_build_array(seq_scan, coalesce(idx_scan, 0), n_tup_ins,
                                                     n_tup_upd, n_tup_del))
             FROM pg_stat_user_tables WHERE (schemaname, relname) <> ('public', 'documents')))
"""


class GroupGateway(Gateway):
    """Static callers are in group rag."""

    def write_config(self):
        super().write_config()
        text = self.config.read_text().replace(
            "password_file: client_password }", "password_file: client_password, groups: [rag] }")
        self.config.write_text(text)


@dataclass
class Env:
    pg: PgServer
    gw: Gateway
    checker: psycopg.Connection
    audit_dir: Path
    notifications: list = field(default_factory=list)

    def log_size(self):
        return self.pg.log.stat().st_size

    def log_between(self, start, end):
        with open(self.pg.log, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def snapshot(self):
        self.checker.execute("SELECT pg_stat_clear_snapshot()")
        return self.checker.execute(SNAPSHOT).fetchone()[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("differential")
    pg = PgServer(ssl=False, settings=SERVER_SETTINGS).start()
    gw = None
    try:
        pg.create_db("diff")
        pg.sql(SCHEMA, db="diff")
        pg.sql("ALTER DATABASE diff SET statement_timeout = '5s'")
        keys = make_keys(d / "keys")
        audit = (f"audit:\n  dir: {d}/log\n  durability: strict\n  key_file: {keys}/raw.key\n"
                 f"  signing_key_file: {keys}/sign.pem\n")
        gw = GroupGateway(pg, tls=False, policies=POLICIES, extra_yaml=audit, resources=[
            {"name": "diff", "database": "diff", "sslmode": "disable"}]).start()
        checker = psycopg.connect(host=str(pg.dir), port=pg.port, user="postgres", dbname="diff",
                                  application_name="jgdiff-checker", autocommit=True)
        e = Env(pg, gw, checker, d / "log")
        checker.add_notify_handler(lambda n: e.notifications.append((n.channel, n.payload)))
        checker.execute("LISTEN jgdiff")
        yield e
        checker.close()
    finally:
        if gw:
            gw.cleanup()
        pg.cleanup()


# -- running a session ----------------------------------------------------------------------------

@dataclass
class StepRun:
    start_us: int          # when the step was sent (audit records carry the same clock)
    entries: list          # the server log entries of the session's backend during the step
    responses: list        # (type, payload) up to ReadyForQuery
    reconnected: bool = False  # sent on a new connection: the gateway had ended the last one

    def outcome(self):
        """What the client saw, in a few words."""
        if not self.responses or self.responses[-1][0] != b"Z":
            return "the connection ended"
        errors = [pgwire.error_fields(p) for t, p in self.responses if t == b"E"]
        if errors:
            return "; ".join(f"{e.get('C')} {e.get('M')}" for e in errors)
        rows = sum(1 for t, _ in self.responses if t == b"D")
        return f"ok, {rows} row(s)" if rows else "ok"


@dataclass
class SessionRun:
    session: object
    login_error: str = ""
    steps: list = field(default_factory=list)
    after: list = field(default_factory=list)      # log entries after the last step (exit)
    effects: list = field(default_factory=list)    # side effects seen in the catalogue
    sids: list = field(default_factory=list)       # gateway session ids in its log meanwhile


def login(sock, params):
    sock.sendall(pgwire.startup_packet(params))
    msgs = pgwire.read_messages(sock, until={b"R", b"E"})
    if not msgs or msgs[-1][0] != b"R":
        return "no password request: " + describe(msgs)
    sock.sendall(pgwire.message(b"p", Gateway.CLIENT_PASSWORD.encode() + b"\0"))
    msgs = pgwire.read_messages(sock, until={b"Z", b"E"})
    return "" if msgs and msgs[-1][0] == b"Z" else "login refused: " + describe(msgs)


def describe(msgs):
    errors = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    return "; ".join(f"{e.get('C')} {e.get('M')}" for e in errors) or "connection closed"


def step_bytes(step):
    if step.kind == "query":
        return pgwire.query(step.sql)
    tail = pgwire.bind(step.name) + pgwire.execute() + pgwire.sync()
    return (pgwire.parse(step.name, step.sql) if step.kind == "extended" else b"") + tail


def backend_pid(env, app, gone=False, timeout=10.0):
    """The pid of the session's upstream backend; with gone=True, waits until it has exited
    (its statistics are flushed by then)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        row = env.checker.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                  [app]).fetchone()
        if gone and row is None:
            return 0
        if not gone and row is not None:
            return row[0]
        time.sleep(0.01)
    raise AssertionError(f"the upstream backend of {app} did not {'exit' if gone else 'appear'}")


class Connection:
    """One client connection through the gateway, and the upstream backend serving it."""

    def __init__(self, env, params):
        self.env, self.app = env, params["application_name"]
        self.sock = pgwire.connect(env.gw.port)
        self.sock.settimeout(15)
        self.error = login(self.sock, params)
        self.pid = 0 if self.error else backend_pid(env, self.app)

    def step(self, step):
        offset, start_us = self.env.log_size(), time.time_ns() // 1000
        self.sock.sendall(step_bytes(step))
        msgs = pgwire.read_messages(self.sock, until={b"Z"}, limit=100000)
        return StepRun(start_us, self.entries(offset), msgs)

    def entries(self, offset):
        """The log entries of this connection's backend since `offset`."""
        data = self.env.log_between(offset, self.env.log_size())
        return [e for e in parse_log(data) if e.pid == self.pid]

    def close(self, effects):
        """Ends the connection and returns the backend's last log entries (a cursor or portal
        still open is finished when the backend exits). Advisory locks still held go to
        `effects`."""
        if self.pid:
            locks = self.env.checker.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'",
                [self.pid]).fetchone()[0]
            if locks:
                effects.append(f"advisory locks held at the end ({locks})")
        offset = self.env.log_size()
        try:
            self.sock.sendall(pgwire.message(b"X"))
        except OSError:
            pass  # the gateway closed it already
        self.sock.close()
        backend_pid(self.env, self.app, gone=True)
        return self.entries(offset) if self.pid else []


def run_session(env, session):
    """Runs the script. When the gateway refuses the startup packet, the script runs on a
    connection with only user, database and application_name; when it ends the connection
    mid-script, the rest runs on a new one, so that one refusal does not hide the rest."""
    run = SessionRun(session)
    gw_log = env.gw.log.stat().st_size if env.gw.log.exists() else 0
    before = env.snapshot()
    params = session.params
    conn = Connection(env, params)
    if conn.error:
        run.login_error = conn.error
        conn.close([])
        params = {k: params[k] for k in ("user", "database", "application_name")}
        conn = Connection(env, params)
        if conn.error:
            run.login_error += "; without the settings too: " + conn.error
            conn.close([])
            conn = None
    for step in session.steps if conn else []:
        reconnected = conn is None
        if reconnected:
            conn = Connection(env, params)
            if conn.error:
                break
        sr = conn.step(step)
        sr.reconnected = reconnected
        run.steps.append(sr)
        if not sr.responses or sr.responses[-1][0] != b"Z":
            sr.entries += conn.close([])  # the gateway ended the connection
            conn = None
    if conn:
        run.after = conn.close(run.effects)
    run.effects += side_effects(before, env.snapshot(), env)
    with open(env.gw.log, "rb") as f:
        f.seek(gw_log)
        run.sids = [m.decode() for m in re.findall(rb"\[(s-[a-z0-9]+)\]", f.read())]
    return run


def side_effects(before, after, env):
    out = []
    for name, value in after["sequences"].items():
        if before["sequences"].get(name) != value:
            out.append(f"sequence {name} moved ({before['sequences'].get(name)} -> {value})")
    if after["large_objects"] != before["large_objects"]:
        out.append(f"large objects created ({before['large_objects']} -> "
                   f"{after['large_objects']})")
    for name, counters in after["tables"].items():
        if before["tables"].get(name) != counters:
            out.append(f"table {name} read or written (statistics seq_scan, idx_scan, ins, upd, "
                       f"del: {before['tables'].get(name)} -> {counters})")
    env.checker.execute("SELECT 1")  # delivers pending notifications to the handler
    out += [f"notification sent on channel {c} ({p!r})" for c, p in env.notifications]
    env.notifications.clear()
    return out


# -- the gateway's audit log --------------------------------------------------------------------

def audit_statements(env, runs):
    """application_name -> the statement records of its gateway sessions: (ts, decision,
    tables). Sessions absent from the audit log are absent here."""
    if shutil.which("zstd"):
        records = audit_records(env.audit_dir)
    else:  # one replay per session: the same records, slower (each reads the whole log)
        records = []
        for sid in dict.fromkeys(sid for run in runs for sid in run.sids):
            r = subprocess.run([str(JITGATE), "replay", sid, "--format", "json", "--config",
                                str(env.gw.config)], capture_output=True, text=True, timeout=60)
            records += [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    apps = {x["sid"]: x.get("app", "") for x in records if x.get("type") == "connect"}
    out = {}
    for x in records:
        if x.get("type") == "statement" and x.get("sid") in apps:
            out.setdefault(apps[x["sid"]], []).append(
                (x.get("ts", 0), x.get("decision", ""), x.get("tables", [])))
    return out


def audit_records(audit_dir):
    """Every record of the audit log, read as docs/audit-format.md specifies. The frames' zstd
    payloads, concatenated, are one zstd stream; it decompresses to entries (seq, length,
    record, hash) end to end."""
    payloads = []
    for seg in sorted(Path(audit_dir).glob("*/*.seg")):
        if seg.parent.name.startswith("replay-"):
            continue
        data, pos = seg.read_bytes(), 16
        while pos + 8 <= len(data):
            length = struct.unpack_from("!I", data, pos)[0]
            if length == 0 or pos + 8 + length > len(data):
                break  # the end of the log in this file
            payloads.append(data[pos + 8:pos + 8 + length])
            pos += 8 + length
    if not payloads:
        return []
    out = subprocess.run(["zstd", "-dcq"], input=b"".join(payloads), capture_output=True,
                         check=True).stdout
    records, pos = [], 0
    while pos + 12 <= len(out):
        length = struct.unpack_from("!I", out, pos + 8)[0]
        records.append(json.loads(out[pos + 12:pos + 12 + length]))
        pos += 12 + length + 32
    return records


# -- judging ------------------------------------------------------------------------------------

@dataclass
class Violation:
    step: int       # 1-based; 0 for the session as a whole
    family: str     # what the step exercises
    facts: list     # what the server did that the policy forbids, one phrase each
    plan: str = ""  # the plan's text, and the step that sent it when that is another step


def judge(run, audit):
    """The violations of one session run; `audit` holds its gateway's statement records."""
    out, logged, read = [], {}, set()  # logged: text as the server logged it -> steps
    windows = [s.start_us for s in run.steps] + [float("inf")]
    for i, sr in enumerate(run.steps + [StepRun(0, run.after, [])]):
        for text in filter(None, map(statement_text, sr.entries)):
            logged.setdefault(text, set()).add(i)
        for plan in filter(None, map(plan_of, sr.entries)):
            read |= {f"{s}.{n}" for s, n in plan.relations}
            facts = plan.violations()
            sent = logged.get(plan.query_text, set())
            if audit is not None:
                recorded = recorded_tables(audit, windows, sent | {i})
                missing = sorted(".".join(t) for t in plan.relations - recorded)
                if missing:
                    names = sorted(".".join(t) for t in recorded) or ["no table"]
                    facts.append(f"the audit record misses {', '.join(missing)} "
                                 f"(it names {', '.join(names)})")
            if facts:
                out.append(violation(run, i, plan, facts, sent))
    effects = [x for x in run.effects if not (x.startswith("table ") and x.split()[1] in read)]
    if effects:
        out.append(Violation(0, "side effects", effects))
    return out


def recorded_tables(audit, windows, steps):
    """The tables of the statements the gateway allowed during `steps` (by time: a record
    belongs to the last step sent before it)."""
    tables = set()
    for ts, decision, names in audit:
        step = next(k for k, start in enumerate(windows) if ts < start) - 1
        if decision == "allow" and step in steps:
            tables |= {tuple(t.split(".", 1)) for t in names}
    return tables


def violation(run, i, plan, facts, sent):
    """A plan's violation, credited to the step whose log holds the plan. A portal or cursor
    finishes (and its plan is logged) when it is closed, which may be a later step: the step
    that sent the text is named too."""
    steps = run.session.steps
    family = steps[i].family if i < len(steps) else "exit"
    where = f"plan of {plan.query_text!r}"
    if sent and i not in sent:
        where += f" (text sent at step {', '.join(str(k + 1) for k in sorted(sent))})"
        if family in ("transaction", "cursor", "exit"):
            family = steps[max(sent)].family
    return Violation(i + 1 if i < len(steps) else 0, family, facts, where)


def transcript(run):
    """The session's script with what the client saw after each step."""
    session = run.session
    lines = ["startup " + " ".join(f"{k}={v!r}" for k, v in session.params.items())]
    if run.login_error:
        lines.append("  -> " + run.login_error)
    for i, step in enumerate(session.steps):
        if i < len(run.steps) and run.steps[i].reconnected:
            lines.append("     (a new connection: the gateway ended the last one)")
        lines.append(f"{i + 1:3d}. {step.render()}")
        if i < len(run.steps):
            lines.append(f"       -> {run.steps[i].outcome()}")
    return "\n".join(lines)


def report(runs, violations, detailed=15):
    count = sum(map(len, violations.values()))
    lines = [f"the server did what the policy forbids: {count} violation(s) in "
             f"{len(violations)} of {len(runs)} session(s), seed {SEED} (rerun one: "
             f"JITGATE_DIFF_SEED={SEED} JITGATE_DIFF_FIRST=<session> JITGATE_DIFF_SESSIONS=1)"]
    summary = {}
    for v in (v for vs in violations.values() for v in vs):
        for fact in v.facts:
            key = (v.family, fact.split(" (")[0])
            summary[key] = summary.get(key, 0) + 1
    lines += [f"  {family}: {fact} x{n}" for (family, fact), n in sorted(summary.items())]
    shown = [run for run in runs if run.session.index in violations][:detailed]
    for run in shown:
        lines += ["", f"session {run.session.index} ({run.session.app}):", transcript(run)]
        for v in violations[run.session.index]:
            where = f"step {v.step}" if v.step else "session"
            lines.append(f"  ! {where} [{v.family}]: " +
                         "\n      ".join(v.facts + ([v.plan] if v.plan else [])))
    if len(violations) > len(shown):
        rest = sorted(violations)[len(shown):]
        lines += ["", f"{len(rest)} more session(s) with violations: {rest}"]
    return "\n".join(lines)


def test_the_server_only_runs_what_the_policy_allows(env):
    print(f"differential policy test: seed {SEED}, sessions {FIRST}..{FIRST + SESSIONS - 1}")
    runs = [run_session(env, generate_session(SEED, i)) for i in range(FIRST, FIRST + SESSIONS)]
    audit = audit_statements(env, runs)
    violations = {}
    for run in runs:
        found = judge(run, audit.get(run.session.app))
        if found:
            violations[run.session.index] = found
    steps = [sr for run in runs for sr in run.steps]
    plans = sum(1 for sr in steps for e in sr.entries if plan_of(e))
    refused = sum(1 for sr in steps if "denied by rule" in sr.outcome())
    print(f"{len(runs)} sessions, {len(steps)} steps: {plans} plans run by the server, "
          f"{refused} steps refused by the gateway, "
          f"{sum(1 for r in runs if r.login_error)} startup packets refused")
    if os.environ.get("JITGATE_DIFF_VERBOSE"):
        for run in runs:
            print(f"\nsession {run.session.index} ({run.session.app}):\n{transcript(run)}")
    assert not violations, report(runs, violations)
