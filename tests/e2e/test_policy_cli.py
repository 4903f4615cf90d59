"""The policy author's tools through the real binary: explain and golden-table tests."""
import json
import subprocess

from harness import JITGATE, ROOT

CONFIG = """listen: { postgres: 127.0.0.1:6999 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: HOME } }
resources: [{ name: kb, upstream: { user: app } }]
policies:
  - { id: rag-read, reason: the pipeline reads documents, match: { groups: [rag], resource: kb },
      allow: [select] }
  - { id: no-crm, reason: customer data is off limits, match: { tables: ["crm.*"] }, deny: [all] }
"""


def explain(cfg, who, sql):
    return subprocess.run([str(JITGATE), "policy", "explain", "--config", str(cfg), "--as",
                           json.dumps(who), "--resource", "kb", "--sql", sql],
                          capture_output=True, text=True, timeout=30)


def test_explain_shows_classification_decision_and_other_rules(tmp_path):
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(CONFIG)
    r = explain(cfg, {"sub": "bot", "groups": ["rag"]}, "select * from public.chunks")
    assert r.returncode == 0, r.stderr
    assert "select" in r.stdout and "public.chunks" in r.stdout
    assert "rag-read" in r.stdout and "allow" in r.stdout
    r = explain(cfg, {"sub": "bot", "groups": ["rag"]},
                'WITH d AS (DELETE FROM "CRM".x RETURNING *) SELECT * FROM crm.customers')
    assert "deny" in r.stdout and "no-crm" in r.stdout
    assert "crm.customers" in r.stdout


MASKING_CONFIG = """listen: { postgres: 127.0.0.1:6999 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: HOME } }
resources: [{ name: kb, upstream: { user: app } }]
policies:
  - { id: read, reason: the pipeline reads, match: { resource: kb }, allow: [select] }
masking:
  columns:
    - { table: crm.customers, column: note, strategy: redact, functions: [lower, "="] }
    - { table: crm.customers, column: owner, strategy: "null", through_expressions: refuse }
"""


def test_explain_shows_lineage_rules_and_masking_refusals(tmp_path):
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(MASKING_CONFIG)
    who = {"sub": "bot", "groups": ["rag"]}
    r = explain(cfg, who, "select id, lower(c.note) from crm.customers c")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 id <- crm.customers.id (plain column)" in r.stdout, r.stdout
    assert "2 lower <- crm.customers.note [rule crm.customers.note: redact]" in r.stdout
    assert "crm.customers.note allows lower, =" in r.stdout
    # Unqualified, customers resolves to public only: no rule applies.
    r = explain(cfg, who, "select substr(note, 1, 2) from customers")
    assert r.returncode == 0, r.stdout + r.stderr
    r = explain(cfg, who, "select upper(note) || owner from crm.customers")
    assert r.returncode == 1
    assert "[rule crm.customers.owner: null, refuses expressions]" in r.stdout, r.stdout
    assert 'refused (42501): function or operator "upper" is not allowed on crm.customers.note' \
        in r.stdout


def test_policy_test_runs_the_golden_tables():
    r = subprocess.run([str(JITGATE), "policy", "test", str(ROOT / "tests" / "policy")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout


def test_policy_test_reports_a_wrong_expectation(tmp_path):
    src = ROOT / "tests" / "policy"
    for f in ("rag.rules", "rag.eval"):
        (tmp_path / f).write_text((src / f).read_text())
    ev = tmp_path / "rag.eval"
    lines = ev.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("allow@"):
            lines[i] = "deny" + line[len("allow"):]
            break
    ev.write_text("\n".join(lines) + "\n")
    r = subprocess.run([str(JITGATE), "policy", "test", str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0
    assert "1 failed" in r.stdout, r.stdout
