"""The benchmark environment: PostgreSQL, pgbouncer, the OIDC provider and jitgate gateways.

Every jitgate configuration is the harness's base configuration (tests/e2e/harness.py: TLS to
clients, SCRAM over TLS upstream) plus YAML snippets. A gateway feature that is not wired into
the session yet is detected, not assumed, and reported as "n/a (not wired)":

    FEATURES[name] = Feature(snippet(files) -> YAML, probe(env, gateway) -> bool,
                             resource_lines(files) -> lines under each resource)

Adding a feature to the "full" configuration later is one entry in FEATURES.
"""
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from harness import JITGATE, PG_BIN, Gateway, PgServer, free_port, make_cert, wait_port  # noqa
from oidc_provider import OidcProvider  # noqa: E402

# An older jitgate to run beside the current one (bench/run.sh --help).
BASELINE = os.environ.get("JITGATE_BASELINE_BIN")

PGBENCH = str(PG_BIN / "pgbench")
PGBOUNCER = "/usr/sbin/pgbouncer"
GROUP = "rag"

# Who may read what in the OIDC configurations: the RAG pipeline group reads both benchmark
# databases; a deny rule and a review rule make the policy do real matching work.
POLICIES = """policies:
  - { id: rag-read, reason: RAG pipelines read the knowledge base,
      match: { groups: [rag], resource: [bench, kb] }, allow: [read, session], role: reader }
  - { id: no-vault, reason: the vault schema is off limits, match: { tables: [vault.*] },
      deny: [all] }
  - { id: crm-review, match: { tables: [crm.customers] }, action: review,
      approvers: { groups: [data-owners], count: 1 }, grant: 1h }
"""

# The PII column of the RAG table; the detectors run on every text cell.
MASKING = """masking:
  key_file: {mask_key}
  on_error: fail_closed
  detectors: [email, phone, credit_card, us_ssn, iban, ipv4, aws_access_key, jwt, private_key]
  strategy: redact
  columns:
    - {{ table: chunks, column: author_email, strategy: tokenize }}
"""

AUDIT = """audit:
  dir: {audit_dir}
  instance: bench
  durability: strict
  raw_payloads: encrypted
  key_file: {audit_key}
  signing_key_file: {audit_signing}
"""


@dataclass
class Feature:
    snippet: Optional[Callable[[dict], str]]  # None: no configuration exists for it yet
    probe: Callable  # (env, gateway, files) -> bool: the feature visibly acts
    # Lines for each resource block (indented under `- name:`), from the key files.
    resource_lines: Optional[Callable[[dict], list]] = None


# Ephemeral roles: the gateway logs each session in with a fresh role (member of bench_reader)
# that it creates through an admin connection and drops afterwards.
CREDS_ADMIN = "jitgate_admin"
CREDS_ADMIN_PASSWORD = "bench-admin-5e21"


def _creds_lines(files):
    return ["credentials: ephemeral", "max_ttl: 1h",
            f"admin: {{ user: {CREDS_ADMIN}, password_file: {files['creds_admin']} }}",
            "roles: { reader: bench_reader }"]


def _creds_probe(env, gw, files):
    import psycopg
    with psycopg.connect(gw.dsn(db="kb", password=env.token(), user="bench")) as conn:
        (user,) = conn.execute("select session_user").fetchone()
    return user.startswith("jg_")


def _masking_probe(env, gw, files):
    import psycopg
    with psycopg.connect(gw.dsn(db="kb", password=env.token(), user="bench")) as conn:
        (v,) = conn.execute("select 'write to ada@example.com'").fetchone()
    return "ada@example.com" not in v


def _audit_probe(env, gw, files):
    import psycopg
    with psycopg.connect(gw.dsn(db="kb", password=env.token(), user="bench")) as conn:
        conn.execute("select 1").fetchone()
    d = Path(files["audit_dir"])
    return d.exists() and any(p.is_file() and p.stat().st_size > 0 for p in d.rglob("*"))


FEATURES = {
    "masking": Feature(lambda f: MASKING.format(**f), _masking_probe),
    "audit": Feature(lambda f: AUDIT.format(**f), _audit_probe),
    "ephemeral roles": Feature(lambda f: "", _creds_probe, _creds_lines),
}


def _write_secret(path, data, mode=0o600):
    Path(path).write_bytes(data)
    os.chmod(path, mode)


