"""pgbench initialises and runs select-only in all three query modes through the gateway."""
import subprocess

import pytest

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


@pytest.fixture(scope="module")
def bench_db(pg, gateway):
    pg.create_db("bench")
    from harness import Gateway
    gw = Gateway(pg, resources=[{"name": "bench"}]).start()
    env = gw.env("bench")
    r = subprocess.run([PGBENCH, "-i", "-s", "2", "-q"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    yield gw, env
    gw.cleanup()


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_select_only(bench_db, mode):
    gw, env = bench_db
    r = subprocess.run([PGBENCH, "-S", "-n", "-M", mode, "-c", "4", "-j", "2", "-T", "3"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "number of failed transactions: 0" in r.stdout
    tps = [l for l in r.stdout.splitlines() if l.startswith("tps")]
    assert tps, r.stdout
    print(mode, tps[0])


def test_tpcb_like_writes(bench_db):
    gw, env = bench_db
    r = subprocess.run([PGBENCH, "-n", "-M", "extended", "-c", "2", "-t", "200"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "number of failed transactions: 0" in r.stdout
