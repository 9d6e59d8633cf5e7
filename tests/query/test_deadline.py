"""The read deadline (store/deadline.py) on a real SQLite file and a real PostgreSQL server."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from modeldb_core.errors import QueryCancelledError, QueryTimeoutError
from modeldb_core.query import search_runs
from modeldb_core.store import deadline

# A statement that runs for minutes unless something stops it.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) "
              "SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(120)",
}


def _slow(conn):
    return conn.execute(text(SLOW[conn.dialect.name])).scalar()


def test_a_read_past_the_deadline_stops_with_a_clear_error(store):
    deadline.install(store.engine, 0.3)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match=r"0\.3 s allowed \(query_timeout\)"):
        with store.engine.connect() as conn:
            _slow(conn)
    assert time.monotonic() - started < 5
    # The connection goes back to work: the next read is answered.
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_scope_cancelled_from_another_thread_stops_its_read(store):
    deadline.install(store.engine, None)
    with deadline.scope(None) as reads:
        threading.Timer(0.3, reads.cancel, args=("the client went away",)).start()
        started = time.monotonic()
        with pytest.raises(QueryCancelledError, match="the client went away"):
            with store.engine.connect() as conn:
                _slow(conn)
        assert time.monotonic() - started < 5
        # Cancelled is final: the next read of the scope is refused before it starts.
        with pytest.raises(QueryCancelledError):
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
    with store.engine.connect() as conn:  # outside the scope, reads work again
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_scope_deadline_expired_by_its_watcher(store):
    deadline.install(store.engine, None)
    with deadline.scope(0.3) as reads:
        threading.Timer(0.3, reads.expire).start()
        with pytest.raises(QueryTimeoutError):
            with store.engine.connect() as conn:
                _slow(conn)


def test_searches_through_the_store_are_bounded_and_writes_are_not(runs, store):
    deadline.install(store.engine, 5.0)
    assert len(search_runs(store=store).runs) == len(runs)
    with deadline.scope(1e-9):
        time.sleep(0.01)
        with pytest.raises(QueryTimeoutError):
            search_runs(store=store)
    # Writes run outside read deadlines, whatever the engine's setting.
    deadline.install(store.engine, 1e-9)
    from modeldb_core.model import NewRun

    [new_id] = store.create_runs([NewRun(project="pricing", name="after", status="succeeded",
                                         started_at=1.0, ended_at=2.0, params={"model": "x"})])
    deadline.install(store.engine, None)
    assert store.get_run(new_id).name == "after"
