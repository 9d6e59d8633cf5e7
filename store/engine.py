"""Engines for SQLite and PostgreSQL: the only place they differ is here.

SQLite gets WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for
write transactions so that concurrent writers queue on the busy timeout
instead of failing with "database is locked" when a read upgrades to a write.
Engines are disposed in forked children (Luigi and Airflow workers fork), so
no connection is ever shared across processes.
"""
from __future__ import annotations

import math
import os
import time
import weakref
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from modeldb_core.errors import ValidationError

SQLITE_BUSY_TIMEOUT_S = 60
# A pooled PostgreSQL connection idle longer than this is pinged before it is used again (a
# restarted server or a dropped link is found then, not by the first statement); one used
# more recently is not: the ping would be one round trip of the two a one-statement read takes.
PING_AFTER_IDLE_S = 1.0
WRITE = {"modeldb_write": True}
_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _dispose_in_child() -> None:
    for engine in list(_engines):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dispose_in_child)


def _sqlite_engine(url, timeout: float | None) -> Engine:
    database = url.database
    memory = database in (None, "", ":memory:")
    if not memory:
        from modeldb_core.files import prepare_sqlite_file

        prepare_sqlite_file(Path(database).expanduser())  # its folder, and the file owner-only
    busy = timeout or SQLITE_BUSY_TIMEOUT_S
    engine = create_engine(
        url,
        connect_args={"timeout": busy, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let us issue BEGIN ourselves (pysqlite's own BEGIN is always deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("modeldb_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, for connections that sat in the pool longer than ``PING_AFTER_IDLE_S``."""
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(dbapi_connection, record):
        record.info["modeldb_idle_from"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection, record, proxy):
        idle_from = record.info.get("modeldb_idle_from")  # None: a new connection, alive
        if idle_from is None or time.monotonic() - idle_from < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool opens a new connection
            raise DisconnectionError(f"the pooled connection is gone: {exc}") from exc


def _postgres_engine(url, timeout: float | None) -> Engine:
    connect_args: dict = {"connect_timeout": 10}
    bound = timeout
    if bound is not None:
        # libpq takes whole seconds (minimum 2); statement_timeout is in milliseconds.
        connect_args = {"connect_timeout": max(2, math.ceil(bound)),
                        "options": f"-c statement_timeout={int(bound * 1000)}"}
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        connect_args=connect_args,
    )
    _ping_when_idle(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        from . import arrays

        arrays.register(dbapi_connection.adapters)  # the event path's array parameters
    return engine


def make_engine(uri: str, timeout: float | None = None) -> Engine:
    """An engine for ``uri``; ``timeout`` (seconds) bounds how long one store call may
    wait: the SQLite busy timeout, the PostgreSQL connect and statement timeouts.
    Orchestrator workers set it low so a slow or dead store cannot hold a task."""
    url = make_url(uri)
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, timeout)
    elif backend == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine = _postgres_engine(url, timeout)
    else:
        raise ValidationError("store uri", uri, "must be a sqlite:/// or postgresql:// URL")
    _engines.add(engine)
    return engine
