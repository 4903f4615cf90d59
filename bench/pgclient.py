"""A small PostgreSQL wire-protocol client for the benchmarks (blocking and asyncio).

Why not libpq: the large-result benchmark must not be client-bound (psycopg materialises every
cell as a Python object; libpq's PQgetResult buffers the whole result), and the many-clients
benchmark holds thousands of idle sessions from one process. This client only frames messages,
so a 1 GB result costs the client little more than TLS decryption.

Supports SSLRequest + TLS (no certificate verification: loopback benchmark peers), and
cleartext, MD5 and SCRAM-SHA-256 password authentication (the gateway takes the password, or an
OIDC token, in cleartext over TLS; PostgreSQL and pgbouncer use SCRAM).
"""
import asyncio
import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import time

_SSL_REQUEST = struct.pack("!II", 8, 80877103)
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE


class PgError(RuntimeError):
    pass


def _startup(user, database):
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", database), ("client_encoding", "UTF8")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def _msg(kind, payload):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _error_text(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return f"{fields.get('C', '?')}: {fields.get('M', '?')}"


class _Auth:
    """Sans-I/O authentication exchange: feed server messages, get the bytes to send back."""

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.done = False

    def on_message(self, kind, payload):
        """Returns bytes to send (possibly b"") or raises PgError; sets done at ReadyForQuery."""
        if kind == b"E":
            raise PgError(_error_text(payload))
        if kind == b"Z":
            self.done = True
            return b""
        if kind != b"R":
            return b""  # ParameterStatus, BackendKeyData, NoticeResponse
        code = struct.unpack_from("!I", payload)[0]
        if code == 0 or code == 12:  # AuthenticationOk, SASLFinal
            return b""
        if code == 3:
            return _msg(b"p", self.password.encode() + b"\0")
        if code == 5:
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
            return _msg(b"p", b"md5" + outer.encode() + b"\0")
        if code == 10:
            first = ("n,," + self.first_bare).encode()
            return _msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
        if code == 11:
            return _msg(b"p", self._scram_final(payload[4:].decode()))
        raise PgError(f"unsupported authentication request {code}")

    def _scram_final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                     base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


def _split(buf):
    """Yields (kind, payload) for every complete message in buf; returns the leftover."""
    out, pos = [], 0
    while len(buf) - pos >= 5:
        n = struct.unpack_from("!I", buf, pos + 1)[0]
        if len(buf) - pos < 1 + n:
            break
        out.append((bytes(buf[pos:pos + 1]), bytes(buf[pos + 5:pos + 1 + n])))
        pos += 1 + n
    return out, buf[pos:]


class Connection:
    """A blocking connection; `connect()` returns once the server sent ReadyForQuery."""

    def __init__(self, port, user, password, database, tls=True, host="127.0.0.1"):
        self.port, self.user, self.password, self.database = port, user, password, database
        self.tls, self.host = tls, host
        self.sock = None

    def connect(self, timeout=30):
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            sock.sendall(_SSL_REQUEST)
            if sock.recv(1) != b"S":
                raise PgError("server refused TLS")
            sock = _TLS.wrap_socket(sock)
        self.sock = sock
        sock.sendall(_startup(self.user, self.database))
        auth, buf = _Auth(self.user, self.password), b""
        while not auth.done:
            chunk = sock.recv(65536)
            if not chunk:
                raise PgError("connection closed during startup")
            msgs, buf = _split(buf + chunk)
            for kind, payload in msgs:
                reply = auth.on_message(kind, payload)
                if reply:
                    sock.sendall(reply)
        return self

    def stream(self, sql):
        """Runs one simple query; returns (rows, data_row_bytes). The rows are not decoded."""
        self.sock.sendall(_msg(b"Q", sql.encode() + b"\0"))
        rows = nbytes = 0
        tail = b""
        error = None
        buf = bytearray(1 << 18)
        view = memoryview(buf)
        while True:
            n = self.sock.recv_into(buf)
            if n == 0:
                raise PgError("connection closed during the query")
            data = tail + view[:n] if tail else view[:n]
            pos, end = 0, len(data)
            while end - pos >= 5:
                length = struct.unpack_from("!I", data, pos + 1)[0]
                if end - pos < 1 + length:
                    break
                kind = data[pos]
                if kind == 0x44:  # 'D' DataRow
                    rows += 1
                    nbytes += length - 4
                elif kind == 0x45:  # 'E'
                    error = _error_text(bytes(data[pos + 5:pos + 1 + length]))
                elif kind == 0x5A:  # 'Z'
                    if error:
                        raise PgError(error)
                    return rows, nbytes
                pos += 1 + length
            tail = bytes(data[pos:])

    def close(self):
        if self.sock:
            try:
                self.sock.sendall(_msg(b"X", b""))
            except OSError:
                pass
            self.sock.close()
            self.sock = None


def connect_time(port, user, password, database, tls=True):
    """Seconds from TCP connect to ReadyForQuery (then the connection is closed)."""
    start = time.perf_counter()
    conn = Connection(port, user, password, database, tls).connect()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


async def open_async(port, user, password, database, tls=True, host="127.0.0.1"):
    """An asyncio session left idle after ReadyForQuery; returns (reader, writer)."""
    reader, writer = await asyncio.open_connection(host, port)
    if tls:
        writer.write(_SSL_REQUEST)
        if await reader.readexactly(1) != b"S":
            raise PgError("server refused TLS")
        await writer.start_tls(_TLS)
    writer.write(_startup(user, database))
    auth, buf = _Auth(user, password), b""
    while not auth.done:
        chunk = await reader.read(65536)
        if not chunk:
            raise PgError("connection closed during startup")
        msgs, buf = _split(buf + chunk)
        for kind, payload in msgs:
            reply = auth.on_message(kind, payload)
            if reply:
                writer.write(reply)
    return reader, writer


async def query_async(reader, writer, sql):
    """Runs one simple query on an open asyncio session; returns the number of DataRows."""
    writer.write(_msg(b"Q", sql.encode() + b"\0"))
    buf, rows = b"", 0
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            raise PgError("connection closed during the query")
        msgs, buf = _split(buf + chunk)
        for kind, payload in msgs:
            if kind == b"D":
                rows += 1
            elif kind == b"E":
                raise PgError(_error_text(payload))
            elif kind == b"Z":
                return rows
