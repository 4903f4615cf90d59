#!/usr/bin/python3
"""`make demo`: a throwaway PostgreSQL with a sample knowledge base, jitgate in front of it, and a
RAG retrieval going through the gateway. Everything is local and removed at the end."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "examples"))

from harness import PSQL, Gateway, PgServer  # noqa: E402
import rag_retriever  # noqa: E402


def step(title):
    print(f"\n\033[1m== {title}\033[0m")


def main():
    step("Starting a throwaway PostgreSQL with a sample knowledge base (documents with PII)")
    with PgServer() as pg:
        pg.create_db("kb")
        pg.sql("GRANT CREATE ON DATABASE kb TO app", db="postgres")
        subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(pg.dir), "-p",
                        str(pg.port), "-U", "app", "-d", "kb", "-f",
                        str(ROOT / "examples" / "kb" / "schema.sql")], check=True)
        print(f"PostgreSQL 15 on 127.0.0.1:{pg.port}, database kb: "
              + pg.sql("select count(*) || ' chunks' from chunks", db="kb").strip())

        step("Starting jitgate in front of it (TLS to clients, SCRAM over TLS upstream)")
        with Gateway(pg) as gw:
            print(f"jitgate listening on 127.0.0.1:{gw.port}; config {gw.config}")
            print(textwrap.indent(gw.config.read_text(), "    "))

            step("A RAG retriever asks: 'refund dispute'")
            for row in rag_retriever.retrieve(gw.dsn(), "refund dispute", 3):
                chunk_id, doc_id, title, body, score = row
                print(f"  [doc {doc_id} / chunk {chunk_id}] {title} (score {score:.3f})")
                print(f"      {body}")

            step("psql through the gateway, exactly as against PostgreSQL")
            r = subprocess.run([PSQL, "-X", "-c", "select doc_id, title from documents order by 1"],
                               env=gw.env(), capture_output=True, text=True)
            print(textwrap.indent(r.stdout, "  "))

            step("Bad input gets a clear error")
            r = subprocess.run([PSQL, "-X", "-c", "select 1"], env={**gw.env(), "PGPASSWORD": "x"},
                               capture_output=True, text=True)
            print("  wrong password  -> " + r.stderr.strip().splitlines()[-1])
            r = subprocess.run([PSQL, "-X", "-c", "select 1"], env={**gw.env("nope")},
                               capture_output=True, text=True)
            print("  unknown resource -> " + r.stderr.strip().splitlines()[-1])

            step("Gateway log")
            print(textwrap.indent(gw.log_text(), "  "))
    print("\nDemo finished; everything it started has been stopped and removed.")


if __name__ == "__main__":
    main()
