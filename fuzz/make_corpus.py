#!/usr/bin/env python3
"""Writes the seed corpora for the libFuzzer targets (fuzz/corpus/{frontend,backend,audit}/).

Each seed is a short, valid PostgreSQL protocol 3.0 conversation built here with `struct`,
independently of the C++ encoders, so the fuzzers start from what real clients and servers send;
the audit seeds are records of an HTTP session, one JSON object per line.
Run from anywhere: /usr/bin/python3 fuzz/make_corpus.py
"""
import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(t, body=b""):
    return t.encode() + struct.pack("!i", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def startup_packet(body):
    return struct.pack("!i", len(body) + 4) + body


def startup(params, version=196608):
    body = struct.pack("!I", version)
    for k, v in params:
        body += cstr(k) + cstr(v)
    return startup_packet(body + b"\0")


SSL = startup_packet(struct.pack("!I", 80877103))
GSSENC = startup_packet(struct.pack("!I", 80877104))


def parse(name, sql, types=()):
    return msg("P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
               b"".join(struct.pack("!I", t) for t in types))


def bind(portal, stmt, pformats, params, rformats):
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", len(pformats))
    body += b"".join(struct.pack("!h", f) for f in pformats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(rformats)) + b"".join(struct.pack("!h", f) for f in rformats)
    return msg("B", body)


def describe(t, name):
    return msg("D", t.encode() + cstr(name))


def execute(portal, rows=0):
    return msg("E", cstr(portal) + struct.pack("!i", rows))


def close(t, name):
    return msg("C", t.encode() + cstr(name))


def auth(code, extra=b""):
    return msg("R", struct.pack("!i", code) + extra)


def field(name, table, col, typ, size, mod, fmt):
    return cstr(name) + struct.pack("!IhIhih", table, col, typ, size, mod, fmt)


def row_description(fields):
    return msg("T", struct.pack("!h", len(fields)) + b"".join(fields))


def data_row(cells):
    body = struct.pack("!h", len(cells))
    for c in cells:
        body += struct.pack("!i", -1) if c is None else struct.pack("!i", len(c)) + c
    return msg("D", body)


def error(t, fields):
    return msg(t, b"".join(k.encode() + cstr(v) for k, v in fields) + b"\0")


def scram_server(password, client_nonce, server_nonce, salt, iterations):
    """server-first and server-final for a client sending n,,n=,r=<client_nonce>."""
    nonce = client_nonce + server_nonce
    server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={iterations}"
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    without_proof = f"c={base64.b64encode(b'n,,').decode()},r={nonce}"
    auth_message = f"n=,r={client_nonce},{server_first},{without_proof}".encode()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    return server_first, "v=" + base64.b64encode(signature).decode()


def frontend_seeds():
    user = [("user", "rag"), ("database", "kb"), ("application_name", "retriever")]
    q = lambda sql: msg("Q", cstr(sql))
    sync, flush, term = msg("S"), msg("H"), msg("X")
    yield "simple_query", (SSL + startup(user) + msg("p", cstr("eyJhbGciOiJSUzI1NiJ9.e30.sig")) +
                           q("SELECT doc_id, body FROM chunks WHERE doc_id = 7") + term)
    yield "extended_pgbench", (startup(user) +
                               parse("", "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                                     [23]) +
                               bind("", "", [0], [b"4242"], [0]) + describe("P", "") +
                               execute("") + sync + term)
    yield "extended_named_binary", (startup(user) + parse("s1", "SELECT $1::int8, $2::text",
                                                          [20, 25]) +
                                    describe("S", "s1") + sync +
                                    bind("c1", "s1", [1, 0], [b"\0\0\0\0\0\0\0\x2a", None],
                                         [1]) +
                                    execute("c1", 10) + execute("c1", 10) + close("P", "c1") +
                                    close("S", "s1") + flush + sync)
    yield "sasl", (startup(user) +
                   msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", 32) +
                       b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL") +
                   msg("p", b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=proof"))
    yield "copy_in", (startup(user) + q("COPY t FROM STDIN") + msg("d", b"1\tone\n") +
                      msg("d", b"2\t\\N\n") + msg("c") + q("COPY t FROM STDIN") +
                      msg("f", cstr("client aborted")))
    yield "function_call", (startup(user) +
                            msg("F", struct.pack("!I", 1598) + struct.pack("!h", 1) +
                                struct.pack("!h", 1) + struct.pack("!h", 2) +
                                struct.pack("!i", 4) + b"\0\0\0\x01" + struct.pack("!i", -1) +
                                struct.pack("!h", 1)))
    yield "cancel", startup_packet(struct.pack("!Iii", 80877102, 4242, -99))
    yield "gssenc_then_startup_32", (GSSENC + startup(user + [("_pq_.protocol_managed", "on")],
                                                      (3 << 16) | 2) + sync)


def backend_seeds():
    ready = lambda s="I": msg("Z", s.encode())
    session = (auth(0) + msg("S", cstr("server_version") + cstr("15.4")) +
               msg("S", cstr("client_encoding") + cstr("UTF8")) +
               msg("K", struct.pack("!ii", 31337, 123456789)) + ready())
    nonce = "fuzzclientnonce0000000000"  # fuzz_backend.cc fixes the client nonce to this
    first, final = scram_server("pencil", nonce, "Srv+Nonce/123", b"saltsaltsalt1234", 4096)
    yield "scram_ok", (auth(10, cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0") +
                       auth(11, first.encode()) + auth(12, final.encode()) + session)
    yield "scram_error", (auth(10, cstr("SCRAM-SHA-256") + b"\0") + auth(11, first.encode()) +
                          auth(12, b"e=invalid-proof"))
    yield "md5_cleartext", auth(5, b"\x01\x02\x03\x04") + auth(3) + session
    text_fields = [field("doc_id", 16384, 1, 23, 4, -1, 0), field("body", 16384, 2, 25, -1, -1, 0),
                   field("email", 16384, 3, 25, -1, -1, 0)]
    rows = b"".join(data_row([str(i).encode(), b"chunk text %d" % i,
                              None if i % 3 == 0 else b"a%d@example.com" % i]) for i in range(5))
    yield "simple_result", (row_description(text_fields) + rows + msg("C", cstr("SELECT 5")) +
                            ready())
    yield "extended_binary", (msg("1") + msg("t", struct.pack("!hII", 2, 20, 25)) +
                              row_description([field("n", 0, 0, 20, 8, -1, 1),
                                               field("t", 0, 0, 25, -1, -1, 1)]) +
                              msg("2") + data_row([b"\0" * 7 + b"\x2a", b""]) + msg("s") +
                              data_row([b"\0" * 8, None]) + msg("C", cstr("SELECT 2")) +
                              msg("3") + msg("n") + msg("I") + ready("T"))
    yield "errors_notices", (error("N", [("S", "NOTICE"), ("V", "NOTICE"), ("C", "00000"),
                                         ("M", "table does not exist, skipping")]) +
                             error("E", [("S", "ERROR"), ("V", "ERROR"), ("C", "42501"),
                                         ("M", "permission denied for table customers"),
                                         ("P", "15"), ("F", "aclchk.c"), ("L", "3650")]) +
                             msg("A", struct.pack("!i", 77) + cstr("events") + cstr("{\"id\":1}")) +
                             ready("E"))
    yield "copy", (msg("H", struct.pack("!bh", 0, 2) + struct.pack("!hh", 0, 0)) +
                   msg("d", b"1\tone\n") + msg("c") + msg("C", cstr("COPY 1")) +
                   msg("G", struct.pack("!bh", 1, 1) + struct.pack("!h", 1)) +
                   msg("W", struct.pack("!bh", 0, 0)))
    yield "negotiate_function", (msg("v", struct.pack("!ii", 0, 1) + cstr("_pq_.unknown")) +
                                 msg("V", struct.pack("!i", 4) + b"\0\0\0\x07") +
                                 msg("V", struct.pack("!i", -1)) + ready())


def audit_record(rtype, ts, **fields):
    rec = {"type": rtype, "ts": 1800000000000000 + ts, "sid": "h1"}
    rec.update(fields)
    return json.dumps(rec, separators=(",", ":")).encode()


def audit_seeds():
    """Records of an HTTP session and of an MCP session (fuzz_audit: first byte odd = one record
    per line, written as a well-formed segment), so the decoders of every HTTP and MCP record
    type are reached."""
    sealed = base64.b64encode(bytes(range(40))).decode()
    records = [
        audit_record("connect", 1, client="127.0.0.1:5555", resource="vectors", protocol="http"),
        audit_record("auth", 2, ok=True, method="oidc-bearer",
                     principal={"sub": "svc", "groups": ["rag"]}),
        audit_record("http_request", 3, req=1, method="POST",
                     path="/vectors/collections/docs/points/search", query="wait=true",
                     route="/collections/docs/points/search",
                     headers=[["content-type", "application/json"]],
                     body='{"vector":[0.1],"limit":1}', body_bytes=26, body_digest="00" * 32,
                     decision="allow", rule="r1", review="rv1", grant="g1", approval="a1"),
        audit_record("http_response", 4, req=1, status=200,
                     headers=[["content-type", "application/json"]],
                     content_type="application/json", body='{"id":42}', raw_body=sealed,
                     documents=["42"], complete=True, bytes=9, masked={"email": 1},
                     outcome="complete", unmasked_binary=True),
        audit_record("http_request", 5, req=2, method="GET", path="/vectors/x", decision="allow"),
        audit_record("http_response", 6, req=2, status=200, content_type="text/event-stream"),
        audit_record("http_body", 7, req=2, body_b64=base64.b64encode(b"\xff\x00data").decode(),
                     raw_body=sealed, documents=["43"]),
        audit_record("http_response_end", 8, req=2, bytes=4096, masked={}, outcome="truncated"),
        audit_record("error", 9, stmt=3, source="gateway", severity="ERROR", message="denied",
                     http_status=403),
        audit_record("session_end", 10, reason="client-closed", statements=2, rows=0),
    ]
    yield "http_records", b"\x01" + b"\n".join(records)
    mcp = [
        audit_record("connect", 1, client="127.0.0.1:5556", resource="agents", protocol="mcp"),
        audit_record("http_request", 2, req=1, method="POST", path="/mcp",
                     body='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"q"}}',
                     decision="allow", rpc_method="tools/call", tool="q", rpc_id="3"),
        audit_record("http_response", 3, req=1, status=200, content_type="text/event-stream"),
        audit_record("mcp_message", 4, req=1, direction="server", rpc_id="3", tool="q",
                     body='{"jsonrpc":"2.0","id":3,"result":{"content":[]}}', raw_body=sealed,
                     decision="allow", documents=["7"]),
        audit_record("mcp_message", 5, direction="server", rpc_method="sampling/createMessage",
                     rpc_id="s-1", body="{}", decision="deny", rule="r2", reason="no"),
        audit_record("session_end", 6, reason="client-closed", statements=1, rows=0),
    ]
    yield "mcp_records", b"\x01" + b"\n".join(mcp)


def write(kind, seeds):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("frontend", frontend_seeds())
    write("backend", backend_seeds())
    write("audit", audit_seeds())
