"""The real jitgate binary serving HTTP resources, for the HTTP end-to-end tests and the demo.

    gw = HttpGateway(idp, resources=[{"name": "kb-search", "url": store_url, ...}],
                     policies=POLICY_YAML, masking=True, audit=True).start()
    gw.url("kb-search", "/collections")     # https://127.0.0.1:PORT/kb-search/collections
    gw.ca                                    # the CA file clients trust (the self-signed cert)
    gw.cli("audit", "search", ...)           # `jitgate` subcommands against this configuration
    gw.cleanup()

Every resource entry is a dict: name, url (the upstream base URL), and optionally mount,
credential (YAML text), token (YAML text), masking (YAML text), documents (YAML text),
max_response_bytes; kind (default http; mcp for an MCP proxy resource, whose `mcp` is YAML text).
Everything runs on loopback in a temporary directory.
"""
import os
import subprocess
import tempfile
from pathlib import Path

from harness import JITGATE, JitgateProcess, free_port, make_cert, make_keys, wait_port

MASKING = """masking:
  key_file: {keys}/mask.key
"""

AUDIT = """audit:
  dir: {dir}/audit
  durability: {durability}
  raw_payloads: encrypted
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""


class HttpGateway(JitgateProcess):
    def __init__(self, idp, resources, policies, masking=False, audit=False, store=False,
                 durability="batched", tls=True, extra_yaml="", limits_yaml=""):
        self.idp = idp
        self.dir = Path(tempfile.mkdtemp(prefix="jg-http-"))
        self.pg_port, self.http_port, self.admin_port = free_port(), free_port(), free_port()
        self.resources, self.policies = resources, policies
        self.masking, self.audit, self.store = masking, audit, store or audit
        self.durability, self.tls = durability, tls
        self.extra_yaml, self.limits_yaml = extra_yaml, limits_yaml
        self.proc = None
        self.log = self.dir / "jitgate.log"
        self.config = self.dir / "jitgate.yaml"
        self.keys = None
        self.ca = None

    @property
    def base(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.http_port}"

    def url(self, resource, path=""):
        return f"{self.base}/{resource}{path}"

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def write_secret(self, name, value):
        path = self.dir / name
        path.write_text(value + "\n")
        os.chmod(path, 0o600)
        return path

    def _resource_yaml(self, r):
        lines = [f"  - name: {r['name']}", f"    kind: {r.get('kind', 'http')}",
                 f"    mount: {r.get('mount', '/' + r['name'])}",
                 f"    upstream: {{ url: {r['url']}{r.get('upstream_extra', '')} }}"]
        if r.get("host"):
            lines.append(f"    host: {r['host']}")
        for key in ("credential", "token", "masking", "documents", "mcp"):
            if r.get(key):
                lines.append(f"    {key}: {r[key]}")
        if r.get("max_response_bytes"):
            lines.append(f"    max_response_bytes: {r['max_response_bytes']}")
        return lines

    def write_config(self):
        self.keys = make_keys(self.dir / "keys")
        lines = [f"listen: {{ postgres: 127.0.0.1:{self.pg_port}, admin: 127.0.0.1:"
                 f"{self.admin_port}, http: 127.0.0.1:{self.http_port} }}", "threads: 2"]
        if self.tls:
            cert, key = make_cert(self.dir)
            self.ca = str(cert)
            lines.append(f"tls: {{ cert: {cert}, key: {key} }}")
        else:
            lines.append("tls: { require_client_tls: false, allow_plaintext_loopback: true }")
        lines.append("resources:")
        for r in self.resources:
            lines += self._resource_yaml(r)
        text = "\n".join(lines) + "\n" + self.idp.identity_yaml() + self.policies
        if self.masking:
            text += MASKING.format(keys=self.keys)
        if self.audit:
            text += AUDIT.format(dir=self.dir, keys=self.keys, durability=self.durability)
        if self.store:
            text += f"store: sqlite://{self.dir}/state.db\n"
        text += self.limits_yaml + self.extra_yaml
        self.config.write_text(text)

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen([str(JITGATE), "serve", "--config", str(self.config)],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        try:
            wait_port(self.http_port, proc=self.proc)
            wait_port(self.admin_port, timeout=10, proc=self.proc)
        except (TimeoutError, RuntimeError) as e:
            raise AssertionError(f"jitgate did not start: {e}\n{self.log_text()[-3000:]}")
        return self

    def cli(self, *args, check=True):
        """Runs `jitgate <args>` with this gateway's configuration where it takes one."""
        r = subprocess.run([str(JITGATE), *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"jitgate {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r
