"""docs/quickstart.md, run as written, so that it cannot silently rot.

The test reads the quickstart's code blocks in order and runs them: shell blocks (``` without a
language, ```sh, ```bash) command by command in one shell state (working directory and exported
variables carry over, as in a terminal), YAML blocks merged into the configuration file the text
names. Lines of `# ...` right after a command are its expected output and are checked. `jitgate
serve` is started in the background; after each configuration change it is sent SIGHUP where the
text says a reload picks the change up (RELOADS), and restarted otherwise.

Everything runs in a temporary directory with HOME pointing into it. The few places where the
test cannot use the text as written are listed below, each with its reason: SUBSTITUTIONS (the
system PostgreSQL cluster, fixed ports, the example identity provider), SKIPPED commands (only
`make build`), the person who enters `jitgate login`'s code (LOGIN_AS), ids the gateway creates
(FOUND_IDS), steps the text describes in words (PROSE, HOOKS, OUTPUT_CHECKS) and the YAML key the
text says to remove. Everything else is run verbatim; a step that fails as written fails the test.

    JITGATE_BIN=build/jitgate /usr/bin/python3 -m pytest -q tests/e2e/test_quickstart.py
"""
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from harness import JITGATE, PG_BIN, PgServer, free_port, wait_port  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"

# (text in the doc, replacement, why). Placeholders in braces are filled by the test. Every
# entry must still match the doc, so a changed quickstart shows up here.
SUBSTITUTIONS = [
    # The harness's own PostgreSQL server is already running; nothing to start.
    ("pg_ctlcluster 15 main start", "true"),
    # The superuser of the harness server is `postgres` over its own Unix socket, not the
    # system cluster reached through `runuser`.
    ("runuser -u postgres -- psql", "psql -h {pg_dir} -p {pg_port} -U postgres"),
    ("runuser -u postgres -- createdb", "createdb -h {pg_dir} -p {pg_port} -U postgres"),
    # The harness server listens on a free port, not on 5432.
    ('psql "host=127.0.0.1 dbname=kb user=app"',
     'psql "host=127.0.0.1 port={pg_port} dbname=kb user=app"'),
    ("port: 5432", "port: {pg_port}"),
    # The gateway's listeners use free ports (other tests run alongside), not 6432 and 8080.
    ("127.0.0.1:6432", "127.0.0.1:{gw_port}"),
    ("port=6432", "port={gw_port}"),
    ("127.0.0.1:8080", "127.0.0.1:{admin_port}"),
    # The home directory is the test's temporary one, not root's.
    ("/root/jitgate-dev", "{home}/jitgate-dev"),
    # The test identity provider stands in for idp.example.com: its issuer, its audience, and
    # plain http on loopback (the text explains `allow_insecure_http` for exactly this case).
    ("https://idp.example.com/realms/corp", "{issuer}"),
    ("audiences: [jitgate]", "audiences: ['{audience}']\n      allow_insecure_http: true"),
    # `jitgate login` against that provider: its audience, and plain http as the text says.
    ("--audience jitgate", "--audience {audience} --allow-insecure-http"),
]

# Ids in the text that stand for ones the gateway creates: (text, the command that prints the
# real one, its pattern). The first id the command prints replaces the text from then on.
FOUND_IDS = [
    ("s-5iwyfc8rke", "build/jitgate audit search", r"\bs-[a-z0-9]{6,}"),
    ("r-…", "build/jitgate review list", r"\br-[a-z0-9]{6,}"),
    ("g-…", "build/jitgate review grants", r"\bg-[a-z0-9]{6,}"),
]

# `jitgate login` prints a URL and a code for a browser; the person who signs in there, per step.
LOGIN_AS = {6: ("alice", ["rag"]), 7: ("dora", ["data-owners"])}

# Commands the test does not run (matched by their start), with the reason.
SKIPPED = [
    # The binary under test is $JITGATE_BIN (linked as build/jitgate); CI builds it.
    ("make build", "the tree is built by CI; $JITGATE_BIN is the binary under test"),
]

# Steps the text describes in words: (section, start of the command they precede, commands).
PROSE = [
    # Step 6: "Check a token against the configuration": the reader has a token in token.txt.
    (6, "build/jitgate token inspect", ["printf '%s\\n' {token} > token.txt"]),
]

