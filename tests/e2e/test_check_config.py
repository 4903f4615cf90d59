"""`jitgate check-config` reports what would break later, through the real binary: a policy
naming a resource that does not exist, a role the resource does not map, a scalar where a list is
required, a store directory that is missing or not writable, settings accepted without effect and
unknown keys (with a suggestion). Each case: the message and exit status 1; a good file: 0.
And on SIGHUP, settings that need a restart are named in a warning and counted."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from harness import JITGATE, Gateway

GOOD = """listen: { postgres: 127.0.0.1:16432 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_file: secret } }
resources:
  - name: kb
    upstream: { host: 127.0.0.1, database: kb, user: app, sslmode: disable, password_file: secret }
  - name: minted
    upstream: { host: 127.0.0.1, database: kb, sslmode: disable }
    admin: { user: jg_admin, password_file: secret }
    roles: { reader: kb_reader, writer: kb_writer }
policies:
  - id: read
    match: { resource: kb, tables: [public.*] }
    allow: [select]
    catalog: true
  - id: minted-read
    match: { resource: minted }
    allow: [select]
    role: reader
"""


def check(tmp_path, text, *extra):
    (tmp_path / "secret").write_text("pw\n")
    os.chmod(tmp_path / "secret", 0o600)
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(text)
    r = subprocess.run([str(JITGATE), "check-config", str(cfg), *extra], capture_output=True,
                       text=True, timeout=30)
    return r


def test_good_file_passes(tmp_path):
    r = check(tmp_path, GOOD)
    assert r.returncode == 0, r.stderr
    assert "ok (2 resources)" in r.stdout
    assert r.stderr == ""


def test_policy_naming_a_missing_resource(tmp_path):
    r = check(tmp_path, GOOD.replace("{ resource: kb, tables", "{ resource: kbb, tables"))
    assert r.returncode == 1
    assert ("gw.yaml:12: policies[read].match.resource: no resource is named 'kbb'; did you mean "
            "'kb'? (resources: kb, minted); the rule never applies") in r.stderr


def test_role_the_resource_does_not_map(tmp_path):
    r = check(tmp_path, GOOD.replace("role: reader", "role: auditor"))
    assert r.returncode == 1
    assert ("policies[minted-read].role: resource 'minted' maps no role 'auditor' "
            "(roles: reader, writer)") in r.stderr


def test_scalar_where_a_list_is_required(tmp_path):
    r = check(tmp_path, GOOD.replace("allow: [select]\n    catalog", "allow: select\n    catalog"))
    assert r.returncode == 1
    assert "gw.yaml:14: policies[0].allow: expected a list: write [select], not a single value" \
        in r.stderr


def test_store_directory_that_does_not_exist(tmp_path):
    r = check(tmp_path, GOOD + "store: sqlite://missing/state.db\n")
    assert r.returncode == 1
    assert f"store: the directory {tmp_path}/missing does not exist" in r.stderr


def test_store_directory_that_is_not_writable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    # A read-only file system: not writable even by root (permission bits do not stop root).
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        r = check(tmp_path, GOOD + "store: sqlite://ro/state.db\n")
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert r.returncode == 1
    assert f"store: the directory {ro} is not writable by this user" in r.stderr


@pytest.mark.parametrize("old,new,message", [
    ("allow: [select]\n    role: reader", "action: deny\n    role: reader",
     "policies[1].role: has no effect on a deny rule"),
    ("match: { resource: kb, tables: [public.*] }", "match: { resource: kb }",
     "policies[0].catalog: has no effect: the rule names no tables or columns"),
])
def test_settings_accepted_without_effect(tmp_path, old, new, message):
    r = check(tmp_path, GOOD.replace(old, new))
    assert r.returncode == 1
    assert message in r.stderr


def test_unknown_key_names_its_path_and_the_close_known_key(tmp_path):
    r = check(tmp_path, GOOD.replace("catalog: true", "catalgo: true"))
    assert r.returncode == 1
    assert "gw.yaml:15: policies[0].catalgo: unknown key; did you mean 'catalog'?" in r.stderr


def test_json_output_lists_the_warnings(tmp_path):
    r = check(tmp_path, GOOD.replace("role: reader", "role: auditor"), "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False
    assert any("maps no role 'auditor'" in w for w in out["warnings"])


def metrics(gw):
    with urllib.request.urlopen(gw.admin_url + "/metrics", timeout=10) as res:
        text = res.read().decode()
    return {line.split()[0]: int(float(line.split()[1])) for line in text.splitlines()
            if line and not line.startswith("#")}


def wait_for(cond, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_sighup_names_the_settings_that_need_a_restart(pg):
    gw = Gateway(pg, tls=False, admin=True).start()
    try:
        assert metrics(gw)["jitgate_config_reload_restart_settings_total"] == 0
        text = gw.config.read_text().replace("threads: 2", "threads: 3")
        gw.config.write_text(text + f"instance: jg-test-{gw.port}\n")
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: metrics(gw)["jitgate_config_reloads_total"] == 1)
        assert wait_for(lambda: "take effect only on restart" in gw.log_text())
        line = next(l for l in gw.log_text().splitlines() if "only on restart" in l)
        assert "threads, instance changed" in line
        assert metrics(gw)["jitgate_config_reload_restart_settings_total"] == 2
    finally:
        gw.cleanup()


def online_config(pg, column):
    return f"""tls: {{ require_client_tls: false, allow_plaintext_loopback: true }}
auth: {{ static: {{ enable_insecure_static: true, password_file: secret }} }}
resources:
  - name: kb
    upstream: {{ host: 127.0.0.1, port: {pg.port}, database: kb, user: app, sslmode: require,
                password_file: upstream }}
policies:
  - id: read-docs
    match: {{ resource: kb, tables: [public.documents], columns: [public.documents.{column}] }}
    allow: [select]
masking:
  columns: [{{ table: public.customers, column: email, strategy: redact }}]
"""


def test_online_check_finds_a_misspelt_column_on_the_upstream(pg, tmp_path):
    (tmp_path / "upstream").write_text(pg.APP_PASSWORD + "\n")
    os.chmod(tmp_path / "upstream", 0o600)
    good = check(tmp_path, online_config(pg, "title"), "--online")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "  ok    table public.documents (policies[read-docs]" in good.stdout
    assert "  ok    column public.documents.title (policies[read-docs]" in good.stdout
    assert "  ok    column public.customers.email (masking.columns)" in good.stdout

    bad = check(tmp_path, online_config(pg, "titel"), "--online")
    assert bad.returncode == 1
    assert ("  FAIL  column public.documents.titel named by policies[read-docs] "
            f"({tmp_path}/gw.yaml:8) does not exist") in bad.stdout
    assert "1 online check(s) failed" in bad.stderr
    # Offline, the same file passes: only the upstream knows its columns.
    assert check(tmp_path, online_config(pg, "titel")).returncode == 0
