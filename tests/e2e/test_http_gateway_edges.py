"""The HTTP gateway against an nginx upstream (a real server nobody here wrote) that answers what
json-server and the vector store never would: the request's own credential headers, malformed
JSON, unknown and binary media types, a gzip bomb. Plus slow clients, replay, reload and drain.
Each test names the behaviour it checks."""
import base64
import gzip
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from harness import JITGATE, free_port, make_cert, wait_port
from http_gateway import HttpGateway

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """{user}worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /echo-auth {{
      default_type application/json;
      return 200 '{{"authorization":"$http_authorization","x_api_key":"$http_x_api_key"}}';
    }}
    location = /bad-json {{
      default_type application/json;
      return 200 '{{"items": [{{"email": "ada@example.com"}}, ';
    }}
    location = /binary {{
      default_type application/octet-stream;
      return 200 'secret ada@example.com in bytes';
    }}
    location = /image {{
      default_type image/png;
      return 200 'PNG ada@example.com';
    }}
    location = /bomb {{
      default_type application/json;
      add_header Content-Encoding gzip;
      alias {d}/bomb.gz;
    }}
    location = /big {{
      default_type application/json;
      alias {d}/big.json;
    }}
  }}
}}
"""

POLICIES = """upstream_tokens: { key_file: {key} }
policies:
  - id: read
    reason: tests read the echo API
    match: { groups: [rag], resource: [echo, signed, oauth, capped], methods: [GET, HEAD] }
    action: allow
"""


@pytest.fixture(scope="module")
def nginx():
    d = Path(tempfile.mkdtemp(prefix="jg-nginx-"))
    port = free_port()
    with gzip.open(d / "bomb.gz", "wb", compresslevel=9) as f:
        f.write(b"[" + b"0," * (16 << 20) + b"0]")  # 32 MB of JSON in ~35 KB
    items = [{"id": i, "text": f"note {i} for ada{i}@example.com " + "lorem ipsum " * 40}
             for i in range(6000)]
    (d / "big.json").write_text(json.dumps({"result": items}))  # ~3.3 MB: streams
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (d / "nginx.conf").write_text(NGINX_CONF.format(user=user, d=d, port=port))
    proc = subprocess.Popen([NGINX, "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(port, timeout=10, proc=proc)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def gw(idp, nginx):
    g = HttpGateway(idp, resources=[], policies="", masking=True, audit=True,
                    limits_yaml="limits: { http: { max_decoded_body_bytes: 1048576, "
                                "buffer_response_bytes: 2097152 } }\n"
                                "timeouts: { http: { first_byte: 1s } }\n")
    key = g.dir / "upstream-token.pem"
    subprocess.run([str(JITGATE), "creds", "keygen", str(key)], check=True, capture_output=True)
    g.policies = POLICIES.replace("{key}", str(key))
    secret = g.write_secret("oauth-client.secret", idp.add_client("gateway-upstream",
                                                                  groups=["upstream"]))
    g.resources = [
        {"name": "echo", "url": nginx,
         "masking": "{ allow_unmasked: [image/*] }"},
        {"name": "signed", "url": nginx, "masking": "{ enabled: false }",
         "credential": "{ jwt: { audience: echo-api, ttl: 30s } }"},
        {"name": "capped", "url": nginx, "max_response_bytes": 100000},
        {"name": "oauth", "url": nginx, "masking": "{ enabled: false }",
         "credential": f"{{ oauth2: {{ token_url: {idp.issuer}/token, client_id: "
                       f"gateway-upstream, client_secret_file: {secret}, scope: db.read, "
                       f"resource: '{idp.AUDIENCE}' }} }}"},
    ]
    g.start()
    yield g
    g.cleanup()


@pytest.fixture(scope="module")
def token(idp):
    return idp.token(client="edge-tester", groups=["rag"], email="edge@svc.example")


def get(gw, resource, path, token, headers=None):
    return requests.get(gw.url(resource, path),
                        headers={"authorization": f"Bearer {token}", **(headers or {})},
                        verify=gw.ca, timeout=30)


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_clients_token_is_never_forwarded_upstream(gw, token):
    r = get(gw, "echo", "/echo-auth", token)
    assert r.status_code == 200, r.text
    assert r.json()["authorization"] == ""


def test_gateway_signed_jwt_reaches_upstream_and_verifies_with_the_published_jwks(gw, token,
                                                                                  tmp_path):
    r = get(gw, "signed", "/echo-auth", token)
    assert r.status_code == 200, r.text
    scheme, jwt = r.json()["authorization"].split(" ")
    assert scheme == "Bearer" and jwt != token
    header_b64, claims_b64, sig_b64 = jwt.split(".")
    header, claims = json.loads(b64url(header_b64)), json.loads(b64url(claims_b64))
    assert claims["aud"] == "echo-api" and claims["sub"]
    assert 0 < claims["exp"] - claims["iat"] <= 30
    with urllib.request.urlopen(gw.admin_url + "/.well-known/jwks.json", timeout=10) as res:
        jwks = json.loads(res.read())
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert header["alg"] == "EdDSA" and jwk["crv"] == "Ed25519"
    der = bytes.fromhex("302a300506032b6570032100") + b64url(jwk["x"])
    pem = tmp_path / "pub.pem"
    pem.write_text("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() +
                   "\n-----END PUBLIC KEY-----\n")
    (tmp_path / "data").write_bytes(f"{header_b64}.{claims_b64}".encode())
    (tmp_path / "sig").write_bytes(b64url(sig_b64))
    v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin",
                        "-in", str(tmp_path / "data"), "-sigfile", str(tmp_path / "sig")],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr


def test_oauth2_client_credentials_token_is_fetched_once_and_reused(gw, token):
    first = get(gw, "oauth", "/echo-auth", token)
    assert first.status_code == 200, first.text
    scheme, upstream_token = first.json()["authorization"].split(" ")
    assert scheme == "Bearer" and upstream_token != token
    claims = json.loads(b64url(upstream_token.split(".")[1]))
    assert claims["client_id"] == "gateway-upstream"
    second = get(gw, "oauth", "/echo-auth", token)
    assert second.json()["authorization"] == first.json()["authorization"]  # cached


def test_invalid_json_under_application_json_is_502_never_the_raw_body(gw, token):
    r = get(gw, "echo", "/bad-json", token)
    assert r.status_code == 502
    assert "ada@example.com" not in r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unknown_media_type_is_502_and_an_allowed_one_passes_unmasked(gw, token):
    r = get(gw, "echo", "/binary", token)
    assert r.status_code == 502
    assert "application/octet-stream" in r.json()["detail"]
    assert "ada@example.com" not in r.text
    img = get(gw, "echo", "/image", token)
    assert img.status_code == 200 and img.text == "PNG ada@example.com"


def test_gzip_bomb_from_upstream_is_502_before_the_response_starts(gw, token):
    # The decoded-size limit (1 MiB here) is below the buffered-response size (2 MiB), so the
    # bomb is found before the status line goes out. Past the buffer, the connection is cut.
    r = get(gw, "echo", "/bomb", token, headers={"accept-encoding": "identity"})
    assert r.status_code == 502, r.text[:300]


def test_large_json_streams_masked_in_chunks(gw, token):
    r = get(gw, "echo", "/big", token)
    assert r.status_code == 200
    assert r.headers.get("transfer-encoding") == "chunked"
    doc = r.json()
    assert len(doc["result"]) == 6000
    assert "@example.com" not in r.text


def test_response_over_max_response_bytes_is_refused(gw, token):
    r = get(gw, "capped", "/big", token)
    assert r.status_code == 502
    assert "100000 bytes" in r.json()["detail"]


def test_slow_client_gets_408_and_the_gateway_keeps_serving(gw, token):
    ctx = ssl.create_default_context(cafile=gw.ca)
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /echo/echo-auth HTTP/1.1\r\nHost: x\r\n")
            time.sleep(1.6)
            data = t.recv(4096)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert get(gw, "echo", "/echo-auth", token).status_code == 200


def test_stalled_body_gets_408_problem_and_the_gateway_keeps_serving(gw, token):
    ctx = ssl.create_default_context(cafile=gw.ca)
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"POST /echo/echo-auth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + token.encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"half\": ")
            time.sleep(1.6)
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"application/problem+json" in data and b"request body" in data, data[:600]
    assert get(gw, "echo", "/echo-auth", token).status_code == 200


