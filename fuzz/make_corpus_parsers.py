#!/usr/bin/env python3
"""Writes the seed corpora of the parser fuzz targets
(fuzz/corpus/{jwt,sql,mask,body,config,audit,admin,http_request}/).

Seeds are realistic inputs: signed tokens and a JWKS, statements of the kinds policy decides
on, masking inputs (JSON, arrays, COPY lines, cells) with the selector byte fuzz_mask.cc reads,
HTTP bodies (JSON, NDJSON, SSE, text) with the selector byte fuzz_body.cc reads,
configurations and policies from examples/ and tests/policy/, audit segments built here
(header, zstd frame through the zstd command, CRC-32C, hash chain) independently of the C++
writer, admin API requests in the format fuzz_admin.cc reads, and raw HTTP/1.1 requests (with
gzip and deflate bodies made by Python's zlib) for fuzz_http_request.cc. Inputs a fuzz run
found (crashes that were fixed) are kept beside these as
`finding-*` files and are not rewritten. Run from anywhere:
/usr/bin/python3 fuzz/make_corpus_parsers.py
"""
import base64
import hashlib
import json
import os
import struct
import subprocess
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from make_corpus import write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Test keys of fuzz_jwt.cc (its JWKS holds the public halves). Not used anywhere else.
EC_KEY = b"""-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILM+mYC92rRhkMP0wlh89AlUaj7rT7BK1ASKS51knFefoAoGCCqGSM49
AwEHoUQDQgAEwJ2ItzTcvheNAD+OOE+u/h0GmLcsbZj7jUWebiqzfJh5b/yn0tWr
70hdSx5+3rwnFvGiyisro6zedlOaUhNkSQ==
-----END EC PRIVATE KEY-----
"""
ED_KEY = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGBg9iaduw/mSmi0VWElNTythBDFhkpJ/1X3zaoUEgYP
-----END PRIVATE KEY-----
"""


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header, claims, key):
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(claims).encode())).encode()
    if header["alg"] == "ES256":
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = key.sign(signing_input)
    return (signing_input.decode() + "." + b64u(sig)).encode()


def jwt_seeds():
    ec_key = serialization.load_pem_private_key(EC_KEY, None)
    ed_key = serialization.load_pem_private_key(ED_KEY, None)
    claims = {"iss": "https://idp.example.com", "aud": "jitgate", "sub": "alice",
              "email": "alice@example.com", "groups": ["dba", "eng"], "scope": "openid db",
              "iat": 1799990000, "exp": 1800003600, "nbf": 1799990000}
    yield "es256", jws({"alg": "ES256", "kid": "ec", "typ": "JWT"}, claims, ec_key)
    yield "eddsa", jws({"alg": "EdDSA", "kid": "ed"}, dict(claims, aud=["x", "jitgate"]), ed_key)
    service = {"iss": "https://idp.example.com", "aud": "jitgate", "sub": "svc",
               "client_id": "etl", "scp": ["db"], "exp": 1800000100,
               "realm_access": {"roles": ["etl"]}}
    yield "service_account", jws({"alg": "ES256", "kid": "ec"}, service, ec_key)
    yield "expired_float_dates", jws({"alg": "ES256"}, dict(claims, exp=1.5e9, iat=1.4e9), ec_key)
    yield "hs256_refused", (b64u(b'{"alg":"HS256"}') + "." + b64u(b'{"sub":"x"}') + ".c2ln").encode()
    yield "jwks", json.dumps({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig",
         "x": "wJ2ItzTcvheNAD-OOE-u_h0GmLcsbZj7jUWebiqzfJg",
         "y": "eW_8p9LVq-9IXUseft68JxbxosorK6Os3nZTmlITZEk"},
        {"kty": "OKP", "crv": "Ed25519", "x": "ahyzaSMTggxm3oHQfutPVfCdgB9q2a6l-coBXNvkUcA"},
        {"kty": "RSA", "kid": "r", "alg": "RS256", "n": b64u(b"\xc1" + b"\x00" * 255),
         "e": "AQAB"},
        {"kty": "oct", "k": "c2VjcmV0"}]}).encode()


SQL = [
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213",
    "UPDATE pgbench_accounts SET abalance = abalance + -4172 WHERE aid = 9012;",
    "INSERT INTO crm.orders (id, total, note) VALUES (1, 12.50, 'it''s paid'), (2, 3e2, 'x')",
    "WITH d AS (DELETE FROM t WHERE ts < now() - interval '1 day' RETURNING *) SELECT count(*) FROM d",
    "SELECT c.name, lower(c.email) FROM crm.customers c JOIN crm.orders o ON o.cid = c.id "
    "WHERE o.total > 100 ORDER BY 1 LIMIT 10 FOR UPDATE",
    "SET search_path = app, public; SELECT set_config('role', 'admin', false)",
    "COPY (SELECT * FROM kb.chunks) TO STDOUT WITH (FORMAT csv, HEADER true, DELIMITER ';')",
    "PREPARE q(int) AS SELECT * FROM t WHERE id = $1; EXECUTE q(5); DEALLOCATE q",
    "BEGIN; DECLARE c CURSOR FOR SELECT * FROM t; FETCH 10 FROM c; CLOSE c; COMMIT",
    "SELECT pg_sleep(1), pg_read_file('/etc/passwd'), (t.x).f FROM \"Weird\"\"Name\" t",
    "DROP TABLE IF EXISTS orders CASCADE; ALTER SYSTEM SET work_mem = '1GB'",
    "SELECT E'\\x41', $$dollar$$, B'101', U&'\\0041' /* comment */ -- tail",
]


def sql_seeds():
    for i, text in enumerate(SQL):
        yield "q%02d" % i, text.encode()


def copy_text(fields):
    return "\t".join("\\N" if f is None else f.replace("\\", "\\\\").replace("\t", "\\t")
                     .replace("\n", "\\n") for f in fields) + "\n"


def mask_seeds():
    card, email = "4111 1111 1111 1111", "alice@example.com"
    yield "json", b"\x00" + json.dumps({"user": email, "card": card, "n": 4111111111111111,
                                        "tags": ["a", {"ssn": "123-45-6789"}], "ok": True,
                                        "pw": None, "\u00e9": 1.5e3}).encode()
    yield "json_tok", b"\x08" + b'[{"password": "hunter2", "token": "ghp_' + b"a" * 36 + b'"}]'
    yield "text_array", b"\x01" + ('{"%s",NULL,"a\\"b","",plain,{x}}' % email).encode()
    yield "text_array_bounds", b"\x09" + b'[0:1][1:2]={{a,b},{"c d",NULL}}'
    elems = [email.encode(), None, b"x"]
    body = struct.pack("!iiIii", 1, 1, 25, len(elems), 1)
    for e in elems:
        body += struct.pack("!i", -1) if e is None else struct.pack("!i", len(e)) + e
    yield "binary_array", b"\x02" + body
    yield "copy_text", b"\x03" + copy_text(["1", email, None, "tab\there", "back\\slash"]).encode()
    yield "copy_text_escapes", b"\x0b" + b"\\x41\\101\\b\\f\\v\t\\N\tsecret\r\n"
    yield "copy_csv", b"\x04" + ('1,"%s",,"a ""q"" b","",%s\n' % (email, card)).encode()
    yield "copy_csv_crlf", b"\x0c" + b'"multi\nline",2,\\.\r\n'
    yield "cell_text", b"\x05" + ("call %s or mail %s" % (card, email)).encode()
    yield "cell_json", b"\x05" + json.dumps({"email": email}).encode()
    yield "cell_bytea", b"\x0d" + b"\\x" + email.encode().hex().encode()
    yield "cell_binary_jsonb", b"\x06" + b"\x01" + json.dumps({"card": card}).encode()
    yield "cell_binary_int8", b"\x0e" + struct.pack("!q", 4111111111111111)
    yield "free_text", b"\x07" + ('Key (email)=(%s) already exists.' % email).encode()


def body_seeds():
    """Bodies for fuzz_body.cc: selector byte = kind (bits 0-1) | (chunk size - 1) << 2."""
    email = "alice@example.com"
    search = {"items": [{"id": 1, "v": "4111 1111 1111 1111", "h": {"x": [1, 2]},
                         "payload": {"email": email, "text": "call +1 415 555 2671"}},
                        {"id": "d2", "doc": 7}, {"id": 3}, {"id": 4, "v": True}],
              "a": [1.50, None], "meta": {"n": "x", "db_password": "hunter2"}}
    yield "json", bytes([0 | 63 << 2]) + json.dumps(search).encode()
    yield "json_split", bytes([0 | 6 << 2]) + json.dumps(search).encode()
    yield "json_escapes", bytes([0 | 2 << 2]) + b'{"e": "bob\\u0040example.com", "q": "\\"\\n"}'
    yield "ndjson", bytes([1 | 9 << 2]) + (json.dumps({"email": email, "doc": 1}) +
                                           "\r\n\n[1]\n2\n3\n").encode()
    yield "sse", bytes([2 | 11 << 2]) + (
        'event: delta\r\nid: 1\r\ndata: {"items": [{"v": "x"}]}\r\n\r\n'
        ": ping\n\ndata: hi %s\ndata: two\r\r" % email).encode()
    yield "text", bytes([3 | 15 << 2]) + ("line %s\r\nplain\nend" % email).encode()


def config_seeds():
    with open(os.path.join(ROOT, "examples", "gateway.yaml"), "rb") as f:
        yield "gateway", f.read()
    for name in sorted(os.listdir(os.path.join(ROOT, "tests", "policy"))):
        if name.endswith(".rules"):
            with open(os.path.join(ROOT, "tests", "policy", name), "rb") as f:
                yield "policy_" + name[:-6], f.read()
    yield "minimal", b"""listen: {postgres: "[::1]:6432"}
