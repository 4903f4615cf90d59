"""Shared fixtures: one PostgreSQL server per test session, a gateway per test module."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import Gateway, PgServer  # noqa: E402
from http_peers import json_server, mcp_everything, vector_store, vector_store_locked  # noqa: E402,F401


@pytest.fixture(scope="session")
def pg():
    server = PgServer().start()
    server.create_db("kb")
    server.sql("""
        CREATE TABLE documents (doc_id int PRIMARY KEY, title text, body text);
        CREATE TABLE customers (id serial PRIMARY KEY, name text, email text UNIQUE, phone text);
        INSERT INTO documents SELECT g, 'doc ' || g, repeat('lorem ipsum ', 20)
          FROM generate_series(1, 100) g;
        INSERT INTO customers (name, email, phone) VALUES
          ('Ada', 'ada@example.com', '+1 415 555 0100'),
          ('Linus', 'linus@example.org', '+44 20 7946 0958');
        GRANT ALL ON ALL TABLES IN SCHEMA public TO app;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;
        ALTER TABLE documents OWNER TO app; ALTER TABLE customers OWNER TO app;
    """, db="kb")
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def idp():
    """The OIDC provider (npm oidc-provider), one per test module that asks for it."""
    from oidc_provider import OidcProvider
    with OidcProvider() as p:
        yield p


@pytest.fixture(scope="module")
def gateway(pg):
    gw = Gateway(pg).start()
    yield gw
    gw.cleanup()


@pytest.fixture()
def own_pg():
    """A PostgreSQL server of the test's own, for tests that stop, kill or restart it."""
    server = PgServer().start()
    server.create_db("kb")
    yield server
    server.cleanup()