def test_pipelined_requests_with_bodies_and_chunks_are_answered_in_order(gw, token):
    """Requests sent in one write: each body (sized or chunked) is taken from what came with
    its head, and the bytes after it are the next request, not part of the body."""
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    sized = (b"POST /echo/echo-auth HTTP/1.1\r\nHost: x\r\n" + auth
             + b"Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"GET\": \"/x\"}")
    chunked = (b"POST /echo/echo-auth HTTP/1.1\r\nHost: x\r\n" + auth
               + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n")
    plain = b"GET /echo/echo-auth HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    last = b"GET /echo/echo-auth HTTP/1.1\r\nHost: x\r\n" + auth + b"Connection: close\r\n\r\n"
    ctx = ssl.create_default_context(cafile=gw.ca)
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(sized + plain + chunked + last)
            data = b""
            while chunk := t.recv(65536):
                data += chunk
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    # The policy allows GET and HEAD only: each POST is refused, each GET answered.
    assert statuses == [403, 200, 403, 200], (statuses, data[:3000])


def test_replay_shows_an_http_session_with_requests_and_statuses(gw, token):
    get(gw, "echo", "/echo-auth", token)
    r = subprocess.run([str(JITGATE), "audit", "search", "--config", str(gw.config),
                        "--protocol", "http", "--path", "/echo/echo-auth", "--limit", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.split()[3].split("#")[0]
    replay = subprocess.run([str(JITGATE), "replay", sid, "--config", str(gw.config)],
                            capture_output=True, text=True, timeout=30)
    assert replay.returncode == 0, replay.stderr
    assert "GET" in replay.stdout and "/echo/echo-auth" in replay.stdout
    assert "200" in replay.stdout


def test_sighup_reload_and_sigterm_drain_cover_http(idp, nginx, token):
    g = HttpGateway(idp, resources=[{"name": "echo", "url": nginx}],
                    policies="policies: []\n", masking=True)
    g.start()
    try:
        assert get(g, "echo", "/echo-auth", token).status_code == 403
        g.config.write_text(g.config.read_text().replace(
            "policies: []", "policies:\n  - { id: read, match: { resource: echo }, "
                            "action: allow }"))
        g.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and get(g, "echo", "/echo-auth", token).status_code != 200:
            time.sleep(0.1)
        assert get(g, "echo", "/echo-auth", token).status_code == 200
        idle = requests.Session()  # a kept-alive connection left idle
        idle.get(g.url("echo", "/echo-auth"), headers={"authorization": f"Bearer {token}"},
                 verify=g.ca, timeout=10)
        started = time.time()
        assert g.stop(timeout=20) == 0
        assert time.time() - started < 10
    finally:
        g.cleanup()


def _client_hello():
    """The first flight of a TLS client, as bytes (Python's TLS over memory, nothing sent)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _reset(sock):
    """Closes with a TCP reset (SO_LINGER 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_clients_that_reset_mid_handshake_or_mid_response_do_not_stop_the_gateway(gw, token):
    """Writing to a connection the client has reset fails with EPIPE: that is the connection's
    end, never a signal that ends the gateway."""
    hello = _client_hello()
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
        s.sendall(hello)
        _reset(s)
    ctx = ssl.create_default_context(cafile=gw.ca)
    request = (b"GET /echo/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode()
               + b"\r\n\r\n")
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(request)
        assert t.recv(1024).startswith(b"HTTP/1.1 200")
        _reset(t)
    for _ in range(20):  # gone before its answer: the answer and the close_notify hit a reset
        s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(request.replace(b"/big", b"/echo-auth"))
        t.close()
    time.sleep(0.5)
    assert gw.proc.poll() is None, "the gateway exited"
    assert get(gw, "echo", "/echo-auth", token).status_code == 200


class _CuttingUpstream:
    """A TLS upstream (Python's ssl, no HTTP library) that answers every request with a complete
    JSON document whose end is the end of the connection (no Content-Length), then closes TCP:
    with close_notify when the path contains "clean", with a bare FIN otherwise. Without
    close_notify nobody can tell the document from one cut short on the path."""
    BODY = b'{"items": [{"id": 1, "email": "ada@example.com"}]}'

    def __init__(self, directory):
        directory = Path(directory) / "upstream-tls"  # not the gateway's own server.crt
        directory.mkdir()
        cert, key = make_cert(directory)
        self.ca = str(cert)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                self._answer(self.ctx.wrap_socket(conn, server_side=True))
            except (OSError, ssl.SSLError):
                conn.close()

    def _answer(self, tls):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = tls.recv(4096)
            if not chunk:
                break
            request += chunk
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\n\r\n" + self.BODY)
        if b"clean" in request.split(b"\r\n", 1)[0]:
            tls.unwrap().close()  # close_notify, then the TCP close
        else:
            tls.shutdown(socket.SHUT_RDWR)  # TCP only: the TLS layer never says it is done
            tls.close()

    def close(self):
        self.listener.close()


def test_upstream_body_ended_by_a_tls_close_without_close_notify_is_never_passed_as_whole(idp):
    """A body that ends with the connection is complete only when the upstream's TLS says so
    (close_notify). Cut without it, a masked response is a 502 problem and a pass-through one
    never arrives whole; the same answer with close_notify is a 200."""
    g = HttpGateway(idp, resources=[], policies="", masking=True, audit=True)
    upstream = _CuttingUpstream(g.dir)
    url = f"https://127.0.0.1:{upstream.port}, ca_file: {upstream.ca}"
    g.resources = [{"name": "cut-masked", "url": url},
                   {"name": "cut-plain", "url": url, "masking": "{ enabled: false }"}]
    g.policies = ("policies:\n  - id: read\n    reason: the cut upstream\n"
                  "    match: { groups: [rag], resource: [cut-masked, cut-plain], "
                  "methods: [GET] }\n    action: allow\n")
    token = idp.token(client="cut-tester", groups=["rag"], email="cut@svc.example")
    g.start()
    try:
        ok = get(g, "cut-masked", "/clean", token)
        assert ok.status_code == 200, ok.text
        assert ok.json()["items"][0]["id"] == 1
        assert "ada@example.com" not in ok.text

        cut = get(g, "cut-masked", "/cut", token)
        assert cut.status_code == 502, cut.text
        assert cut.headers["content-type"] == "application/problem+json"
        assert "ada@example.com" not in cut.text

        assert get(g, "cut-plain", "/clean", token).content == _CuttingUpstream.BODY
        try:
            plain = get(g, "cut-plain", "/cut", token)
        except requests.exceptions.RequestException:
            plain = None  # the connection was cut before the end of the body: not whole
        assert plain is None or plain.status_code == 502, plain.content
    finally:
        g.cleanup()
        upstream.close()