# What the text promises in words about a command's output: (start of the command, pattern).
OUTPUT_CHECKS = [
    ("build/jitgate audit search --config ~/jitgate-dev/gateway.yaml --document 3",
     r"allow\(rag-read\) +rows=1 +select chunk_id, body from chunks where doc_id = 3"),
    ("build/jitgate audit search --config ~/jitgate-dev/gateway.yaml --table chunks",
     r"deny\(default-deny\) +delete from chunks"),
    ("build/jitgate replay s-5iwyfc8rke#2", r"delete from chunks"),
]

# How the running gateway picks up each YAML block: (section, block number in it) -> "reload"
# (SIGHUP) where the text says a reload does; the other blocks are followed by a restart.
RELOADS = {
    (5, 0): "Send SIGHUP to the gateway (`kill -HUP <pid>`) to pick up the changed configuration",
    (6, 0): "`identity` is picked up by a SIGHUP reload",
    (8, 1): "A SIGHUP reload picks the setting up for new sessions",
}

# Step 6: "Replace `auth:` with an `identity:` section."
REMOVED_KEYS = {6: ["auth"]}

# Expected output that depends on what ran before it in a reader's own session (their
# statements, their clock) and is therefore not compared.
UNCHECKED_OUTPUT = [re.compile(r"^\d{4}-\d\d-\d\dT.*(allow|deny)\(")]

# Expected output that means the command exits with a non-zero status.
FAILURE_OUTPUT = [re.compile(r"^ERROR:"), re.compile(r"^decision: deny")]

# Values that differ on every run, as they appear in expected output.
VOLATILE = [(re.compile(r"jg_[a-z0-9]+"), r"jg_[a-z0-9]+"),
            (re.compile(r"tok_[a-z0-9]+"), r"tok_[a-z0-9]+")]


def parse_blocks(text):
    """[(section, kind, body, yaml_target)] in document order."""
    blocks, section, target, prose = [], 0, None, []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"## (\d+)\.", line)
        if m:
            section = int(m.group(1))
        fence = re.match(r"```(\w*)\s*$", line)
        if not fence:
            prose.append(line)
            i += 1
            continue
        lang, body = fence.group(1), []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        named = re.findall(r"`(~/[^`]+\.yaml)`", "\n".join(prose))
        target = named[-1] if named else target
        prose = []
        if lang in ("", "sh", "bash"):
            blocks.append((section, "sh", body, None))
        elif lang == "yaml":
            assert target, f"section {section}: a YAML block before any file is named"
            blocks.append((section, "yaml", "\n".join(body) + "\n", target))
    return blocks


def split_commands(body):
    """[(command, [expected output lines])]: continuation lines and here-documents belong to
    their command; `# ...` lines right after a command are its expected output."""
    commands, i = [], 0
    while i < len(body):
        line = body[i]
        i += 1
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            assert commands, f"output before any command: {line}"
            commands[-1][1].append(line.lstrip()[1:].strip())
            continue
        cmd = [line]
        while cmd[-1].rstrip().endswith("\\"):
            cmd.append(body[i])
            i += 1
        here = re.search(r"<<-?'?(\w+)'?", line)
        if here:
            while body[i] != here.group(1):
                cmd.append(body[i])
                i += 1
            cmd.append(body[i])
            i += 1
        commands.append(("\n".join(cmd), []))
    return commands


