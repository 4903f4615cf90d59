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


HTTP_CONFIG = """listen: { postgres: 127.0.0.1:6999 }
tls: { require_client_tls: false, allow_plaintext_loopback: true }
auth: { static: { enable_insecure_static: true, password_env: HOME } }
resources: [{ name: kb, upstream: { user: app } }]
policies:
  - id: kb-search
    reason: pipelines search the knowledge base, at most 50 hits at a time
    match:
      groups: [rag]
      resource: kb-search
      methods: [POST]
      paths: ["/collections/{collection}/points/search"]
      path_params: { collection: [docs, faq-*] }
      body: [{ pointer: /limit, max: 50 }]
    action: allow
    response: { max_items: 50, items: $.result, max_bytes: 10MB }
  - { id: no-delete, reason: nothing is deleted, match: { methods: [DELETE] }, action: deny }
"""


def explain_http(cfg, request, body=None):
    args = [str(JITGATE), "policy", "explain", "--config", str(cfg), "--as",
            json.dumps({"sub": "bot", "groups": ["rag"]}), "--resource", "kb-search",
            "--http", request]
    if body is not None:
        args += ["--body", body]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def test_explain_decides_an_http_request_and_says_which_condition_failed(tmp_path):
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(HTTP_CONFIG)
    r = explain_http(cfg, "POST /collections/docs/points/search", '{"limit":500}')
    assert r.returncode == 1, r.stdout + r.stderr
    assert "request: POST /collections/docs/points/search" in r.stdout
    assert "body:    JSON, 13 bytes" in r.stdout
    assert "decision: deny — denied by rule default-deny: no rule allows this request" in r.stdout
    assert "detail:   body /limit is 500, above the maximum 50 of rule kb-search" in r.stdout
    assert "builtin:copy-program (built-in): not applicable: SQL only" in r.stdout
    assert "[deny] no-delete" in r.stdout and "method POST is not in [DELETE]" in r.stdout

    r = explain_http(cfg, "POST /collections/faq-en/points/search?consistency=all",
                     '{"limit":10}')
    assert r.returncode == 0, r.stdout + r.stderr
    assert "decision: allow — allowed by rule kb-search" in r.stdout
    assert "max items: 50 at $.result, max bytes: 10485760" in r.stdout
    assert "query:   consistency = 'all'" in r.stdout

    r = explain_http(cfg, "DELETE /collections/docs")
    assert r.returncode == 1
    assert "denied by rule no-delete: nothing is deleted" in r.stdout


def test_explain_refuses_both_sql_and_http_or_a_malformed_request(tmp_path):
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(HTTP_CONFIG)
    r = explain_http(cfg, "collections/docs")
    assert r.returncode == 2
    assert "expected an HTTP request" in r.stderr
    r = subprocess.run([str(JITGATE), "policy", "explain", "--config", str(cfg), "--as",
                        '{"sub":"bot"}', "--resource", "kb", "--sql", "select 1", "--http",
                        "GET /"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "either --sql or --http" in r.stderr