def feature_files(directory):
    """Key files and directories the feature snippets refer to (absolute paths)."""
    d = Path(directory)
    files = {"mask_key": d / "mask.key", "audit_key": d / "audit.key",
             "audit_signing": d / "audit-signing.pem", "audit_dir": d / "audit",
             "creds_admin": d / "creds-admin"}
    _write_secret(files["creds_admin"], CREDS_ADMIN_PASSWORD.encode() + b"\n")
    _write_secret(files["mask_key"], os.urandom(16).hex().encode() + b"\n")
    _write_secret(files["audit_key"], os.urandom(32).hex().encode() + b"\n")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                    str(files["audit_signing"])], check=True, capture_output=True)
    os.chmod(files["audit_signing"], 0o600)
    files["audit_dir"].mkdir(exist_ok=True)
    return {k: str(v) for k, v in files.items()}


def check_config(path):
    """(ok, message) from `jitgate check-config` on a configuration file."""
    r = subprocess.run([str(JITGATE), "check-config", str(path)], capture_output=True, text=True,
                       timeout=30)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


@dataclass
class Target:
    """One configuration under test: where clients connect and with what."""
    name: str
    port: int
    user: str
    password: Callable[[], str]
    tls: bool
    note: str = ""
    gateway: Optional[Gateway] = None
    proc: Optional[subprocess.Popen] = None
    pidfile: Optional[Path] = None  # where a daemon started through runuser writes its pid

    def pgenv(self, db):
        e = dict(os.environ)
        e.update({"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGDATABASE": db,
                  "PGUSER": self.user, "PGPASSWORD": self.password(),
                  "PGSSLMODE": "require" if self.tls else "disable", "PGCONNECT_TIMEOUT": "30"})
        return e

    def conninfo(self, db):
        return (f"host=127.0.0.1 port={self.port} dbname={db} user={self.user} "
                f"password={self.password()} sslmode={'require' if self.tls else 'disable'}")

    def pid(self):
        if self.gateway is not None:
            return self.gateway.proc.pid
        if self.pidfile is not None and self.pidfile.exists():
            return int(self.pidfile.read_text().split()[0])
        return self.proc.pid if self.proc else None

    def proxy_pid(self):
        """The proxy process whose CPU time a transaction costs (None for direct PostgreSQL)."""
        return None if self.name == "direct" else self.pid()


