"""Bad input at every stage gets a clear error, and the gateway keeps serving."""
import struct
import subprocess

import psycopg
import pytest

import pgwire
from harness import Gateway


@pytest.fixture(scope="module")
def plain_gw(pg):
    """A gateway without TLS on loopback (plaintext passwords allowed there for these tests)."""
    gw = Gateway(pg, tls=False).start()
    yield gw
    gw.cleanup()


def still_serving(gw):
    with psycopg.connect(gw.dsn()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def fatal_of(msgs):
    errs = [pgwire.error_fields(p) for t, p in msgs if t == b"E"]
    assert errs, msgs
    return errs[-1]


def test_wrong_password(gateway):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gateway.dsn(password="wrong"))
    assert 'password authentication failed for user "alice"' in str(e.value)
    still_serving(gateway)


def test_unknown_resource(gateway):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gateway.dsn(db="nope"))
    assert 'resource "nope" is not configured' in str(e.value)


def test_plaintext_refused_when_tls_required(gateway):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(gateway.dsn(sslmode="disable"))
    assert "requires TLS" in str(e.value)


def test_unsupported_protocol_version(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(pgwire.startup_packet({"user": "alice", "database": "kb"}, version=(2 << 16)))
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "0A000" and "unsupported frontend protocol 2.0" in f["M"]
    still_serving(plain_gw)


def test_newer_minor_version_is_negotiated(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(pgwire.startup_packet({"user": "alice", "database": "kb", "_pq_.future": "1"},
                                    version=(3 << 16) | 2))
    msgs = pgwire.read_messages(s, until={b"R"})
    assert msgs[0][0] == b"v"
    newest, count = struct.unpack("!II", msgs[0][1][:8])
    assert newest == 0 and count == 1 and b"_pq_.future" in msgs[0][1]
    assert msgs[-1][0] == b"R"


def test_replication_refused(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(pgwire.startup_packet({"user": "alice", "database": "kb",
                                     "replication": "database"}))
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "0A000" and "replication" in f["M"]


def test_options_parameter_refused(plain_gw):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(plain_gw.dsn(options="-c role=postgres"))
    assert 'startup parameter "options" is not allowed' in str(e.value)


def test_oversized_startup_packet(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(struct.pack("!I", 1_000_000) + b"\0" * 100)
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "08P01" and "exceeds the limit" in f["M"]
    still_serving(plain_gw)


def test_garbage_startup(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    msgs = pgwire.read_messages(s)
    assert msgs == [] or fatal_of(msgs)["C"] == "08P01"
    still_serving(plain_gw)


def test_gssenc_request_answered_n(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(struct.pack("!II", 8, 80877104))
    assert s.recv(1) == b"N"
    msgs = pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                 Gateway.CLIENT_PASSWORD)
    assert msgs[-1][0] == b"Z"


def test_ssl_request_answered_n_without_tls(plain_gw):
    s = pgwire.connect(plain_gw.port)
    s.sendall(struct.pack("!II", 8, 80877103))
    assert s.recv(1) == b"N"


def logged_in(gw):
    s = pgwire.connect(gw.port)
    msgs = pgwire.password_login(s, {"user": "alice", "database": "kb"}, Gateway.CLIENT_PASSWORD)
    assert msgs[-1][0] == b"Z", msgs
    return s


def test_unknown_message_type_ends_session(plain_gw):
    s = logged_in(plain_gw)
    s.sendall(pgwire.message(b"z", b"whatever"))
    f = fatal_of(pgwire.read_messages(s))
    assert f["S"] == "FATAL" and f["C"] == "08P01" and "unexpected message type 'z'" in f["M"]
    still_serving(plain_gw)


def test_malformed_bind_ends_session(plain_gw):
    s = logged_in(plain_gw)
    # Bind claiming 1000 parameters but carrying none.
    s.sendall(pgwire.message(b"B", b"\0\0" + struct.pack("!hh", 0, 1000)))
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "08P01" and "malformed Bind" in f["M"]


def test_invalid_length_ends_session(plain_gw):
    s = logged_in(plain_gw)
    s.sendall(b"Q" + struct.pack("!I", 2))
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "08P01" and "invalid message length" in f["M"]


def test_password_message_after_login_is_refused(plain_gw):
    s = logged_in(plain_gw)
    s.sendall(pgwire.message(b"p", b"again\0"))
    f = fatal_of(pgwire.read_messages(s))
    assert f["C"] == "08P01"
    still_serving(plain_gw)


def test_random_bytes_after_login(plain_gw):
    import random
    rng = random.Random(7)
    for _ in range(20):
        s = logged_in(plain_gw)
        s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        s.close()
    still_serving(plain_gw)


def test_check_config_names_file_line_and_key(tmp_path):
    from harness import JITGATE
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("listen: { postgres: 127.0.0.1:notaport }\n"
                   "tls: { require_client_tls: false }\n"
                   "resources:\n  - name: kb\n    upstream: { port: 99999 }\n")
    r = subprocess.run([str(JITGATE), "check-config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{cfg}:1: listen.postgres: invalid port" in r.stderr
    assert f"{cfg}:5: resources[0].upstream.port: expected an integer between 1 and 65535" in r.stderr
    assert f"{cfg}:5: resources[0].upstream.user: required" in r.stderr


def test_cli_version_and_help():
    from harness import JITGATE
    r = subprocess.run([str(JITGATE), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("jitgate ")
    for cmd in (["--help"], ["serve", "--help"], ["check-config", "--help"]):
        r = subprocess.run([str(JITGATE), *cmd], capture_output=True, text=True)
        assert r.returncode == 0 and "Usage" in r.stdout, cmd


def test_sqlstates_on_the_wire(plain_gw):
    s = pgwire.connect(plain_gw.port)
    f = fatal_of(pgwire.password_login(s, {"user": "alice", "database": "kb"}, "wrong"))
    assert (f["S"], f["C"]) == ("FATAL", "28P01")
    s = pgwire.connect(plain_gw.port)
    s.sendall(pgwire.startup_packet({"user": "alice", "database": "nope"}))
    assert fatal_of(pgwire.read_messages(s))["C"] == "3D000"
    s = pgwire.connect(plain_gw.port)
    s.sendall(pgwire.startup_packet({"database": "kb"}))
    assert fatal_of(pgwire.read_messages(s))["C"] == "28000"


def test_announced_message_lengths_do_not_pin_memory(plain_gw):
    """100 sessions each announce a 250 MB message and send five bytes of it: memory follows the
    bytes that arrived, not the announced lengths (a resource bound measured from /proc)."""
    before = plain_gw.rss_kb()
    socks = []
    try:
        for _ in range(100):
            s = pgwire.connect(plain_gw.port)
            msgs = pgwire.password_login(s, {"user": "alice", "database": "kb"},
                                         Gateway.CLIENT_PASSWORD)
            assert msgs[-1][0] == b"Z", msgs
            s.sendall(b"Q" + struct.pack("!I", 250 << 20) + b"selec")
            socks.append(s)
        import time
        time.sleep(1.0)
        grown_mb = (plain_gw.rss_kb() - before) / 1024
        # 100 idle sessions with their upstream connections cost a few MB; 250 MB each would be
        # 25 GB. 200 MB is a generous bound that still proves no announced length was allocated.
        assert grown_mb < 200, f"RSS grew by {grown_mb:.0f} MB"
    finally:
        for s in socks:
            s.close()
    still_serving(plain_gw)


def test_relative_paths_resolve_beside_the_configuration_file(tmp_path):
    """Every relative path resolves against the configuration file's directory, whatever the
    working directory; check-config prints them resolved."""
    import os
    from harness import JITGATE
    conf = tmp_path / "conf"
    (conf / "secrets").mkdir(parents=True)
    (conf / "state").mkdir()  # the store's directory must exist (check-config reports it)
    (conf / "secrets" / "mask.key").write_bytes(os.urandom(32))
    (conf / "secrets" / "upstream").write_text("pw\n")
    os.chmod(conf / "secrets" / "mask.key", 0o600)
    os.chmod(conf / "secrets" / "upstream", 0o600)
    cfg = conf / "gateway.yaml"
    (conf / "secrets" / "client").write_text("dev-password\n")
    os.chmod(conf / "secrets" / "client", 0o600)
    cfg.write_text("tls: { require_client_tls: false, allow_plaintext_loopback: true }\n"
                   "auth: { static: { enable_insecure_static: true, "
                   "password_file: secrets/client } }\n"
                   "store: sqlite://state/state.db\n"
                   "masking: { key_file: secrets/mask.key, columns: "
                   "[{ table: public.t, column: c, strategy: tokenize }] }\n"
                   "resources:\n  - name: kb\n    upstream: { user: app, "
                   "password_file: secrets/upstream }\n"
                   "policies:\n  - { id: all, match: {}, allow: [all] }\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([str(JITGATE), "check-config", str(cfg)], capture_output=True, text=True,
                       cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert f"masking.key_file: {conf}/secrets/mask.key" in r.stdout, r.stdout
    assert f"store: sqlite://{conf}/state/state.db" in r.stdout, r.stdout


def test_example_configuration_checks_from_any_directory(tmp_path):
    from harness import JITGATE, ROOT
    r = subprocess.run([str(JITGATE), "check-config", str(ROOT / "examples" / "gateway.yaml")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"audit.signing_key_file: {ROOT}/examples/secrets/audit-signing.pem" in r.stdout
