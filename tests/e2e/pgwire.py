"""A minimal raw PostgreSQL wire client for sending malformed or unusual packets."""
import socket
import ssl
import struct


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def tls_connect(port):
    """A raw socket to a gateway after SSLRequest, wrapped in TLS (certificate unchecked)."""
    sock = connect(port)
    sock.sendall(struct.pack("!II", 8, 80877103))
    assert sock.recv(1) == b"S"
    return ssl._create_unverified_context().wrap_socket(sock)


def cancel_request(port, process_id, secret_key):
    """Sends a CancelRequest (unencrypted, as libpq does without SSL) and waits for the close."""
    sock = connect(port)
    try:
        sock.sendall(struct.pack("!IIii", 16, 80877102, process_id, secret_key))
        sock.recv(1)
    finally:
        sock.close()


def backend_key(messages):
    """(process id, secret key) of the BackendKeyData among login messages."""
    for kind, payload in messages:
        if kind == b"K":
            return struct.unpack("!ii", payload[:8])
    raise AssertionError(f"no BackendKeyData in {messages}")


def startup_packet(params, version=196608):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def message(type_byte, payload=b""):
    return type_byte + struct.pack("!I", len(payload) + 4) + payload


def read_messages(sock, until=None, limit=50):
    """Reads typed messages until one whose type is in `until` (or the socket closes)."""
    out = []
    buf = b""
    while len(out) < limit:
        while len(buf) >= 5 and len(buf) >= 1 + struct.unpack("!I", buf[1:5])[0]:
            n = struct.unpack("!I", buf[1:5])[0]
            out.append((buf[:1], buf[5:1 + n]))
            buf = buf[1 + n:]
            if until and out[-1][0] in until:
                return out
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
    return out


def error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def password_login(sock, params, password):
    sock.sendall(startup_packet(params))
    msgs = read_messages(sock, until={b"R", b"E"})
    assert msgs and msgs[-1][0] == b"R", msgs
    sock.sendall(message(b"p", password.encode() + b"\0"))
    return read_messages(sock, until={b"Z", b"E"})


# Extended protocol messages. SQL text is bytes: the caller chooses its encoding.

def query(sql):
    return message(b"Q", sql + b"\0")


def parse(name, sql):
    return message(b"P", name.encode() + b"\0" + sql + b"\0" + struct.pack("!h", 0))


def bind(statement, portal=""):
    return message(b"B", portal.encode() + b"\0" + statement.encode() + b"\0" +
                   struct.pack("!hhh", 0, 0, 0))


def execute(portal="", max_rows=0):
    return message(b"E", portal.encode() + b"\0" + struct.pack("!i", max_rows))


def sync():
    return message(b"S")
