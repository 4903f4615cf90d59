"""The test identity provider (tests/oidc/provider.mjs, npm oidc-provider) as a Python object.

    idp = OidcProvider().start()          # free loopback port; idp.issuer is http://127.0.0.1:PORT
    token = idp.token(client="rag-pipeline", groups=["rag"], email="rag@svc.example")
    token = idp.token(user="alice", groups=["analysts"], email="alice@example.com", ttl=5)
    idp.rotate_keys()                     # new signing key first; keep_old=False drops the old one
    idp.stop(); idp.start()               # same port, same keys (state lives in idp.state_dir)
    idp.identity_yaml()                   # an `identity:` section for a gateway configuration
    idp.cleanup()

Tokens are real RS256 JWT access tokens (`typ: at+jwt`) signed by oidc-provider: service accounts
by client credentials, users through the provider's test-only user grant. The audience is
`OidcProvider.AUDIENCE` unless `audience=` is given. Usable as a context manager and from pytest
fixtures of any scope; `node` and `npm ci` (scripts/deps.sh) are prerequisites.
"""
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"


class OidcProvider:
    AUDIENCE = "https://jitgate.local/"
    USER_GRANT = "urn:jitgate:test:user"

    def __init__(self, port=0, state_dir=None):
        self.port = port
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="jg-oidc-"))
        self.proc = None
        self.issuer = None
        self._secrets = {}
        self._log = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout=20.0):
        """Starts the provider (on the previous port after a stop) and waits until it listens."""
        if self.proc:
            return self
        self._log = open(self.state_dir / "provider.log", "ab")
        self.proc = subprocess.Popen(
            ["node", str(PROVIDER_SCRIPT), "--state", str(self.state_dir), "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"listening "):
                self.issuer = line.split()[1].decode()
                self.port = int(self.issuer.rsplit(":", 1)[1])
                return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the OIDC provider did not start: {self.log_text()[-2000:]}")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log_text(self):
        path = self.state_dir / "provider.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- tokens ------------------------------------------------------------------------------

    def add_client(self, client_id, groups=(), email=None, name=None):
        """Registers (or updates) a service-account client; returns its secret."""
        body = {"client_id": client_id, "groups": list(groups)}
        if email:
            body["email"] = email
        if name:
            body["name"] = name
        self._secrets[client_id] = self._control("clients", body)["client_secret"]
        return self._secrets[client_id]

    def add_code_client(self, client_id, redirect_uri):
        """Registers a web application that signs people in with the authorization code flow
        (PKCE, client_secret_post) at the provider's login and consent pages; returns its
        secret."""
        body = {"client_id": client_id, "redirect_uris": [redirect_uri]}
        self._secrets[client_id] = self._control("clients", body)["client_secret"]
        return self._secrets[client_id]

    def add_user(self, username, groups=(), email=None, name=None):
        body = {"username": username, "groups": list(groups)}
        if email:
            body["email"] = email
        if name:
            body["name"] = name
        self._control("users", body)

    def token(self, client=None, user=None, groups=(), email=None, name=None, audience=None,
              scope="db.read", ttl=None):
        """A fresh access token for a service account (`client=`) or a person (`user=`).

        The client or user is (re)registered with the given groups/email/name first, so each
        call states exactly the claims it wants. `ttl` (seconds) applies to user tokens."""
        if (client is None) == (user is None):
            raise ValueError("give exactly one of client= or user=")
        form = {"resource": audience or self.AUDIENCE, "scope": scope}
        if client is not None:
            secret = self.add_client(client, groups, email, name)
            form["grant_type"] = "client_credentials"
            auth = (client, secret)
        else:
            self.add_user(user, groups, email, name)
            form.update(grant_type=self.USER_GRANT, username=user)
            if ttl:
                form["ttl"] = str(ttl)
            auth = ("test-login", "test-login-secret")
        return self._post_form("/token", form, auth)["access_token"]

    def rotate_keys(self, keep_old=True):
        """Makes a new signing key current; returns the key ids, newest first."""
        return self._control("rotate", {"keep_old": keep_old})["kids"]

    def kids(self):
        return self._get_json("/test/state")["kids"]

    def approve_device(self, user_code, username):
        """Stands in for a person entering `user_code` in a browser during a device-flow login."""
        self._control("approve-device", {"user_code": user_code, "username": username})

    # -- configuration -----------------------------------------------------------------------

    def identity_settings(self, **extra):
        """The issuer entry for the gateway's identity section."""
        issuer = {"issuer": self.issuer, "audiences": [self.AUDIENCE], "allow_insecure_http": True}
        issuer.update(extra)
        return issuer

    def identity_yaml(self, issuer_extra=None, **section):
        """An `identity:` YAML section (JSON is YAML) trusting this provider."""
        body = {"issuers": [self.identity_settings(**(issuer_extra or {}))]}
        body.update(section)
        return "identity: " + json.dumps(body) + "\n"

    @staticmethod
    def claims(token):
        """The decoded (unverified) payload of a token, for assertions."""
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    # -- HTTP --------------------------------------------------------------------------------

    def _control(self, name, body):
        return self._request("/test/" + name, json.dumps(body).encode(), "application/json")

    def _get_json(self, path):
        return self._request(path, None, None)

    def _post_form(self, path, form, auth):
        data = urllib.parse.urlencode(form).encode()
        basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return self._request(path, data, "application/x-www-form-urlencoded",
                             {"Authorization": "Basic " + basic})

    def _request(self, path, data, content_type, headers=None):
        if not self.proc:
            raise RuntimeError("the OIDC provider is not running")
        req = urllib.request.Request(self.issuer + path, data=data, headers=dict(headers or {}))
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{path}: HTTP {err.code}: {err.read().decode(errors='replace')}")
