"""What PostgreSQL really did, read from PostgreSQL itself (the differential policy test).

The server runs with `log_statement = all` and auto_explain, which logs, for every plan the
executor finishes — including statements run by functions (`log_nested_statements`) — the plan
as `EXPLAIN (VERBOSE, FORMAT JSON)` would print it. A plan names every relation it reads or
writes (`Relation Name`, `Schema`) and, VERBOSE, every expression it evaluates, so function
calls appear as PostgreSQL deparsed them. None of this goes through the gateway's parser.

This module parses that log and judges a plan against the policy the test gateway enforces:
read `public.documents`, call nothing with side effects or that runs SQL text.
"""
import json
import re
from dataclasses import dataclass, field

ALLOWED_RELATIONS = {("public", "documents")}

# postgresql.conf lines for the server the test starts. The prefix makes every entry
# attributable to a backend; auto_explain cannot be turned off by an unprivileged session (its
# settings are superuser-only), nor can log_statement.
SERVER_SETTINGS = [
    "log_statement = 'all'",
    "log_line_prefix = '@@ %m [%p] %a @@ '",
    "lc_messages = 'C'",
    "session_preload_libraries = 'auto_explain'",
    "auto_explain.log_min_duration = 0",
    "auto_explain.log_verbose = on",
    "auto_explain.log_nested_statements = on",
    "auto_explain.log_format = json",
    "autovacuum = off",
]

_ENTRY = re.compile(r"^@@ \S+ \S+ \S+ \[(\d+)\] (.*?) @@ ([A-Z0-9]+):  (.*)$")
_PLAN = re.compile(r"^duration: [0-9.]+ ms  plan:$")
_STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)

# Catalogue functions a read may not call: side effects, SQL text run by the function, or
# what the gateway's own guardrails block.
FORBIDDEN_FUNCTIONS = re.compile(
    r"^(nextval|setval|lastval|pg_notify|lo_\w+|lo(open|close|read|write|creat|unlink)"
    r"|pg_(try_)?advisory\w*|\w*_to_xml\w*|ts_stat|dblink\w*"
    r"|pg_(terminate|cancel|signal)_backend|pg_reload_conf|pg_rotate_logfile|pg_promote"
    r"|pg_read_(binary_)?file|pg_ls_\w+|pg_stat_file|pg_logical_emit_message"
    r"|pg_stat_reset\w*|pg_create_\w+|pg_drop_\w+)$")
# set_config is allowed for these settings, named by a constant: the gateway tracks them.
HARMLESS_SETTINGS = {"search_path", "standard_conforming_strings", "client_encoding"}

_LITERAL = re.compile(r"'(?:[^']|'')*'")  # deparsed constants always double their quotes
_CALL = re.compile(r'(?:(?:[A-Za-z_][\w$]*|"[^"]+")\.)?([A-Za-z_][\w$]*|"[^"]+")\s*\(')
_SET_CONFIG = re.compile(r"\bset_config\(\s*('(?:[^']|'')*')?")


@dataclass
class Entry:
    pid: int
    app: str
    level: str
    text: str


@dataclass
class Plan:
    query_text: str
    relations: set = field(default_factory=set)    # {(schema, name)}
    functions: set = field(default_factory=set)    # forbidden calls, as "name" or "set_config(x)"

    def violations(self):
        """What this plan did that the policy does not allow, one phrase each."""
        out = [f"read or wrote {s}.{n}" for s, n in sorted(self.relations - ALLOWED_RELATIONS)]
        out += [f"called {f}" for f in sorted(self.functions)]
        return out


def parse_log(data):
    """Log entries (prefix line plus continuation lines) from raw log bytes."""
    entries = []
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()  # every entry ends with a newline
    for line in lines:
        m = _ENTRY.match(line)
        if m:
            entries.append(Entry(int(m[1]), m[2], m[3], m[4]))
        elif entries:
            entries[-1].text += "\n" + (line[1:] if line.startswith("\t") else line)
    return entries


def statement_text(entry):
    """The text of a statement the server was asked to run, or None for other entries."""
    if entry.level != "LOG":
        return None
    m = _STATEMENT.match(entry.text)
    return m[1] if m else None


def plan_of(entry):
    """The Plan of an auto_explain entry, or None for other entries."""
    if entry.level != "LOG":
        return None
    head, _, body = entry.text.partition("\n")
    if not _PLAN.match(head):
        return None
    doc = json.loads(body)
    plan = Plan(doc.get("Query Text", ""))
    _walk(doc.get("Plan", {}), plan)
    return plan


def _walk(node, plan):
    if isinstance(node, dict):
        if "Relation Name" in node:
            plan.relations.add((node.get("Schema", "?"), node["Relation Name"]))
        if "Function Name" in node:
            _judge_call(node["Function Name"], plan)
        for key, value in node.items():
            if key == "Query Text":
                continue
            if isinstance(value, str):
                _expression(value, plan)
            else:
                _walk(value, plan)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                _expression(item, plan)
            else:
                _walk(item, plan)


def _expression(text, plan):
    if "(" not in text:
        return
    for m in _SET_CONFIG.finditer(text):
        setting = m[1][1:-1].replace("''", "'").strip().lower() if m[1] else None
        if setting not in HARMLESS_SETTINGS:
            plan.functions.add(f"set_config({setting or 'a name that is not a constant'})")
    for m in _CALL.finditer(_LITERAL.sub("''", text)):
        _judge_call(m[1].strip('"'), plan)


def _judge_call(name, plan):
    if FORBIDDEN_FUNCTIONS.match(name.lower()):
        plan.functions.add(name.lower())
