"""Random client sessions for the differential policy test (test_policy_differential.py).

A session is a startup packet plus a script of steps. A step is one exchange that ends with
ReadyForQuery: a simple Query, a Parse/Bind/Execute/Sync, or a Bind/Execute/Sync of a statement
parsed by an earlier step. Statement text is bytes in the client encoding the generator expects
to be in effect, so that a multibyte character whose second byte is 0x5c (a backslash in ASCII)
reaches the gateway exactly as an attacker would send it; no client library re-encodes it.

The generator models the settings that change how the server reads a statement (client_encoding,
standard_conforming_strings, search_path, prepared statements) only to make its attacks likely to
bite. The test never trusts this model: what the server did is read back from the server.

Everything is drawn from random.Random(f"{seed}/{index}"), so a session is reproducible from the
seed and its index alone, whatever the other sessions were.
"""
import random
from dataclasses import dataclass, field

# Bytes ending in 0x5c that each client-only encoding reads as characters, the last of which has
# that 0x5c as its second byte (checked against PostgreSQL 15). The three-byte prefixes (e4 b8 xx)
# are also one valid UTF-8 character: a reader that assumes UTF-8 sees a well-formed character
# and then a backslash, where the server sees two characters and no backslash.
BACKSLASH_TRAIL = {
    "GBK": [b"\xe4\xb8\x81\x5c", b"\xe4\xb8\x83\x5c", b"\x81\x5c", b"\x8a\x5c"],
    "GB18030": [b"\xe4\xb8\x81\x5c", b"\xe4\xb8\x85\x5c", b"\xfe\x5c", b"\x85\x5c"],
    "SJIS": [b"\xe4\xb8\x83\x5c", b"\xe4\xb8\x8a\x5c", b"\x83\x5c", b"\x97\x5c"],
    "BIG5": [b"\xe4\xb8\xa5\x5c", b"\xe4\xb8\xa1\x5c", b"\xa5\x5c", b"\xab\x5c"],
}
ENCODINGS = ["UTF8", "GBK", "SJIS", "BIG5", "GB18030", "LATIN1"]
# Spellings PostgreSQL accepts for each encoding.
ENCODING_NAMES = {
    "UTF8": ["UTF8", "utf8", "UTF-8", "unicode"],
    "GBK": ["GBK", "gbk", "WIN936"],
    "SJIS": ["SJIS", "Shift_JIS", "Mskanji"],
    "BIG5": ["BIG5", "big5"],
    "GB18030": ["GB18030", "gb18030"],
    "LATIN1": ["LATIN1", "ISO-8859-1"],
}
# A character outside ASCII that is valid in each encoding.
OTHER_CHAR = {"UTF8": "é".encode(), "LATIN1": "é".encode("latin-1"), "GBK": "表".encode("gbk"),
              "GB18030": "表".encode("gb18030"), "SJIS": "表".encode("shift_jis"),
              "BIG5": "表".encode("big5")}

SEARCH_PATHS = ["secret, public", "secret", '"$user", public', "app, public", "public",
                "public, secret", "pg_catalog, secret, public", '"secret",public', "SECRET, public",
                'public, "$user"']

ALLOWED_REFS = ["public.documents", '"public"."documents"', "PUBLIC.Documents",
                "public . documents"]
UNQUALIFIED_DOCS = ["documents", '"documents"', "Documents"]
FORBIDDEN_REFS = ["secret.keys", '"secret".keys', "SECRET.KEYS", "secret.documents",
                  "app.documents", '"app"."documents"', "public.doc_seq", "pg_catalog.pg_class",
                  "pg_class", "information_schema.tables", "keys", '"keys"']
DOC_LIKE = set(ALLOWED_REFS + UNQUALIFIED_DOCS) | {"secret.documents", "app.documents",
                                                   '"app"."documents"'}

# Forbidden expressions a quoting trick hides from a lexer that reads the text wrongly. No
# quotes inside: the trick decides where strings start and end.
HIDDEN = ["(SELECT k FROM secret.keys LIMIT 1) AS leaked", "(SELECT count(*) FROM secret.keys)",
          "(SELECT count(*) FROM secret.documents) AS n", "(SELECT count(*) FROM app.documents)",
          "(SELECT count(*) FROM keys) AS n", "pg_advisory_lock(77) AS l", "lo_create(0) AS lo",
          "(SELECT k::int FROM secret.keys LIMIT 1) AS leaked"]  # fails, the error shows a key

