"""`jitgate token inspect` through the real binary against a real OIDC provider (oidc-provider)."""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from oidc_provider import OidcProvider  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
JITGATE = Path(os.environ.get("JITGATE_BIN", ROOT / "build" / "jitgate"))


def write_config(tmp_path, text, name="gateway.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def inspect(config, token, *args, stdin=False):
    cmd = [str(JITGATE), "token", "inspect", "--config", str(config), *args]
    if not stdin:
        cmd.append(token)
    res = subprocess.run(cmd, input=token if stdin else None, capture_output=True, text=True,
                         timeout=30)
    assert token not in res.stdout + res.stderr, "the token must never be printed"
    return res


def header(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def inspect_json(config, token):
    res = inspect(config, token, "--json")
    return res.returncode, json.loads(res.stdout), res.stderr


def test_client_credentials_token_yields_a_service_account_with_groups(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    token = idp.token(client="rag-pipeline", groups=["rag", "kb-readers"], email="rag@svc.example")
    assert OidcProvider.claims(token)["aud"] == OidcProvider.AUDIENCE
    rc, out, _ = inspect_json(config, token)
    assert rc == 0
    assert out["accepted"] is True
    assert out["issuer"] == idp.issuer
    assert out["subject"] == "rag-pipeline"
    assert out["client_id"] == "rag-pipeline"
    assert out["service_account"] is True
    assert out["groups"] == ["rag", "kb-readers"]
    assert out["email"] == "rag@svc.example"
    assert out["scopes"] == ["db.read"]


def test_user_token_yields_a_person_and_reads_the_token_from_stdin(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    token = idp.token(user="alice", groups=["analysts"], email="alice@example.com",
                      name="Alice Liddell")
    res = inspect(config, token + "\n", stdin=True)
    assert res.returncode == 0, res.stderr
    assert "token accepted" in res.stdout
    assert "subject:  alice" in res.stdout
    assert "kind:     person (client test-login)" in res.stdout
    assert "groups:   analysts" in res.stdout
    assert "name:     Alice Liddell" in res.stdout
    assert "signed:   RS256 kid=" in res.stdout


def test_required_scope_is_enforced(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml(
        issuer_extra={"required_scopes": ["db.write"]}))
    token = idp.token(client="reader", groups=["rag"])
    rc, out, err = inspect_json(config, token)
    assert rc == 1
    assert "token lacks the required scope db.write" in err
    assert out == {"accepted": False, "error": "token lacks the required scope db.write",
                   "sqlstate": "28000"}


def test_wrong_audience_is_refused(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    token = idp.token(client="rag-pipeline", groups=["rag"], audience="https://reports.example/")
    res = inspect(config, token)
    assert res.returncode == 1
    assert ("token refused: audience mismatch: expected https://jitgate.local/, token is for "
            "https://reports.example/") in res.stderr


def test_unknown_issuer_is_refused(idp, tmp_path):
    config = write_config(tmp_path, 'identity: {issuers: [{issuer: "https://idp.example", '
                                    'audiences: ["https://jitgate.local/"]}]}\n')
    res = inspect(config, idp.token(client="rag-pipeline"))
    assert res.returncode == 1
    assert f"token refused: unknown issuer {idp.issuer}" in res.stderr


def test_expired_token_is_refused_with_its_expiry(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml(clock_skew="0s"))
    token = idp.token(user="bob", groups=["rag"], ttl=1)
    exp = OidcProvider.claims(token)["exp"]
    time.sleep(max(0.0, exp - time.time()) + 1.2)
    res = inspect(config, token)
    assert res.returncode == 1
    expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
    assert f"token refused: token expired at {expected}" in res.stderr


def test_tampered_token_is_refused(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    token = idp.token(client="rag-pipeline", groups=["rag"])
    head, _, sig = token.split(".")
    claims = OidcProvider.claims(token)
    claims["groups"] = ["admins"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    res = inspect(config, f"{head}.{forged}.{sig}")
    assert res.returncode == 1
    assert "signature verification failed (RS256" in res.stderr


def test_key_rotation_new_tokens_verify_from_fresh_discovery(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    old_token = idp.token(client="rag-pipeline", groups=["rag"])
    old_kid = idp.kids()[0]
    kids = idp.rotate_keys(keep_old=True)
    assert kids[1] == old_kid
    new_token = idp.token(client="rag-pipeline", groups=["rag"])
    assert header(new_token)["kid"] == kids[0]
    assert inspect(config, new_token).returncode == 0
    assert inspect(config, old_token).returncode == 0  # still published
    idp.rotate_keys(keep_old=False)
    res = inspect(config, old_token)
    assert res.returncode == 1
    assert f"signing key kid={old_kid} not found at {idp.issuer}/jwks" in res.stderr


def test_provider_down_without_cached_keys_is_reported(tmp_path):
    with OidcProvider() as idp:
        config = write_config(tmp_path, idp.identity_yaml(http_timeout="2s"))
        token = idp.token(client="rag-pipeline", groups=["rag"])
        idp.stop()
        res = inspect(config, token)
    assert res.returncode == 1
    assert (f"cannot obtain the signing keys of {idp.issuer}: cannot connect to "
            f"{idp.issuer}/.well-known/openid-configuration") in res.stderr


def test_provider_down_cached_keys_keep_working_until_stale(tmp_path):
    cache = tmp_path / "jwks-cache"
    with OidcProvider() as idp:
        fresh = write_config(tmp_path, idp.identity_yaml(jwks_cache_dir=str(cache)), "a.yaml")
        strict = write_config(tmp_path, idp.identity_yaml(
            jwks_cache_dir=str(cache), jwks_max_staleness="1s", jwks_refresh="1s"), "b.yaml")
        token = idp.token(client="rag-pipeline", groups=["rag"])
        assert inspect(fresh, token).returncode == 0  # fetches and writes the key cache
        files = list(cache.iterdir())
        assert len(files) == 1 and (files[0].stat().st_mode & 0o777) == 0o600
        idp.stop()
        res = inspect(fresh, token)
        assert res.returncode == 0, res.stderr  # provider down: keys from the cache
        time.sleep(2.1)
        res = inspect(strict, token)
        assert res.returncode == 1
        assert f"the signing keys of {idp.issuer} are stale" in res.stderr
        assert "cannot connect to" in res.stderr
        idp.start()  # same port, same keys: the stale cache is refreshed
        assert inspect(strict, token).returncode == 0


def test_jwks_file_verifies_without_the_provider(tmp_path):
    with OidcProvider() as idp:
        with urllib.request.urlopen(idp.issuer + "/jwks", timeout=10) as res:
            (tmp_path / "jwks.json").write_bytes(res.read())
        config = write_config(tmp_path, idp.identity_yaml(
            issuer_extra={"jwks_file": str(tmp_path / "jwks.json")}))
        token = idp.token(client="rag-pipeline", groups=["rag"])
        idp.stop()
        rc, out, err = inspect_json(config, token)
    assert rc == 0, err
    assert out["groups"] == ["rag"]


def test_bad_configuration_exits_2_naming_the_line(tmp_path):
    config = write_config(tmp_path, "identity:\n  issuers:\n    - issuer: http://idp.example\n"
                                    "      audiences: [x]\n")
    res = inspect(config, "a.b.c")
    assert res.returncode == 2
    assert "gateway.yaml:3: identity.issuers[0]: issuer 'http://idp.example' is plain http" in \
        res.stderr


def test_malformed_tokens_are_refused_cleanly(idp, tmp_path):
    config = write_config(tmp_path, idp.identity_yaml())
    for bad in ["", "not-a-token", "a.b", "e30.e30.e30", "x" * (1024 * 1024)]:
        res = subprocess.run([str(JITGATE), "token", "inspect", "--config", str(config), "-"],
                             input=bad, capture_output=True, text=True, timeout=30)
        assert res.returncode == 1, (bad[:20], res.stderr)
        assert res.stderr.startswith("token refused: ")


def test_login_by_device_code_caches_privately_and_env_prints_libpq_settings(idp, tmp_path):
    cache = tmp_path / "login" / "token.json"
    env = dict(os.environ, JITGATE_TOKEN_CACHE=str(cache))
    idp.add_user("carol", groups=["analysts"], email="carol@example.com")
    login = subprocess.Popen(
        [str(JITGATE), "login", "--issuer", idp.issuer, "--audience", OidcProvider.AUDIENCE,
         "--gateway", "127.0.0.1:6543", "--allow-insecure-http"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        prompt = ""
        while "user_code: " not in prompt:
            line = login.stderr.readline()
            assert line, f"login ended early: {prompt}"
            prompt += line
        assert f"open {idp.issuer}/device" in prompt
        idp.approve_device(prompt.split("user_code: ")[1].split()[0], "carol")
        rest = login.stderr.read()
        assert login.wait(timeout=30) == 0, rest
    finally:
        login.kill()
    assert "Signed in; token cached in" in rest
    assert (cache.stat().st_mode & 0o777) == 0o600

    res = subprocess.run([str(JITGATE), "env", "kb"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in res.stdout.splitlines())
    assert exports["PGHOST"] == "'127.0.0.1'" and exports["PGPORT"] == "'6543'"
    assert exports["PGDATABASE"] == "'kb'" and exports["PGSSLMODE"] == "'require'"
    assert exports["PGUSER"] == "'carol@example.com'"
    token = exports["PGPASSWORD"].strip("'")

    config = write_config(tmp_path, idp.identity_yaml())
    rc, out, err = inspect_json(config, token)
    assert rc == 0, err
    assert out["subject"] == "carol" and out["service_account"] is False
    assert out["groups"] == ["analysts"]


def test_env_without_login_says_what_to_do(tmp_path):
    env = dict(os.environ, JITGATE_TOKEN_CACHE=str(tmp_path / "none.json"))
    res = subprocess.run([str(JITGATE), "env", "kb"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1
    assert "run `jitgate login` first" in res.stderr