@dataclass
class Environment:
    max_connections: int = 300
    pg: Optional[PgServer] = None
    idp: Optional[OidcProvider] = None
    targets: dict = field(default_factory=dict)
    unavailable: dict = field(default_factory=dict)  # target name -> reason
    features: dict = field(default_factory=dict)     # feature -> "on" | "n/a (...)"
    cleanups: list = field(default_factory=list)
    _gateway_args: dict = field(default_factory=dict)  # id(Gateway) -> _gateway's arguments
    _token: Optional[str] = None

    def token(self):
        if self._token is None:
            self._token = self.idp.token(client="rag-bench", groups=[GROUP],
                                         email="rag-bench@svc.example")
        return self._token

    def fresh_tokens(self, n):
        return [self.idp.token(client="rag-bench", groups=[GROUP]) for _ in range(n)]

    # -- setup -----------------------------------------------------------------------------

    def start(self, log=print):
        self.start_base(log)
        self._start_passthrough(log)
        self._start_oidc_gateways(log)
        if BASELINE:
            self._start_baselines(log)
        return self

    def start_base(self, log=print):
        """PostgreSQL (the `direct` target), the OIDC provider and pgbouncer; no gateway."""
        log("starting PostgreSQL 15")
        self.pg = PgServer().start()
        self.cleanups.append(self.pg.cleanup)
        self.pg.sql(f"ALTER SYSTEM SET max_connections = {self.max_connections}")
        self.pg.restart()
        for db in ("bench", "kb"):
            self.pg.create_db(db)
        # For ephemeral roles: an admin that may create roles, and the role sessions get.
        self.pg.sql(f"CREATE ROLE {CREDS_ADMIN} LOGIN CREATEROLE PASSWORD "
                    f"'{CREDS_ADMIN_PASSWORD}'; CREATE ROLE bench_reader NOLOGIN; "
                    f"GRANT pg_signal_backend TO {CREDS_ADMIN}")
        for db in ("bench", "kb"):
            for owner in ("app", "postgres"):  # pgbench -i runs as app, the chunks as postgres
                self.pg.sql(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                            "GRANT SELECT ON TABLES TO bench_reader", db=db)
        self.targets["direct"] = Target("direct", self.pg.port, "app",
                                        lambda: PgServer.APP_PASSWORD, True,
                                        "PostgreSQL 15, TLS (sslmode=require), SCRAM")
        log("starting the OIDC provider")
        self.idp = OidcProvider().start()
        self.cleanups.append(self.idp.cleanup)
        self._start_pgbouncer(log)
        return self

    def _start_baselines(self, log):
        """Each jitgate configuration again, run by the binary in $JITGATE_BASELINE_BIN (an
        older build), so that before/after figures come from one interleaved run."""
        for t in [t for t in self.targets.values() if t.gateway is not None]:
            log(f"starting {t.name} (baseline: {BASELINE})")
            name, static_auth, policies, extra, lines = self._gateway_args[id(t.gateway)]
            gw = self._gateway(name + "-baseline", static_auth, policies,
                               self._own_audit_dirs(extra), lines, binary=BASELINE)
            self.targets[t.name + " (baseline)"] = Target(
                t.name + " (baseline)", gw.port, t.user, t.password, t.tls,
                t.note + f"; binary {BASELINE}", gateway=gw)

    def _start_pgbouncer(self, log):
        log("starting pgbouncer (session mode)")
        pw = pwd.getpwnam("postgres")
        d = Path(tempfile.mkdtemp(prefix="jg-bouncer-"))
        self.cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
        cert, key = make_cert(d)
        port = free_port()
        (d / "userlist.txt").write_text(f'"app" "{PgServer.APP_PASSWORD}"\n')
        (d / "pgbouncer.ini").write_text(f"""[databases]
bench = host=127.0.0.1 port={self.pg.port} dbname=bench
kb = host=127.0.0.1 port={self.pg.port} dbname=kb

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {d}/userlist.txt
pool_mode = session
max_client_conn = 5000
# Session mode holds one server connection per client: the many-clients section opens 2,000.
default_pool_size = 2500
server_idle_timeout = 5
logfile = {d}/pgbouncer.log
pidfile = {d}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,options
client_tls_sslmode = require
client_tls_cert_file = {cert}
client_tls_key_file = {key}
server_tls_sslmode = require
""")
        for p in d.iterdir():
            os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        # setpriv, not runuser: runuser's PAM session would apply the login limits (1,024 open
        # files), and session mode holds two descriptors per client (2,000 in section 5).
        proc = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                                 "--init-groups", PGBOUNCER, str(d / "pgbouncer.ini")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

        def stop():
            # Signal pgbouncer itself (its pidfile names it).
            pidfile = d / "pgbouncer.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().split()[0]), 15)
                except (OSError, ValueError):
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.cleanups.append(stop)
        wait_port(port, proc=proc)
        self.targets["pgbouncer"] = Target(
            "pgbouncer", port, "app", lambda: PgServer.APP_PASSWORD, True,
            "pgbouncer 1.18, session mode, TLS both sides, SCRAM", proc=proc,
            pidfile=d / "pgbouncer.pid")

    def _gateway(self, name, static_auth, policies, extra, resource_lines=(), binary=None):
        args = dict(resources=[{"name": "bench", "extra": list(resource_lines)},
                               {"name": "kb", "extra": list(resource_lines)}],
                    static_auth=static_auth, policies=policies, extra_yaml=extra)
        gw = Gateway(self.pg, binary=binary, **args)
        self._gateway_args[id(gw)] = (name, static_auth, policies, extra, resource_lines)
        self.cleanups.append(gw.cleanup)
        try:
            gw.start()
        except RuntimeError as exc:
            raise RuntimeError(f"jitgate {name}: {exc}\n{gw.log_text()[-2000:]}") from exc
        return gw

    def _start_passthrough(self, log):
        log("starting jitgate pass-through (static dev password, allow-all, no masking, no audit)")
        gw = self._gateway("pass", True, Gateway.ALLOW_ALL, "")
        self.targets["jitgate pass-through"] = Target(
            "jitgate pass-through", gw.port, "bench", lambda: Gateway.CLIENT_PASSWORD, True,
            "static password (dev authenticator), allow-all policy, no masking, audit off",
            gateway=gw)

    def _start_oidc_gateways(self, log):
        base = self.idp.identity_yaml()
        log("starting jitgate OIDC + policy")
        gw = self._gateway("oidc", False, POLICIES, base)
        self.targets["jitgate oidc+policy"] = Target(
            "jitgate oidc+policy", gw.port, "bench", self.token, True,
            "OIDC token verification, 3-rule policy on every statement", gateway=gw)
        # The full configuration: every feature whose configuration is accepted and that
        # visibly acts in a probe gateway.
        files = feature_files(tempfile.mkdtemp(prefix="jg-bench-keys-"))
        self.cleanups.append(lambda: shutil.rmtree(Path(files["mask_key"]).parent, True))
        wired, wired_lines = [], []
        for name, feat in FEATURES.items():
            if feat.snippet is None:
                self.features[name] = "n/a (not wired: no configuration yet)"
                continue
            snippet = feat.snippet(files)
            lines = feat.resource_lines(files) if feat.resource_lines else []
            probe = Gateway(self.pg, resources=[{"name": "bench", "extra": list(lines)},
                                                {"name": "kb", "extra": list(lines)}],
                            static_auth=False, policies=POLICIES, extra_yaml=base + snippet)
            probe.write_config()
            ok, msg = check_config(probe.config)
            if not ok:
                probe.cleanup()
                self.features[name] = "n/a (configuration rejected: " \
                    + msg.splitlines()[-1][:160] + ")"
                continue
            try:
                probe.start()
                active = feat.probe(self, probe, files)
            except Exception as exc:  # the probe gateway failing is a finding, not a crash
                active = False
                self.features[name] = f"n/a (probe failed: {str(exc)[:120]})"
            finally:
                probe.cleanup()
            if active:
                wired.append(snippet)
                wired_lines += lines
                self.features[name] = "on"
            else:
                self.features.setdefault(name, "n/a (not wired: accepted but not applied)")
        shutil.rmtree(files["audit_dir"], ignore_errors=True)
        Path(files["audit_dir"]).mkdir()
        if not wired:
            self.unavailable["jitgate full"] = "n/a (not wired: masking and audit)"
            log("jitgate full: n/a (no masking or audit wired in this build)")
            return
        log("starting jitgate full (" + ", ".join(
            k for k, v in self.features.items() if v == "on") + ")")
        gw = self._gateway("full", False, POLICIES, base + "".join(wired), wired_lines)
        features = ", ".join(f"{k}: {v}" for k, v in self.features.items())
        self.targets["jitgate full"] = Target(
            "jitgate full", gw.port, "bench", self.token, True,
            "OIDC + policy + " + features + " (recording strict)", gateway=gw)
        if self.features.get("audit") == "on":
            self._full_batched(base, wired, wired_lines, files, features)

    def _full_batched(self, base, wired, wired_lines, files, features):
        """The full configuration with recording `batched`, the mode most deployments run."""
        batched_dir = files["audit_dir"] + "-batched"
        Path(batched_dir).mkdir(exist_ok=True)
        self.cleanups.append(lambda: shutil.rmtree(batched_dir, True))
        snippets = [w.replace("durability: strict", "durability: batched")
                     .replace(f"dir: {files['audit_dir']}\n", f"dir: {batched_dir}\n")
                     for w in wired]
        gw = self._gateway("full-batched", False, POLICIES, base + "".join(snippets), wired_lines)
        self.targets["jitgate full (batched)"] = Target(
            "jitgate full (batched)", gw.port, "bench", self.token, True,
            "OIDC + policy + " + features + " (recording batched)", gateway=gw)

    def _own_audit_dirs(self, extra):
        """`extra` with each audit `dir:` replaced by a fresh sibling directory."""
        def fresh(m):
            d = m.group(2) + "-baseline"
            Path(d).mkdir(exist_ok=True)
            self.cleanups.append(lambda: shutil.rmtree(d, True))
            return m.group(1) + d + "\n"
        return re.sub(r"(\bdir: )(\S+)\n", fresh, extra)

    def gateway_targets(self):
        return [t for t in self.targets.values() if t.gateway is not None]

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:  # keep cleaning up the rest
                print(f"cleanup: {exc}", file=sys.stderr)
        self.cleanups.clear()