def merge(base, patch):
    """A YAML block applied to the configuration: mappings merge, lists of entries with a
    `name` or `id` merge entry by entry (new entries are appended), anything else replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(e, dict) and ("name" in e or "id" in e) for e in base + patch):
        def key(e):
            return e.get("name", e.get("id"))
        out = list(base)
        for e in patch:
            idx = [j for j, b in enumerate(out) if key(b) == key(e)]
            if idx:
                out[idx[0]] = merge(out[idx[0]], e)
            else:
                out.append(e)
        return out
    return patch


def normalized(text):
    return " ".join(text.replace("|", " | ").split())


def expected_pattern(line):
    pattern = re.escape(normalized(line))
    for volatile, replacement in VOLATILE:
        pattern = volatile.sub(lambda _: replacement, pattern)
    return pattern


class Terminal:
    """A shell session whose working directory and exported variables carry over from one
    command to the next, and the gateway the reader runs in another terminal."""

    def __init__(self, tmp, env, cwd):
        self.tmp, self.env, self.cwd, self.oldpwd = tmp, env, cwd, cwd
        self.state = tmp / "shell.env"
        self.state.write_text("")
        self.gateway = None
        self.gateway_cmd = None
        self.ports = []
        self.log = tmp / "gateway.log"
        self.transcript = []

    def _script(self, command, keep_state=True):
        head = f". {self.state}\ncd {self.cwd}\nOLDPWD={self.oldpwd}\n"
        if not keep_state:
            return head + command
        return (head + command + "\nrc=$?\n"
                f'printf "%s\\n" "$PWD" "$OLDPWD" > {self.tmp}/shell.cwd\n'
                f"export -p > {self.state}\nexit $rc\n")

    def run(self, command, timeout=60):
        r = subprocess.run(["bash", "-c", self._script(command)], env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        self.cwd, self.oldpwd = (self.tmp / "shell.cwd").read_text().splitlines()[:2]
        self.transcript.append(f"$ {command}\n{r.stdout}{r.stderr}[exit {r.returncode}]")
        return r

    def login(self, command, idp, user, groups):
        """`jitgate login`, with the person `user` entering the printed code in a browser."""
        idp.add_user(user, groups=groups, email=f"{user}@example.com")
        proc = subprocess.Popen(["bash", "-c", self._script(command, keep_state=False)],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        try:
            prompt = ""
            while "user_code: " not in prompt:
                line = proc.stdout.readline()
                assert line, f"`{command}` ended early: {prompt}"
                prompt += line
            idp.approve_device(prompt.split("user_code: ")[1].split()[0], user)
            rest = proc.stdout.read()
            rc = proc.wait(timeout=30)
        finally:
            proc.kill()
        self.transcript.append(f"$ {command}\n{prompt}{rest}[exit {rc}]")
        assert rc == 0, self.transcript[-1]

    def serve(self, command, ports):
        self.stop()
        self.gateway_cmd, self.ports = command, ports
        self._start()

    def _start(self):
        self.gateway = subprocess.Popen(
            ["bash", "-c", self._script("exec " + self.gateway_cmd, keep_state=False)],
            env=self.env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        for port in self.ports:
            try:
                wait_port(port, timeout=20, proc=self.gateway)
            except (RuntimeError, TimeoutError) as e:
                raise AssertionError(f"`{self.gateway_cmd}` is not listening on {port}: {e}\n"
                                     f"{self.log.read_text()[-3000:]}")

    def reload(self):
        """SIGHUP; waits until the gateway says it reloaded, and checks that nothing in the
        change waits for a restart."""
        start = len(self.log.read_text())
        self.gateway.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "configuration reload" not in self.log.read_text()[start:]:
            assert self.gateway.poll() is None and time.monotonic() < deadline, "no reload"
            time.sleep(0.05)
        while True:
            text = self.log.read_text()[start:]
            assert "reload failed" not in text and "only on restart" not in text, text
            if "configuration reloaded from" in text:
                return
            assert time.monotonic() < deadline, text
            time.sleep(0.05)

    def restart(self):
        if self.gateway:
            self.stop()
            self._start()

    def stop(self):
        if self.gateway and self.gateway.poll() is None:
            self.gateway.send_signal(signal.SIGINT)  # Ctrl-C, as the text says
            try:
                self.gateway.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
                self.gateway.wait()
        self.gateway = None


@pytest.fixture(scope="module")
def fresh_pg():
    """A PostgreSQL server as a fresh installation has it: no `app` role, no `kb` database."""
    server = PgServer().start()
    server.sql("DROP ROLE app")
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def idp():
    with OidcProvider() as p:
        yield p


def fill(text, values):
    flat = " ".join(text.split())
    for phrase in RELOADS.values():
        assert phrase in flat, f"the quickstart no longer says {phrase!r}"
    for doc_text, replacement in SUBSTITUTIONS:
        assert doc_text in text, f"the quickstart no longer contains {doc_text!r}"
        text = text.replace(doc_text, replacement.format(**values))
    return text


def test_quickstart_runs_as_written(fresh_pg, idp, tmp_path):
    assert JITGATE.exists(), f"no jitgate binary at {JITGATE} (set JITGATE_BIN)"
    home = tmp_path / "home"
    home.mkdir()
    tree = tmp_path / "src"  # the source tree the reader works in: examples, build/jitgate
    (tree / "build").mkdir(parents=True)
    (tree / "build" / "jitgate").symlink_to(JITGATE.resolve())
    (tree / "examples").symlink_to(ROOT / "examples")
    values = {"pg_dir": fresh_pg.dir, "pg_port": fresh_pg.port, "gw_port": free_port(),
              "admin_port": free_port(), "home": home, "issuer": idp.issuer,
              "audience": OidcProvider.AUDIENCE,
              "token": idp.token(user="alice", groups=["rag"], email="alice@example.com",
                                 ttl=600),
              "analyst_token": idp.token(user="ana", groups=["analysts"],
                                         email="ana@example.com", ttl=600)}
    env = {"HOME": str(home), "PATH": f"{PG_BIN}:/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "PGCONNECT_TIMEOUT": "10", "TMPDIR": str(tmp_path)}
    term = Terminal(tmp_path, env, str(tree))
    config, found, used = None, {}, set()
    try:
        blocks = parse_blocks(fill(QUICKSTART.read_text(), values))
        for index, (section, kind, body, target) in enumerate(blocks):
            if kind == "yaml":
                path = Path(target.replace("~", str(home), 1))
                current = yaml.safe_load(path.read_text()) if path.exists() else {}
                for key in REMOVED_KEYS.get(section, []):
                    current.pop(key, None)
                config = merge(current, yaml.safe_load(body))
                path.write_text(yaml.safe_dump(config, sort_keys=False))
                # "Every configuration below passes `jitgate check-config`."
                r = term.run(f"build/jitgate check-config {path}")
                assert r.returncode == 0, f"section {section}:\n{term.transcript[-1]}"
                n = sum(1 for b in blocks[:index] if b[0] == section and b[1] == "yaml")
                if (section, n) in RELOADS:
                    term.reload()
                else:
                    term.restart()
                continue
            for command, expected in split_commands(body):
                run_command(term, section, command, expected, config, values, found, used, idp)
        unused = [e[:2] for e in SKIPPED + PROSE if id(e) not in used]
        assert not unused, f"no longer in the quickstart: {unused}"
    finally:
        term.stop()
        print("\n\n".join(term.transcript))
        if term.log.exists():
            print(term.log.read_text()[-4000:])


def run_command(term, section, command, expected, config, values, found, used, idp):
    for entry in SKIPPED:
        if command.startswith(entry[0]):
            used.add(id(entry))
            return
    for entry in PROSE:
        prose_section, before, extra = entry
        if prose_section == section and command.startswith(before) and id(entry) not in used:
            used.add(id(entry))
            for line in extra:
                r = term.run(line.format(**values))
                assert r.returncode == 0, term.transcript[-1]
    checks = [p for start, p in OUTPUT_CHECKS if command.startswith(start)]
    for doc_id, real in found.items():
        command = command.replace(doc_id, real)
    for start, hook in HOOKS:
        if command.startswith(start):
            hook(term, values)
    if re.search(r"\bjitgate login\b", command):
        term.login(command, idp, *LOGIN_AS[section])
        return
    if re.search(r"\bjitgate serve\b", command):
        listen = (config or {}).get("listen", {})
        ports = [int(str(a).rsplit(":", 1)[1]) for a in listen.values()]
        term.serve(command, ports)
        return
    r = term.run(command)
    output = r.stdout + r.stderr
    fails = any(p.match(line) for line in expected for p in FAILURE_OUTPUT)
    assert (r.returncode != 0) == fails, f"section {section}:\n{term.transcript[-1]}"
    for line in expected:
        if any(p.search(line) for p in UNCHECKED_OUTPUT):
            continue
        assert re.search(expected_pattern(line), normalized(output)), (
            f"section {section}: expected {line!r} in the output of\n{term.transcript[-1]}")
    for pattern in checks:
        assert re.search(pattern, output), f"section {section}: {pattern!r} not in\n{output}"
    for doc_id, start, pattern in FOUND_IDS:
        if command.startswith(start) and doc_id not in found:
            ids = re.findall(pattern, r.stdout)
            assert ids, f"section {section}: no id in\n{term.transcript[-1]}"
            found[doc_id] = ids[0]


def start_analyst(term, values):
    """Step 7: "An analyst's connection waits with a notice naming the review." """
    env = dict(term.env, PGPASSWORD=values["analyst_token"])
    term.analyst = subprocess.Popen(
        ["psql", f"host=127.0.0.1 port={values['gw_port']} dbname=kb user=ana sslmode=require",
         "-c", "select count(*) from chunks"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while "waiting for approval of review" not in term.log.read_text():
        assert term.analyst.poll() is None, term.analyst.stdout.read()
        assert time.monotonic() < deadline, "the analyst's connection is not waiting for review"
        time.sleep(0.05)


def finish_analyst(term, values):
    """Step 7: once approved, the analyst's waiting connection proceeds."""
    out, _ = term.analyst.communicate(timeout=20)
    assert term.analyst.returncode == 0 and "waiting for approval of review r-" in out, out
    assert re.search(r"^\s*6$", out, re.M), out


# Steps the text describes in words around a command: (start of the command, what to do).
HOOKS = [("build/jitgate review list", start_analyst),
         ("build/jitgate review grants", finish_analyst)]