# Calls a read-only SELECT must not make: side effects, or SQL text run by the function.
FUNCTION_CALLS = [
    ("side-effect", "nextval('public.doc_seq')"), ("side-effect", "nextval('doc_seq')"),
    ("side-effect", "setval('public.doc_seq', 4242)"), ("side-effect", "pg_notify('jgdiff', 'x')"),
    ("side-effect", "lo_from_bytea(0, decode('0102', 'hex'))"), ("side-effect", "lo_create(0)"),
    ("side-effect", "pg_advisory_lock(4242)"), ("side-effect", "pg_try_advisory_lock(4243)"),
    ("side-effect", "pg_advisory_xact_lock(4244)"),
    ("side-effect", "set_config(lower('SEARCH_PATH'), 'secret, public', false)"),
    ("side-effect", "pg_cancel_backend(0)"),
    ("sql-text", "query_to_xml('select * from secret.keys', true, false, '')"),
    ("sql-text", "query_to_xml('select title from public.documents', true, false, '')"),
    ("sql-text", "table_to_xml('secret.keys', true, false, '')"),
    ("sql-text", "query_to_xmlschema('select * from secret.keys', true, false, '')"),
    ("sql-text", "xpath('/row', query_to_xml('select k from secret.keys', false, false, ''))"),
]
TABLE_FUNCTIONS = ["ts_stat('select to_tsvector(k) from secret.keys')",
                   "query_to_xml('select * from secret.keys', true, false, '')"]


@dataclass
class Step:
    kind: str          # "query", "extended" (Parse/Bind/Execute/Sync), "rerun" (Bind/Execute/Sync)
    sql: bytes = b""   # empty for "rerun"
    name: str = ""     # prepared statement name for "extended" and "rerun"
    family: str = ""   # what the step exercises
    context: str = ""  # the generator's expectation of the settings in effect

    def render(self):
        what = repr(self.sql)[1:] if self.kind != "rerun" else f"(statement {self.name!r})"
        name = f" {self.name!r}" if self.kind == "extended" else ""
        return f"{self.kind}{name} {what}  [{self.family}; {self.context}]"


@dataclass
class Session:
    index: int
    app: str
    params: dict
    steps: list = field(default_factory=list)

    def render(self):
        lines = ["startup " + " ".join(f"{k}={v!r}" for k, v in self.params.items())]
        lines += [f"{i:3d}. {s.render()}" for i, s in enumerate(self.steps, 1)]
        return "\n".join(lines)


class Model:
    """The settings the generator expects in effect; transactions restore them on ROLLBACK."""

    def __init__(self, encoding, path):
        self.encoding, self.scs, self.path = encoding, True, path
        self.startup = (encoding, path)
        self.saved = None
        self.prepared, self.parsed = [], []

    def begin(self):
        self.saved = (self.encoding, self.scs, self.path)

    def end(self, commit, local=()):
        if self.saved is not None and not commit:
            self.encoding, self.scs, self.path = self.saved
        elif self.saved is not None:
            # SET LOCAL ends with the transaction either way.
            saved = dict(zip(("encoding", "scs", "path"), self.saved))
            for name in local:
                setattr(self, name, saved[name])
        self.saved = None

    def describe(self):
        return f"client_encoding={self.encoding} scs={'on' if self.scs else 'off'} " \
               f"search_path={self.path}"


