"""Pooled PostgreSQL connections: one that died while it sat idle in the pool is replaced
before a call uses it; one used a moment ago is used without a ping (a round trip saved)."""
from __future__ import annotations

import time

import psycopg
from sqlalchemy import event

from modeldb_core.store import engine as engines
from modeldb_core.store import open_store


def test_a_connection_killed_while_idle_is_replaced_before_use(postgres_server):
    store = open_store(postgres_server.new_database())
    store.list_projects()
    pids = set()
    with store.engine.connect() as conn:
        pids.add(conn.connection.driver_connection.info.backend_pid)
    with psycopg.connect(postgres_server.url().replace("+psycopg", ""), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # As if it sat in the pool longer than PING_AFTER_IDLE_S (no sleep: its idle mark is moved back).
    for record in list(store.engine.pool._pool.queue):
        record.info["modeldb_idle_from"] = time.monotonic() - engines.PING_AFTER_IDLE_S - 1
    assert store.list_projects() == []  # answered on a new connection, no error
    store.close()


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_server):
    store = open_store(postgres_server.new_database())
    store.list_projects()
    statements = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement))
    pings = []
    original = store.engine.dialect.do_ping
    store.engine.dialect.do_ping = lambda dbapi_connection: pings.append(1) or original(dbapi_connection)
    store.list_projects()
    assert pings == [] and statements
    store.close()
