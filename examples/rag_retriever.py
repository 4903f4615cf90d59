#!/usr/bin/python3
"""A sample RAG retriever: fetches the top-k chunks for a question, through jitgate.

Usage: rag_retriever.py "DSN" "question" [k]
The DSN points at jitgate (dbname = the resource); the password is the caller's token.
"""
import sys

import psycopg

QUERY = """
SELECT c.chunk_id, d.doc_id, d.title, c.body,
       ts_rank(to_tsvector('english', c.body), plainto_tsquery('english', %(q)s)) AS score
  FROM public.chunks c JOIN public.documents d USING (doc_id)
 WHERE to_tsvector('english', c.body) @@ plainto_tsquery('english', %(q)s)
 ORDER BY score DESC, c.chunk_id
 LIMIT %(k)s
"""


def retrieve(dsn, question, k=3):
    with psycopg.connect(dsn, application_name="rag-retriever") as conn:
        return conn.execute(QUERY, {"q": question, "k": k}, prepare=True).fetchall()


if __name__ == "__main__":
    dsn, question = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for chunk_id, doc_id, title, body, score in retrieve(dsn, question, k):
        print(f"[doc {doc_id} / chunk {chunk_id}] {title} (score {score:.3f})\n    {body}")