tls: {require_client_tls: false}
auth: {static: {enable_insecure_static: true, password_env: HOME, groups: [dev]}}
resources:
  - name: app
    upstream: {host: db, port: 5432, user: app, password_env: HOME, search_path: "app, public"}
timeouts: {startup: 10s, idle: 1h30m}
masking: {defaults: {detectors: [email, credit_card], detector_strategy: partial}}
policies:
  - id: dev
    match: {groups: [dev], resource: app, hours: "Mon-Fri 08:00-18:00 Europe/Paris"}
    allow: [select, insert]
"""


CRC_POLY = 0x82F63B78


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (CRC_POLY if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def segment(records, tail=b""):
    prev, plain = b"\0" * 32, b""
    for seq, rec in enumerate(records, 1):
        rec = json.dumps(rec, separators=(",", ":")).encode()
        prev = hashlib.sha256(prev + struct.pack(">Q", seq) + rec).digest()
        plain += struct.pack("<QI", seq, len(rec)) + rec + prev
    payload = subprocess.run(["zstd", "-q", "-c", "-1"], input=plain, check=True,
                             capture_output=True).stdout
    length = struct.pack("<I", len(payload))
    frame = length + struct.pack("<I", crc32c(length + payload)) + payload
    return b"JGAUDIT\n" + struct.pack("<II", 2, 0) + frame + tail


AUDIT_RECORDS = [
    {"type": "segment_start", "ts": 1800000000000000, "format": 2, "instance": "gw1",
     "segment": 1, "raw": "off", "raw_key": "", "key": "0011223344556677", "prev_seq": 0,
     "prev_hash": "0" * 64, "prev_sig": "AAAA"},
    {"type": "connect", "ts": 1800000000000100, "sid": "s1", "resource": "kb",
     "client": "127.0.0.1:5555", "user": "alice"},
    {"type": "statement", "ts": 1800000000000200, "sid": "s1", "stmt": 1,
     "text": "SELECT * FROM t WHERE id = 1", "kinds": ["select"], "decision": "allow",
     "rule": "r1", "fingerprint": "00ff00ff00ff00ff", "tables": ["public.t"]},
    {"type": "result", "ts": 1800000000000300, "sid": "s1", "stmt": 1, "columns": ["id"],
     "rows": [["1"]], "count": 1},
    {"type": "checkpoint", "ts": 1800000000000400, "reason": "close", "instance": "gw1",
     "segment": 1, "upto_seq": 4, "upto_hash": "ab" * 32, "key": "0011223344556677",
     "sig": "AAAA"},
]


def audit_seeds():
    yield "segment", b"\x00" + segment(AUDIT_RECORDS)
    yield "segment_zero_tail", b"\x00" + segment(AUDIT_RECORDS[:3], b"\0" * 64)
    torn = segment(AUDIT_RECORDS)
    yield "segment_torn", b"\x00" + torn[:len(torn) - 7]
    lines = [json.dumps(r, separators=(",", ":")) for r in AUDIT_RECORDS]
    yield "records", b"\x01" + "\n".join(lines).encode()


def admin_seeds():
    def req(line, who, body=""):
        return ("%s\nBearer %s\n%s" % (line, who, body)).encode()
    yield "ask", req("POST /api/v1/reviews", "alice",
                     '{"resource":"kb","role":"reader","duration":"1h","reason":"incident 7"}')
    yield "list_reviews", req("GET /api/v1/reviews?state=pending&resource=kb&limit=10", "olga")
    yield "show_review", req("GET /api/v1/reviews/{review}", "alice")
    yield "approve", req("POST /api/v1/reviews/{pending}/approve", "olga", '{"comment":"ok"}')
    yield "reject", req("POST /api/v1/reviews/{pending}/reject", "olga", '{"comment":"no \\u00e9"}')
    yield "grants", req("GET /api/v1/grants?state=active&limit=5", "alice")
    yield "revoke", req("POST /api/v1/grants/{grant}/revoke", "alice", '{"reason":"done"}')
    yield "audit_search", req("GET /api/v1/audit/statements?user=alice%40example.com&kind=select"
                              "&since=2026-11-29T08:00:00Z&until=2h&contains=%25x&limit=20",
                              "audrey")
    yield "audit_session", req("GET /api/v1/audit/sessions/s-1.a_b?limit=3", "audrey")
    yield "unauthenticated", req("GET /api/v1/reviews", "")


def http_request_seeds():
    def req(line, headers, body=b""):
        head = line + "\r\n" + "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        return head.encode() + body

    def chunked(body):
        return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    doc = b'{"query":"refund policy","top_k":5,"filter":{"tenant":"acme"}}'
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    gzipped = gz.compress(doc) + gz.flush()
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw_deflated = raw.compress(doc) + raw.flush()
    yield "get", req("GET /kb/search?q=caf%C3%A9+menu&top_k=5 HTTP/1.1",
                     [("Host", "kb.example:8443"), ("Authorization", "Bearer eyJhbGciOi.x.y"),
                      ("Accept", "application/json"), ("User-Agent", "python-httpx/0.27"),
                      ("X-Request-Id", "r-1")])
    yield "post_json", req("POST /v1/embeddings HTTP/1.1",
                           [("Host", "eu.example"), ("X-Api-Key", "sk-test"),
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(doc)))], doc)
    yield "post_chunked", req("POST /kb/search/query HTTP/1.1",
                              [("Host", "root.example"), ("Authorization", "Api-Key k1"),
                               ("Transfer-Encoding", "chunked"), ("Connection", "keep-alive, X-A"),
                               ("X-A", "1"), ("Cookie", "sid=2")], chunked(doc))
    yield "post_gzip", req("POST /kb/docs HTTP/1.1",
                           [("Host", "kb.example"), ("Content-Encoding", "gzip"),
                            ("Content-Length", str(len(gzipped)))], gzipped)
    yield "post_deflate", req("PUT /kb/docs/1 HTTP/1.1",
                              [("Host", "kb.example"), ("Content-Encoding", "deflate"),
                               ("Content-Length", str(len(raw_deflated)))], raw_deflated)
    yield "absolute_form", req("GET http://kb.example/kb/./a/%2e/b?x=1&&y HTTP/1.1",
                               [("Host", "kb.example")])
    yield "smuggle_cl_te", req("POST / HTTP/1.1",
                               [("Host", "a"), ("Content-Length", "4"),
                                ("Transfer-Encoding", "chunked")], b"0\r\n\r\n")
    yield "smuggle_te_list", req("POST / HTTP/1.1",
                                 [("Host", "a"), ("Transfer-Encoding", "chunked, identity")])
    yield "obs_fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Note: one\r\n two\r\n\r\n"
    yield "http10", req("GET /kb HTTP/1.0", [("Host", "a"), ("Content-Length", "0"),
                                             ("Content-Length", "0")])
    yield "bad_target", req("GET /kb/a%2Fb/../c%00?%zz HTTP/1.1", [("Host", "a")])


if __name__ == "__main__":
    write("jwt", jwt_seeds())
    write("sql", sql_seeds())
    write("mask", mask_seeds())
    write("body", body_seeds())
    write("config", config_seeds())
    write("audit", audit_seeds())
    write("admin", admin_seeds())
    write("http_request", http_request_seeds())
