"""The end and the head of the audit log cannot be cut unnoticed.

A log written through the real gateway and closed by SIGTERM verifies against the checkpoint
anchored in the state store. Each way of cutting it — deleting the newest segments, truncating
the newest segment at a frame boundary, deleting the oldest segments, rewriting the records after
the last checkpoint with a recomputed chain — makes `jitgate audit verify` exit 1 and say what is
missing. A gateway refuses to start on a log that lost its anchored checkpoint."""
import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from harness import JITGATE, Gateway, make_keys

HEADER = 16


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def zstd(args, data):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()  # from a file, the frame records its content size (the format requires it)
        return subprocess.run(["zstd", "-q", "-c", *args, f.name], check=True,
                              capture_output=True).stdout


def frames(path):
    """[(offset, payload bytes)] of a segment file."""
    data = Path(path).read_bytes()
    out, off = [], HEADER
    while off + 8 <= len(data):
        n = struct.unpack("!I", data[off:off + 4])[0]
        if n == 0:
            break
        out.append((off, data[off + 8:off + 8 + n]))
        off += 8 + n
    return out


def entries(payload):
    plain, out, i = zstd(["-d"], payload), [], 0
    while i < len(plain):
        seq, n = struct.unpack("!QI", plain[i:i + 12])
        out.append([seq, plain[i + 12:i + 12 + n], plain[i + 12 + n:i + 44 + n]])
        i += 44 + n
    return out


def frame_of(items):
    plain = b"".join(struct.pack("!QI", s, len(r)) + r + h for s, r, h in items)
    payload = zstd([], plain)
    length = struct.pack("!I", len(payload))
    return length + struct.pack("!I", crc32c(length + payload)) + payload


@pytest.fixture(scope="module")
def closed_log(pg, tmp_path_factory):
    """A gateway's log over several segments, closed by SIGTERM; the gateway object (stopped)."""
    d = tmp_path_factory.mktemp("cut")
    keys = make_keys(d / "keys")
    yaml = f"""store: sqlite://{d}/state.db
audit:
  dir: {d}/log
  instance: gw-cut
  durability: strict
  segment_max_bytes: 4096
  checkpoint_every: 25
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""
    gw = Gateway(pg, tls=False, extra_yaml=yaml).start()
    gw.audit_dir = d / "log"
    for s in range(3):
        with psycopg.connect(gw.dsn(application_name=f"cut-{s}"), autocommit=True) as conn:
            for i in range(15):
                conn.execute("select doc_id, title from documents where doc_id = %s",
                             [i + 1]).fetchall()
    assert gw.stop() == 0  # SIGTERM: a closing checkpoint, anchored
    yield gw
    gw.cleanup()


def verify(gw, *args, log_dir=None):
    cmd = [str(JITGATE), "audit", "verify", "--config", str(gw.config), *args]
    if log_dir:
        cmd += ["--dir", str(log_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def copy_of(gw, tmp_path):
    dest = tmp_path / "log"
    shutil.copytree(gw.audit_dir, dest)
    segs = sorted((dest / "gw-cut").glob("*.seg"))
    assert len(segs) >= 4, segs
    return dest, segs


def test_untouched_log_after_a_clean_shutdown_verifies_against_its_anchor(closed_log):
    r = verify(closed_log, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["anchors_checked"] and not report["live"]
    inst = [i for i in report["instances"] if i["instance"] == "gw-cut"][0]
    assert inst["unsigned_tail"] == 0
    assert inst["anchored_seq"] == inst["last_seq"]  # the closing checkpoint is the anchor
    r = verify(closed_log)
    assert r.returncode == 0 and "audit log OK" in r.stdout, r.stdout + r.stderr


def test_deleting_the_newest_segments_is_detected(closed_log, tmp_path):
    log, segs = copy_of(closed_log, tmp_path)
    for seg in segs[-2:]:
        seg.unlink()
    r = verify(closed_log, log_dir=log)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "before the checkpoint anchored at seq" in r.stdout, r.stdout


def test_truncating_the_newest_segment_at_a_frame_boundary_is_detected(closed_log, tmp_path):
    log, segs = copy_of(closed_log, tmp_path)
    last = frames(segs[-1])
    assert len(last) >= 2
    with open(segs[-1], "r+b") as f:
        f.truncate(last[-1][0])  # every frame left is whole
    r = verify(closed_log, log_dir=log)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "before the checkpoint anchored at seq" in r.stdout, r.stdout


def test_deleting_the_oldest_segments_is_detected(closed_log, tmp_path):
    log, segs = copy_of(closed_log, tmp_path)
    for seg in segs[:2]:
        seg.unlink()
    r = verify(closed_log, log_dir=log)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the head of the log was deleted" in r.stdout, r.stdout


def test_a_gateway_does_not_continue_a_log_that_lost_its_anchored_checkpoint(closed_log,
                                                                            tmp_path):
    log, segs = copy_of(closed_log, tmp_path)
    segs[-1].unlink()
    shutil.rmtree(closed_log.audit_dir.parent / "moved", ignore_errors=True)
    closed_log.audit_dir.rename(closed_log.audit_dir.parent / "moved")
    shutil.copytree(log, closed_log.audit_dir)
    try:
        with pytest.raises(RuntimeError):
            closed_log.start()  # exits before listening
        assert "does not hold the checkpoint anchored" in closed_log.log_text()
    finally:
        closed_log.proc = None
        shutil.rmtree(closed_log.audit_dir)
        (closed_log.audit_dir.parent / "moved").rename(closed_log.audit_dir)


def test_rewriting_the_unsigned_tail_with_a_recomputed_chain_is_detected(pg, tmp_path):
    keys = make_keys(tmp_path / "keys")
    yaml = f"""store: sqlite://{tmp_path}/state.db
audit:
  dir: {tmp_path}/log
  instance: gw-tail
  durability: strict
  key_file: {keys}/raw.key
  signing_key_file: {keys}/sign.pem
"""
    gw = Gateway(pg, tls=False, extra_yaml=yaml).start()
    try:
        with psycopg.connect(gw.dsn(), autocommit=True) as conn:
            for i in range(5):
                conn.execute(f"select 'secret plan {i}'").fetchall()
        gw.proc.kill()  # no closing checkpoint: the newest records are not signed yet
        gw.proc.wait()
        gw.proc = None
        r = verify(gw, "--live")
        assert r.returncode == 0, r.stdout + r.stderr  # what a running gateway would show
        assert "not yet covered by a checkpoint" in r.stdout

        # Rewrite the newest recorded result, then recompute every later hash and each CRC.
        seg = sorted((tmp_path / "log" / "gw-tail").glob("*.seg"))[-1]
        found = frames(seg)
        decoded = [entries(payload) for _, payload in found]
        f = max(i for i, items in enumerate(decoded) if any(b"secret plan" in r for _, r, _ in items))
        k = max(i for i, (_, rec, _) in enumerate(decoded[f]) if b"secret plan" in rec)
        decoded[f][k][1] = decoded[f][k][1].replace(b"secret plan", b"public plan")
        prev = decoded[f][k - 1][2] if k > 0 else decoded[f - 1][-1][2]
        for items in decoded[f:]:
            for item in items[k:] if items is decoded[f] else items:
                item[2] = hashlib.sha256(prev + struct.pack("!Q", item[0]) + item[1]).digest()
                prev = item[2]
        data = seg.read_bytes()
        seg.write_bytes(data[:found[f][0]] + b"".join(frame_of(items) for items in decoded[f:]))

        r = verify(gw)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "not covered by a signed checkpoint" in r.stdout, r.stdout
    finally:
        gw.cleanup()
