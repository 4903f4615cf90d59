"""Test harness: a throwaway PostgreSQL server and the real jitgate binary.

Used by the end-to-end tests, the demo and the benchmarks. Everything runs on loopback, in
temporary directories, on free ports, and is stopped by the owner (context managers).
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JITGATE = Path(os.environ.get("JITGATE_BIN", ROOT / "build" / "jitgate"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PSQL = "/usr/bin/psql"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conninfo(parts):
    """A libpq connection string, quoting values as libpq requires."""
    def q(v):
        v = str(v)
        if v and all(c not in v for c in " '\\"):
            return v
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return " ".join(f"{k}={q(v)}" for k, v in parts.items())


def wait_port(port, timeout=20.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def make_cert(directory, cn="localhost"):
    """A self-signed certificate and key; returns (cert, key) paths."""
    cert, key = Path(directory) / "server.crt", Path(directory) / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def make_keys(directory):
    """Audit signing key (sign.pem/sign.pub), raw-payload key (raw.key) and masking key
    (mask.key) in `directory`, created with the real `jitgate audit keygen`."""
    keys = Path(directory)
    keys.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([str(JITGATE), "audit", "keygen", "--signing-key", str(keys / "sign.pem"),
                        "--public-key", str(keys / "sign.pub"), "--raw-key",
                        str(keys / "raw.key")], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("jitgate audit keygen failed: " + r.stderr)
    (keys / "mask.key").write_bytes(os.urandom(32))
    os.chmod(keys / "mask.key", 0o600)
    return keys


class PgServer:
    """initdb + postgres as the unprivileged `postgres` OS user, on a free loopback port.

    Users: the superuser `postgres` (trust over the Unix socket only) and an application role
    `app` / APP_PASSWORD with SCRAM over TCP. TLS is on, with a self-signed certificate.
    `settings` are extra postgresql.conf lines (the logging a test reads back, say).
    """

    APP_PASSWORD = "app-secret-3f9c"

    def __init__(self, ssl=True, auth="scram-sha-256", settings=()):
        self.dir = Path(tempfile.mkdtemp(prefix="jg-pg-"))
        self.port = free_port()
        self.ssl = ssl
        self.auth = auth
        self.settings = list(settings)
        self.proc = None
        self.log = self.dir / "postgres.log"

    def _as_postgres(self, args, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + args, check=True,
                              capture_output=True, text=True, **kw)

    def start(self):
        pw = pwd.getpwnam("postgres")
        os.chmod(self.dir, 0o755)
        data = self.dir / "data"
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                           "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        hba = data / "pg_hba.conf"
        hba.write_text("local all all trust\n"
                       f"host all postgres 127.0.0.1/32 reject\n"
                       f"host all all 127.0.0.1/32 {self.auth}\n")
        conf = [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.dir}'", "fsync = off",
                "synchronous_commit = off", "full_page_writes = off", "max_connections = 200",
                "shared_buffers = 128MB", f"password_encryption = '{'md5' if self.auth == 'md5' else 'scram-sha-256'}'"]
        if self.ssl:
            cert, key = make_cert(data)
            for f in (cert, key):
                os.chown(f, pw.pw_uid, pw.pw_gid)
            conf += ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        conf += self.settings
        with open(data / "postgresql.conf", "a") as f:
            f.write("\n".join(conf) + "\n")
        self._launch("w")
        self.sql(f"CREATE ROLE app LOGIN PASSWORD '{self.APP_PASSWORD}'")
        return self

    def _launch(self, log_mode):
        """Starts the server on the existing data directory and waits until it accepts."""
        self.proc = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D",
             str(self.dir / "data")],
            stdout=open(self.log, log_mode), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", str(self.dir), "-p",
                                str(self.port)], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start: " + self.log.read_text())

    def sql(self, statement, db="postgres"):
        """Runs SQL as the superuser over the Unix socket; returns stdout."""
        r = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h",
                            str(self.dir), "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-c", statement], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"SQL failed: {statement}\n{r.stderr}")
        return r.stdout

    def create_db(self, name, owner="app"):
        self.sql(f"CREATE DATABASE {name} OWNER {owner}")

    def dsn(self, db, user="app", password=None, **extra):
        parts = {"host": "127.0.0.1", "port": self.port, "dbname": db, "user": user,
                 "password": password or self.APP_PASSWORD, "sslmode": "disable"}
        parts.update(extra)
        return conninfo(parts)

    def stop(self, mode="fast"):
        if self.proc and self.proc.poll() is None:
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                            str(self.dir / "data"), "-m", mode, "-w", "stop"],
                           capture_output=True)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def restart(self):
        self.stop()
        self._launch("a")

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class JitgateProcess:
    """What a running jitgate process offers its tests: its log, memory, signals, and a stop that
    returns the exit code. Subclasses set `proc`, `dir` and `log` and define start()."""

    def log_text(self):
        return self.log.read_text() if self.log.exists() else ""

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def peak_rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=40):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else 0
        self.proc = None
        return code

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class Gateway(JitgateProcess):
    """The real jitgate binary with a generated configuration."""

    CLIENT_PASSWORD = "dev-password-7d1e"

    ALLOW_ALL = "policies:\n  - { id: allow-all, reason: test gateway, match: {}, allow: [all] }\n"

    def __init__(self, pg, resources=None, tls=True, extra_yaml="", require_tls=None,
                 static_auth=True, policies=None, admin=False, binary=None, http=False,
                 extra_resources=(), admin_tls=False):
        self.pg = pg
        self.binary = Path(binary) if binary else JITGATE
        self.dir = Path(tempfile.mkdtemp(prefix="jg-gw-"))
        self.port = free_port()
        self.tls = tls
        self.require_tls = tls if require_tls is None else require_tls
        self.resources = resources or [{"name": "kb", "database": "kb"}]
        self.extra_yaml = extra_yaml
        self.static_auth = static_auth
        self.policies = self.ALLOW_ALL if policies is None else policies
        self.admin_port = free_port() if admin or admin_tls else None  # the admin listener
        self.admin_tls = admin_tls  # TLS on the admin listener (else plain HTTP on loopback)
        self.http_port = free_port() if http else None  # the HTTP listener (kind: http)
        self.extra_resources = list(extra_resources)  # YAML lines of more resource entries
        self.proc = None
        self.log = self.dir / "jitgate.log"
        self.config = self.dir / "jitgate.yaml"

    def write_config(self):
        (self.dir / "client_password").write_text(self.CLIENT_PASSWORD + "\n")
        (self.dir / "upstream_password").write_text(self.pg.APP_PASSWORD + "\n")
        os.chmod(self.dir / "client_password", 0o600)
        os.chmod(self.dir / "upstream_password", 0o600)
        admin = f", admin: 127.0.0.1:{self.admin_port}" if self.admin_port else ""
        if self.admin_tls:
            cert, key = make_cert(self.dir)
            admin = (f", admin: {{ address: 127.0.0.1:{self.admin_port}, cert: {cert}, "
                     f"key: {key} }}")
        if self.http_port:
            admin += f", http: 127.0.0.1:{self.http_port}"
        lines = [f"listen: {{ postgres: 127.0.0.1:{self.port}{admin} }}", "threads: 2"]
        if self.tls:
            cert, key = make_cert(self.dir)
            lines.append(f"tls: {{ cert: {cert}, key: {key}, require_client_tls: "
                         f"{str(self.require_tls).lower()}, allow_plaintext_loopback: true }}")
        else:
            lines.append("tls: { require_client_tls: false, allow_plaintext_loopback: true }")
        if self.static_auth:
            lines.append("auth: { static: { enable_insecure_static: true, "
                         "password_file: client_password } }")
        lines.append("resources:")
        for r in self.resources:
            lines.append(f"  - name: {r['name']}")
            lines.append(f"    upstream: {{ host: 127.0.0.1, port: {r.get('port', self.pg.port)}, "
                         f"database: {r.get('database', r['name'])}, user: {r.get('user', 'app')}, "
                         f"sslmode: {r.get('sslmode', 'require')}, "
                         f"password_file: upstream_password }}")
            if r.get("documents"):
                lines.append(f"    documents: {r['documents']}")
            lines += [f"    {line}" for line in r.get("extra", [])]
        lines += self.extra_resources
        self.config.write_text("\n".join(lines) + "\n" + self.policies + self.extra_yaml)

    def start(self, extra_args=()):
        self.write_config()
        self.proc = subprocess.Popen([str(self.binary), "serve", "--config", str(self.config),
                                      *extra_args],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_port(self.port, proc=self.proc)
        if self.admin_port:
            try:
                wait_port(self.admin_port, timeout=10, proc=self.proc)
            except (TimeoutError, RuntimeError) as e:
                raise AssertionError(f"the admin API is not listening on listen.admin: {e}\n"
                                     f"{self.log_text()[-3000:]}")
        return self

    @property
    def admin_url(self):
        scheme = "https" if self.admin_tls else "http"
        return f"{scheme}://127.0.0.1:{self.admin_port}"

    def admin(self, method, path, token=None, body=None, **query):
        """One admin API call; returns (status, parsed JSON body)."""
        import json
        import urllib.error
        import urllib.parse
        import urllib.request
        url = self.admin_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            import ssl
            context = ssl._create_unverified_context() if self.admin_tls else None
            with urllib.request.urlopen(req, timeout=15, context=context) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def dsn(self, db="kb", password=None, sslmode=None, **extra):
        parts = {"host": "127.0.0.1", "port": self.port, "dbname": db, "user": "alice",
                 "password": password or self.CLIENT_PASSWORD,
                 "sslmode": sslmode or ("require" if self.tls else "disable")}
        parts.update(extra)
        return conninfo(parts)

    def env(self, db="kb"):
        e = dict(os.environ)
        e.update({"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGDATABASE": db,
                  "PGUSER": "alice", "PGPASSWORD": self.CLIENT_PASSWORD,
                  "PGSSLMODE": "require" if self.tls else "disable"})
        return e


def scrape_metrics(gw):
    """GET /metrics of a gateway's admin listener as {series: value}; a series is the metric name
    with its labels as printed (`jitgate_sessions_by_resource{resource="kb"}`), a value an int
    when it is whole (counters, gauges, buckets) and a float otherwise (histogram sums)."""
    import urllib.request
    with urllib.request.urlopen(gw.admin_url + "/metrics", timeout=10) as res:
        assert res.headers["Content-Type"].startswith("text/plain")
        text = res.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = int(value) if re.fullmatch(r"-?[0-9]+", value) else float(value)
    return out


def fill_filesystem(directory):
    """Takes every free page of the file system holding `directory` (a file named filler)."""
    fd = os.open(Path(directory) / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"x" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