class Generator:
    """Draws one session. Episodes are short plans (change a setting, then exploit it) so that
    forty sessions reach every family; the order and the details are random."""

    def __init__(self, seed, index):
        self.r = random.Random(f"{seed}/{index}")
        self.session = Session(index, f"jgdiff-{seed}-{index}",
                               {"user": "alice", "database": "diff"})
        self.session.params["application_name"] = self.session.app
        encoding, path = "UTF8", '"$user", public'
        if self.r.random() < 0.3:
            encoding = self.r.choice(ENCODINGS)
            self.session.params["client_encoding"] = self.r.choice(ENCODING_NAMES[encoding])
        if self.r.random() < 0.25:
            path = self.r.choice(SEARCH_PATHS)
            self.session.params["search_path"] = path
        self.m = Model(encoding, path)
        self.names = 0

    # -- steps ---------------------------------------------------------------------------------

    def add(self, sql, family, kind="query", name=""):
        if isinstance(sql, str):
            sql = sql.encode()
        self.session.steps.append(Step(kind, sql, name, family, self.m.describe()))

    def send(self, sql, family):
        """A statement through the simple protocol or, one time in four, an unnamed Parse."""
        self.add(sql, family, kind="extended" if self.r.random() < 0.25 else "query")

    def name(self, prefix):
        self.names += 1
        return f"{prefix}{self.names}"

    # -- fragments -----------------------------------------------------------------------------

    def ref(self, allowed=0.45, unqualified=0.25):
        x = self.r.random()
        if x < allowed:
            return self.r.choice(ALLOWED_REFS)
        if x < allowed + unqualified:
            return self.r.choice(UNQUALIFIED_DOCS)
        return self.r.choice(FORBIDDEN_REFS)

    def columns(self, ref):
        if ref in DOC_LIKE:
            return self.r.choice(["doc_id, title", "title", "*", "count(*)"])
        if "keys" in ref.lower():
            return self.r.choice(["k", "*", "count(*)"])
        return "count(*)"

    def read(self, ref=None):
        r = self.r
        ref = ref or self.ref()
        other = self.ref()
        shapes = [
            lambda: f"SELECT {self.columns(ref)} FROM {ref}" + r.choice(["", " LIMIT 3"]),
            lambda: f"SELECT title FROM public.documents WHERE doc_id = {r.randint(1, 20)} "
                    f"AND EXISTS (SELECT 1 FROM {ref})",
            lambda: f"SELECT doc_id, (SELECT count(*) FROM {ref}) AS n FROM public.documents "
                    f"WHERE doc_id < 3",
            lambda: f"WITH d AS (SELECT count(*) AS n FROM {ref}) SELECT n FROM d",
            lambda: f"SELECT count(*) FROM {ref} UNION ALL SELECT count(*) FROM {other}",
            lambda: f"TABLE {ref} LIMIT 2",
            lambda: f"SELECT d.title FROM public.documents d JOIN LATERAL (SELECT count(*) AS n "
                    f"FROM {ref}) x ON true WHERE d.doc_id = 1",
            lambda: f"SELECT * FROM (SELECT * FROM (SELECT count(*) FROM {ref}) a) b",
            lambda: f"/* read */ SELECT {self.columns(ref)} -- {other}\n FROM {ref} LIMIT 1",
        ]
        return r.choice(shapes)()

    def literal(self):
        """A string constant that is valid under the expected settings (benign)."""
        r = self.r
        forms = ["'it''s'", "E'it\\'s'", "E'a\\\\b'", "$$x'y$$", "$q$ -- ' $q$", "'a' 'b'",
                 "'--'", "E'\\x41'", "'/* x */'"]
        if self.m.scs:
            forms += ["'a\\b'", "U&'\\0041'", "'\\'"]
        lit = r.choice(forms).encode()
        if r.random() < 0.3:
            lit = b"'" + OTHER_CHAR.get(self.m.encoding, b"x") + b"'"
        return lit

    def hidden(self):
        return self.r.choice(HIDDEN).encode()

    def backslash_char(self):
        encoding = self.m.encoding if self.m.encoding in BACKSLASH_TRAIL else \
            self.r.choice(sorted(BACKSLASH_TRAIL))
        return self.r.choice(BACKSLASH_TRAIL[encoding])

    # -- settings ------------------------------------------------------------------------------

    def set_encoding(self, encoding):
        r = self.r
        name = r.choice(ENCODING_NAMES[encoding])
        how = r.randrange(5)
        if how == 0:
            self.add(f"SET client_encoding = '{name}'", "set-encoding")
        elif how == 1:
            self.add(f"SET NAMES '{name}'", "set-encoding")
        elif how == 2:
            self.add(f"SELECT set_config('client_encoding', '{name}', false)", "set-encoding")
        elif how == 3:
            self.add(f"SET SESSION client_encoding TO {name.replace('-', '')}", "set-encoding")
        else:
            self.add(f"set client_encoding to '{name}'", "set-encoding", kind="extended")
        self.m.encoding = encoding

    def set_scs(self, on):
        r = self.r
        value = r.choice(["on", "true", "'on'"] if on else ["off", "false", "'off'"])
        how = r.randrange(4)
        if how == 0:
            self.add(f"SET standard_conforming_strings = {value}", "set-scs")
        elif how == 1:
            self.add(f"SET standard_conforming_strings TO {value}", "set-scs")
        elif how == 2:
            self.add(f"SELECT set_config('standard_conforming_strings', "
                     f"'{'on' if on else 'off'}', false)", "set-scs")
        else:
            self.add(f"SET SESSION standard_conforming_strings = {value}", "set-scs",
                     kind="extended")
        self.m.scs = on

    def set_path(self, path=None):
        r = self.r
        path = path or r.choice(SEARCH_PATHS)
        how = r.randrange(6)
        if how == 0:
            self.add(f"SET search_path = {path}", "set-search-path")
        elif how == 1:
            self.add(f"SET search_path TO {path}", "set-search-path", kind="extended")
        elif how == 2:
            self.add(f"SELECT set_config('search_path', '{path.replace(chr(39), '')}', false)",
                     "set-search-path")
        elif how == 3:
            self.add(f"SELECT title FROM public.documents WHERE doc_id = 1 AND "
                     f"set_config('search_path', '{path}', false) IS NOT NULL", "set-search-path")
        elif how == 4:
            self.add("RESET search_path", "set-search-path")
            path = self.m.startup[1]
        else:
            self.add("SET search_path TO DEFAULT", "set-search-path")
            path = self.m.startup[1]
        self.m.path = path

    # -- episodes ------------------------------------------------------------------------------

    def encoding_attack(self):
        r = self.r
        if self.m.encoding not in BACKSLASH_TRAIL or r.random() < 0.3:
            self.set_encoding(r.choice(sorted(BACKSLASH_TRAIL)))
        if r.random() < 0.3:
            self.set_scs(False)
        for _ in range(r.randint(1, 2)):
            mb, hidden = self.backslash_char(), self.hidden()
            prefix = b"E'" if self.m.scs or r.random() < 0.5 else b"'"
            self.send(b"SELECT " + prefix + mb + b"' , " + hidden + b" --' AS y FROM "
                      b"public.documents", "encoding-trick")
        if r.random() < 0.4:
            self.set_encoding(r.choice(["UTF8", "LATIN1"]))

    def scs_attack(self):
        r = self.r
        local = r.random() < 0.3
        if local:
            self.add("BEGIN", "transaction")
            self.m.begin()
            self.add(r.choice(["SET LOCAL standard_conforming_strings = off",
                               "SELECT set_config('standard_conforming_strings', 'off', true)"]),
                     "set-scs")
            self.m.scs = False
        elif self.m.scs:
            self.set_scs(False)
        for _ in range(r.randint(1, 2)):
            hidden = self.hidden()
            self.send(r.choice([
                b"SELECT '\\' AS a, ' , " + hidden + b" --' FROM public.documents",
                b"SELECT '\\' , " + hidden + b" --' FROM public.documents",
                b"SELECT 'x\\' AS a, ' , " + hidden + b" --' AS b FROM public.documents",
                b"SELECT E'\\' AS a, ' , " + hidden + b" --' FROM public.documents",
            ]), "scs-trick")
        if local:
            commit = r.random() < 0.5
            self.add("COMMIT" if commit else "ROLLBACK", "transaction")
            self.m.end(commit, local=("scs",))
        elif r.random() < 0.4:
            self.add(r.choice(["RESET standard_conforming_strings",
                               "SET standard_conforming_strings TO DEFAULT"]), "set-scs")
            self.m.scs = True

    def prepared_then_path(self):
        r = self.r
        read = self.read(r.choice(UNQUALIFIED_DOCS + ["keys"]))
        protocol = r.random() < 0.5
        name = self.name("s" if protocol else "p")
        if protocol:
            self.add(read, "prepare", kind="extended", name=name)
        else:
            self.add(f"PREPARE {name} AS {read}", "prepare")
        local = r.random() < 0.3
        if local:
            self.add("BEGIN", "transaction")
            self.m.begin()
            path = r.choice(SEARCH_PATHS)
            self.add(r.choice([f"SET LOCAL search_path = {path}",
                               f"SELECT set_config('search_path', '{path}', true)"]),
                     "set-search-path")
            self.m.path = path
        else:
            self.set_path()
        for _ in range(r.randint(1, 2)):
            if protocol:
                self.session.steps.append(Step("rerun", b"", name, "execute-prepared",
                                               self.m.describe()))
            else:
                self.add(f"EXECUTE {name}", "execute-prepared",
                         kind="extended" if r.random() < 0.3 else "query")
        if local:
            commit = r.random() < 0.5
            self.add("COMMIT" if commit else "ROLLBACK", "transaction")
            self.m.end(commit, local=("path",))
        if not protocol and r.random() < 0.3:
            self.add(r.choice([f"DEALLOCATE {name}", "DEALLOCATE ALL"]), "deallocate")

    def path_reads(self):
        r = self.r
        how = r.randrange(3)
        if how == 0:
            self.set_path()
        elif how == 1:
            self.add("BEGIN", "transaction")
            self.m.begin()
            path = r.choice(SEARCH_PATHS)
            self.add(f"SET LOCAL search_path = {path}", "set-search-path")
            self.m.path = path
            self.send(self.read(r.choice(UNQUALIFIED_DOCS + ["keys"])), "unqualified-read")
            self.add("ROLLBACK", "transaction")
            self.m.end(False)
        for _ in range(r.randint(1, 2)):
            self.send(self.read(r.choice(UNQUALIFIED_DOCS + ["keys", "pg_class"])),
                      "unqualified-read")

    def function_calls(self):
        r = self.r
        for _ in range(r.randint(1, 2)):
            family, call = r.choice(FUNCTION_CALLS)
            shapes = [f"SELECT {call}", f"SELECT {call} FROM public.documents LIMIT 1",
                      f"SELECT title, (SELECT {call}) AS v FROM public.documents WHERE doc_id = 2",
                      f"WITH x AS (SELECT {call} AS v) SELECT title, v FROM public.documents, x "
                      f"WHERE doc_id = 3",
                      f"SELECT title FROM public.documents WHERE doc_id = 4 AND {call} IS NOT NULL"]
            if r.random() < 0.15:
                family, sql = "sql-text", f"SELECT * FROM {r.choice(TABLE_FUNCTIONS)} AS f LIMIT 1"
            else:
                sql = r.choice(shapes)
            self.send(sql, family + "-function")

    def reads(self):
        for _ in range(self.r.randint(1, 3)):
            self.send(self.read(), "read")

    def cursor(self):
        r = self.r
        name = self.name("c")
        hold = r.random() < 0.3
        if not hold:
            self.add("BEGIN", "transaction")
            self.m.begin()
        self.add(f"DECLARE {name} {'CURSOR WITH HOLD' if hold else 'CURSOR'} FOR {self.read()}",
                 "cursor")
        self.add(f"FETCH {r.randint(1, 3)} FROM {name}", "cursor")
        self.add(f"CLOSE {name}", "cursor")
        if not hold:
            commit = r.random() < 0.7
            self.add("COMMIT" if commit else "ROLLBACK", "transaction")
            self.m.end(commit)

    def literals(self):
        r = self.r
        for _ in range(r.randint(1, 2)):
            self.send(b"SELECT " + self.literal() + b" AS a, title FROM public.documents "
                      b"WHERE doc_id = " + str(r.randint(1, 20)).encode(), "literal")
        if r.random() < 0.3:
            self.add(r.choice(["SHOW search_path", "SHOW standard_conforming_strings",
                               "SHOW client_encoding"]), "show")

    def lexer_tricks(self):
        """Quotes, comments and dollar quotes that end where a careless lexer would not look;
        the hidden expression is visible to both readers or hidden from both."""
        r = self.r
        for _ in range(r.randint(1, 2)):
            hidden = self.hidden()
            self.send(r.choice([
                b"SELECT 1 AS a /* /* */ , " + hidden + b" */ FROM public.documents",
                b"SELECT $x$'$x$ AS a, ' , " + hidden + b" --' FROM public.documents",
                b"SELECT 1 AS a$x$ , " + hidden + b" -- $x$ FROM public.documents",
                b"SELECT E'\\\\' , " + hidden + b" --' FROM public.documents",
                b"SELECT 'a''' , " + hidden + b" --' FROM public.documents",
                b"SELECT $$a$$ , " + hidden + b" --$$ FROM public.documents",
                b"SELECT 'a'\n' , " + hidden + b" --' FROM public.documents",
                b"SELECT title FROM public.documents -- \r , " + hidden + b"\n",
            ]), "lexer-trick")

    EPISODES = [("encoding_attack", 3), ("scs_attack", 3), ("prepared_then_path", 3),
                ("path_reads", 2), ("function_calls", 3), ("reads", 2), ("cursor", 1),
                ("literals", 1), ("lexer_tricks", 1)]

    def generate(self):
        names = [n for n, _ in self.EPISODES]
        weights = [w for _, w in self.EPISODES]
        for episode in self.r.choices(names, weights, k=self.r.randint(2, 4)):
            getattr(self, episode)()
        return self.session


def generate_session(seed, index):
    return Generator(seed, index).generate()
