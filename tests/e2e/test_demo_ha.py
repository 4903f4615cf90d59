"""`make demo-ha` (scripts/demo_ha.py) end to end: two replicas on a PostgreSQL store behind a
real HAProxy, its own PostgreSQL and OIDC provider. The script checks each step itself and exits
non-zero when one does not happen; this test also reads the story back from its output."""
import os
import re
import subprocess
import sys

from harness import ROOT


def test_make_demo_ha_runs_the_story_on_two_replicas_behind_haproxy():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_ha.py")], cwd=ROOT,
                       capture_output=True, text=True, timeout=240, env=dict(os.environ))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    spread = re.search(r"sessions per replica: a=(\d+), b=(\d+)", out)
    assert spread and int(spread.group(1)) > 0 and int(spread.group(2)) > 0, out
    assert re.search(r"owner=tok_", out), out  # the search through HAProxy's HTTP mode, masked
    assert "requested on replica a (still held: True)" in out, out
    assert re.search(r"email +tok_", out), out  # the held lookup ran, masked
    assert "FATAL 57P01 access grant" in out and "audit week is over" in out, out
    assert "57014 canceling statement due to user request" in out, out
    assert "relayed by another replica" in out, out
    per_replica = re.search(r"statements per replica: a \(\S+\)=(\d+), b \(\S+\)=(\d+)", out)
    assert per_replica and all(int(n) > 0 for n in per_replica.groups()), out
    # verify on a's host alone: b's chain is reported, as not checked, and the exit code is 1.
    assert "NOT CHECKED" in out and "exit code 1" in out, out
    assert out.count(": intact, segments") >= 3, out  # a alone, then a and b together
    assert out.rstrip().endswith("stopped and removed."), out
