"""One command-line grammar, through the real binary: exit status 2 for every usage error, help
for a bare `jitgate`, `--config`/`-c` wherever a configuration is read, `--json` output that is
one parseable document ending in a newline, valid values listed for fixed-set options, review
listings with a header, and `whoami`/`logout` on the `jitgate login` token cache.

Nothing here needs PostgreSQL; the review listings talk to a stub of the admin API."""
import base64
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from harness import JITGATE, ROOT

CONFIG = """listen: { postgres: 127.0.0.1:6999 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: HOME } }
resources: [{ name: kb, upstream: { user: app } }]
policies:
  - { id: rag-read, reason: the pipeline reads documents, match: { groups: [rag], resource: kb },
      allow: [select] }
  - { id: no-crm, reason: customer data is off limits, match: { tables: ["crm.*"] }, deny: [all] }
"""


def run(*args, env=None, timeout=60):
    return subprocess.run([str(JITGATE), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def one_json(r):
    """The single JSON document a --json command printed; it must end with a newline."""
    assert r.stdout.endswith("\n"), repr(r.stdout)
    assert r.stdout.count("\n") == 1, r.stdout
    return json.loads(r.stdout)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG)
    return path


# ---- exit status and help ------------------------------------------------------------------

def test_bare_jitgate_prints_help_and_exits_0():
    r = run()
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout and "check-config" in r.stdout and "whoami" in r.stdout
    assert "Exit status: 0 success, 1 refused or failed check, 2 usage error" in r.stdout


def test_unknown_command_exits_2_and_lists_the_commands():
    r = run("frobnicate")
    assert r.returncode == 2, r
    assert "unknown command 'frobnicate'" in r.stderr
    assert "serve" in r.stderr and "check-config" in r.stderr
    r = run("review", "lsit")
    assert r.returncode == 2, r
    assert "jitgate review: unknown command 'lsit' (one of: list, show, approve" in r.stderr


def test_command_group_without_its_command_prints_its_help_and_exits_2():
    r = run("audit")
    assert r.returncode == 2, r
    assert "jitgate audit: a command is required (one of: keygen, verify, search, reindex)" \
        in r.stderr
    assert "Usage" in r.stderr


@pytest.mark.parametrize("args, says", [
    (["check-config", "--no-such-flag", "x.yaml"], "--no-such-flag"),
    (["policy", "check"], "--config is required"),
    (["serve"], "--config is required"),
    (["token", "inspect", "tok"], "--config is required"),
    (["creds", "check"], "resource is required"),
    (["audit", "search", "--limit", "zero"], "--limit"),
    (["audit", "search", "--status", "99"], "--status"),
    (["policy", "explain", "-c", "x.yaml", "--as", "{}", "--resource", "kb"],
     "policy explain: give either --sql or --http"),
    (["request"], "RESOURCE and --reason are required"),
    (["login", "--issuer", "http://idp.example/"], "--allow-insecure-http"),
])
def test_usage_errors_exit_2_not_cli11_codes(args, says):
    r = run(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert says in r.stderr, r.stderr
    assert "Run with --help for more information." in r.stderr


@pytest.mark.parametrize("args, valid", [
    (["audit", "search", "--dir", "/nonexistent", "--decision", "maybe"], "allow,deny,review"),
    (["audit", "search", "--dir", "/nonexistent", "--protocol", "gopher"], "http"),
    (["serve", "-c", "x.yaml", "--log-level", "loud"], "trace,debug,info,warn,error"),
    (["review", "list", "--state", "sleeping"], "pending,approved,rejected,expired,revoked"),
    (["review", "grants", "--state", "sleeping"], "active,expired,revoked"),
    (["replay", "s-1", "--format", "yaml"], "text,json"),
    (["creds", "keygen", "k.pem", "--alg", "RS256"], "EdDSA,ES256"),
])
def test_unknown_value_lists_the_valid_ones(args, valid):
    r = run(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert valid in r.stderr, r.stderr


def test_help_of_a_subcommand_exits_0():
    r = run("review", "list", "--help")
    assert r.returncode == 0 and "--state" in r.stdout


# ---- --config / -c -------------------------------------------------------------------------

def test_check_config_takes_the_file_as_argument_or_option(config):
    for args in ([str(config)], ["-c", str(config)], ["--config", str(config)]):
        r = run("check-config", *args)
        assert r.returncode == 0, (args, r.stderr)
        assert f"{config}: ok (1 resources)" in r.stdout


def test_check_config_without_a_file_or_with_two_is_a_usage_error(config):
    r = run("check-config")
    assert r.returncode == 2 and "as FILE or --config FILE" in r.stderr, r.stderr
    r = run("check-config", str(config), "-c", str(config))
    assert r.returncode == 2 and "excludes" in r.stderr, r.stderr


def test_check_config_json_reports_paths_or_errors(config, tmp_path):
    r = run("check-config", "-c", str(config), "--json")
    assert r.returncode == 0, r.stderr
    out = one_json(r)
    assert out["ok"] is True and out["resources"] == 1 and out["file"] == str(config)
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: { postgres: 127.0.0.1:notaport }\n")
    r = run("check-config", str(bad), "--json")
    assert r.returncode == 1
    out = one_json(r)
    assert out["ok"] is False
    assert any(f"{bad}:1: listen.postgres: invalid port" in e for e in out["errors"]), out


def test_policy_commands_take_short_config(config):
    r = run("policy", "check", "-c", str(config))
    assert r.returncode == 0, r.stderr
    assert "policy ok" in r.stdout
    r = run("policy", "explain", "-c", str(config), "--as", '{"sub":"bot","groups":["rag"]}',
            "--resource", "kb", "--sql", "select 1")
    assert r.returncode == 0, r.stderr


def test_policy_check_json_and_failure_status(config, tmp_path):
    out = one_json(run("policy", "check", "-c", str(config), "--json"))
    assert out["ok"] is True and out["rules"] >= 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - { id: x, match: {}, allow: [frobnicate] }\n")
    r = run("policy", "check", "-c", str(bad), "--json")
    assert r.returncode == 1, r.stderr
    out = one_json(r)
    assert out["ok"] is False
    assert out["errors"] == [f"{bad}:2: policies[0].allow: unknown statement kind 'frobnicate'"]
    r = run("policy", "check", "-c", str(bad))
    assert r.returncode == 1 and "unknown statement kind 'frobnicate'" in r.stderr


# ---- --json --------------------------------------------------------------------------------

def test_policy_explain_json_has_the_decision_per_statement(config):
    r = run("policy", "explain", "--config", str(config), "--as",
            '{"sub":"bot","groups":["rag"]}', "--resource", "kb", "--json", "--sql",
            "select * from public.chunks; select * from crm.customers")
    assert r.returncode == 1, r.stderr
    out = one_json(r)
    assert out["identity"]["subject"] == "bot" and out["resource"] == "kb"
    first, second = out["statements"]
    assert first["kind"] == "select"
    assert first["tables"] == [{"name": "public.chunks", "write": False}]
    assert first["decision"]["effect"] == "allow" and first["decision"]["rule"] == "rag-read"
    assert first["masking"]["ok"] is True
    assert second["decision"]["effect"] == "deny" and second["decision"]["rule"] == "no-crm"
    assert out["whole_string"]["effect"] == "deny"
    assert out["allowed"] is False


def test_policy_explain_json_for_a_statement_that_does_not_parse(config):
    r = run("policy", "explain", "-c", str(config), "--as", '{"sub":"bot","groups":["rag"]}',
            "--resource", "kb", "--json", "--sql", "selec 1")
    assert r.returncode == 1
    out = one_json(r)
    assert out["parse_error"]["sqlstate"] == "42601" and out["allowed"] is False


def test_policy_test_json_counts_the_cases():
    r = run("policy", "test", str(ROOT / "tests" / "policy"), "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    out = one_json(r)
    assert out["failed"] == 0 and out["cases"] == out["passed"] > 0 and out["failures"] == []


def test_audit_reindex_json(tmp_path):
    audit = tmp_path / "audit"
    audit.mkdir()
    r = run("audit", "reindex", "--dir", str(audit), "--store",
            f"sqlite://{tmp_path}/state.db", "--json")
    assert r.returncode == 0, r.stderr
    assert one_json(r) == {"indexed": 0}


def test_creds_check_json_reports_each_check(tmp_path):
    """No PostgreSQL listens on port 1: the admin connection fails at once, with its fix."""
    (tmp_path / "admin_password").write_text("pw\n")
    os.chmod(tmp_path / "admin_password", 0o600)
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("resources:\n  - name: kb\n"
                   "    upstream: { host: 127.0.0.1, port: 1, database: kb, user: app }\n"
                   "    admin: { user: jitgate_admin, password_file: admin_password }\n"
                   "    roles: { reader: kb_reader }\n")
    r = run("creds", "check", "kb", "-c", str(cfg), "--json")
    assert r.returncode == 1, r.stderr
    out = one_json(r)
    assert out["resource"] == "kb" and out["ready"] is False
    assert any("FAIL  admin connection as jitgate_admin@127.0.0.1:1/kb" in c for c in out["checks"])
    assert any("fix:" in c for c in out["checks"]) and "problem" in out["error"]


def test_creds_jwks_accepts_json(tmp_path):
    key = tmp_path / "signing.pem"
    assert run("creds", "keygen", str(key)).returncode == 0
    out = one_json(run("creds", "jwks", str(key), "--json"))
    assert out["keys"][0]["kty"] == "OKP"


# ---- review listings (against a stub of the admin API) ---------------------------------------

REVIEW = {"id": "r-abc123", "state": "pending", "requester": {"display": "alice@corp.example"},
          "scope": "session", "resource": "hr", "role": "reader", "approvals": 0,
          "approvers": {"count": 1, "groups": ["data-owners"]}, "rule": "hr-review",
          "reason": "quarter close", "grant_duration": "1h30m", "grant_duration_seconds": 5400,
          "client": {"address": "10.0.0.5:40000", "application": "psql"}}


class StubAdmin:
    """Answers GET /api/v1/reviews and /api/v1/grants with what the test put in `reviews`."""

    def __init__(self):
        self.reviews = []
        self.seen = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.seen.append((self.path, self.headers.get("Authorization")))
                key = "grants" if self.path.startswith("/api/v1/grants") else "reviews"
                body = json.dumps({key: [] if key == "grants" else stub.reviews}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def admin():
    stub = StubAdmin()
    yield stub
    stub.close()


def review_cli(admin, *args):
    env = dict(os.environ, JITGATE_TOKEN="stub-token", JITGATE_ADMIN_URL=admin.url,
               JITGATE_TOKEN_CACHE="/nonexistent/jitgate-token.json")
    return run("review", *args, env=env, timeout=30)


def test_review_list_says_when_nothing_is_pending(admin):
    r = review_cli(admin, "list", "--state", "pending")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "no pending reviews\n"
    assert admin.seen[-1] == ("/api/v1/reviews?state=pending", "Bearer stub-token")
    r = review_cli(admin, "list")
    assert r.stdout == "no reviews\n"
    r = review_cli(admin, "grants", "--resource", "kb")
    assert r.stdout == "no grants on kb\n"


def test_review_list_prints_a_header_over_aligned_columns(admin):
    admin.reviews = [REVIEW, dict(REVIEW, id="r-2", state="approved", approvals=1,
                                  requester={"display": "bob@corp.example"})]
    r = review_cli(admin, "list")
    assert r.returncode == 0, r.stderr
    header, first, second = r.stdout.splitlines()
    assert header.split() == ["ID", "STATE", "REQUESTER", "CLIENT", "ASKS", "FOR", "APPROVALS",
                              "RULE", "REASON"]
    assert first.split()[:3] == ["r-abc123", "pending", "alice@corp.example"]
    assert "session hr/reader for 1h30m" in first and "0/1" in first
    assert first.endswith("quarter close")
    assert header.index("CLIENT") == first.index("10.0.0.5:40000 (psql)")
    assert header.index("STATE") == first.index("pending") == second.index("approved")
    assert header.index("RULE") == first.index("hr-review")
    out = one_json(review_cli(admin, "list", "--json"))
    assert [x["id"] for x in out["reviews"]] == ["r-abc123", "r-2"]


# ---- whoami / logout -----------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cached_login(tmp_path, claims, expires_in=3600):
    token = ".".join([b64url(b'{"alg":"RS256","typ":"at+jwt"}'),
                      b64url(json.dumps(claims).encode()), b64url(b"sig")])
    cache = tmp_path / "cache" / "token.json"
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(json.dumps({"issuer": "https://idp.example/", "gateway": "127.0.0.1:6432",
                                 "access_token": token,
                                 "expires_at": int(time.time()) + expires_in}))
    os.chmod(cache, 0o600)
    return cache, token, dict(os.environ, JITGATE_TOKEN_CACHE=str(cache))


def test_whoami_prints_the_cached_identity_and_never_the_token(tmp_path):
    exp = int(time.time()) + 3600
    cache, token, env = cached_login(tmp_path, {
        "iss": "https://idp.example/", "sub": "alice", "email": "alice@corp.example",
        "groups": ["rag", "data-owners"], "exp": exp})
    r = run("whoami", env=env)
    assert r.returncode == 0, r.stderr
    assert "subject:  alice" in r.stdout
    assert "email:    alice@corp.example" in r.stdout
    assert "groups:   rag, data-owners" in r.stdout
    assert "expires:  " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)) in r.stdout
    assert f"cache:    {cache}" in r.stdout
    out = one_json(run("whoami", "--json", env=env))
    assert out["signed_in"] is True and out["subject"] == "alice"
    assert out["groups"] == ["rag", "data-owners"] and out["expired"] is False
    for res in (r, run("whoami", "--json", env=env)):
        assert token not in res.stdout + res.stderr
        assert token.split(".")[1] not in res.stdout + res.stderr


def test_whoami_with_an_expired_token_says_so_and_exits_1(tmp_path):
    _, _, env = cached_login(tmp_path, {"sub": "alice", "exp": int(time.time()) - 60})
    r = run("whoami", env=env)
    assert r.returncode == 1
    assert "(expired)" in r.stdout and "run `jitgate login`" in r.stderr
    out = one_json(run("whoami", "--json", env=env))
    assert out["signed_in"] is False and out["expired"] is True


def test_logout_removes_the_token_and_is_content_when_there_is_none(tmp_path):
    cache, _, env = cached_login(tmp_path, {"sub": "alice", "exp": int(time.time()) + 60})
    r = run("logout", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"signed out: removed the cached token {cache}\n"
    assert not cache.exists()
    r = run("logout", env=env)
    assert r.returncode == 0
    assert r.stdout == f"not signed in: no cached token in {cache}\n"
    r = run("whoami", env=env)
    assert r.returncode == 1
    assert f"not signed in: no cached token in {cache}; run `jitgate login`" in r.stderr
    out = one_json(run("whoami", "--json", env=env))
    assert out == {"signed_in": False, "cache": str(cache)}


def test_env_json_has_the_same_variables_as_the_shell_form(tmp_path):
    _, token, env = cached_login(tmp_path, {"sub": "alice", "email": "alice@corp.example",
                                            "exp": int(time.time()) + 600})
    out = one_json(run("env", "kb", "--json", env=env))
    assert out == {"PGHOST": "127.0.0.1", "PGPORT": "6432", "PGDATABASE": "kb",
                   "PGUSER": "alice@corp.example", "PGSSLMODE": "require", "PGPASSWORD": token}
    shell = run("env", "kb", env=env)
    assert shell.returncode == 0
    assert "export PGUSER='alice@corp.example'\n" in shell.stdout
    assert f"export PGPASSWORD='{token}'\n" in shell.stdout
