"""Tracking never breaks or holds a task: with a locked (slow) or dead store the
tasks run as fast as ever (what they record waits in the journal), and the task's
own outcome is untouched."""
from __future__ import annotations

import socket
import sqlite3
import time

import pytest
from airflow.sdk import dag, task

TIMEOUT_S = 1.0
# A normal run of this DAG takes well under a second once Airflow is warm; a
# listener stuck on the store would add the store's own timeouts (60 s busy
# timeout, 10 s connect timeout) for every task.
BOUND_S = 8.0


@dag(dag_id="mdb_store_trouble", schedule=None)
def store_trouble():
    @task
    def make_numbers() -> list:
        return list(range(5))

    @task
    def add_up(numbers: list) -> int:
        import modeldb_core

        modeldb_core.log_metric("total", sum(numbers))   # no run to log into: a logged no-op
        return sum(numbers)

    add_up(make_numbers())


STORE_TROUBLE = store_trouble()


@pytest.fixture
def tight_bound(monkeypatch):
    monkeypatch.setenv("AIRFLOW__MODELDB__TIMEOUT", str(TIMEOUT_S))
    monkeypatch.setenv("AIRFLOW__MODELDB__COOLDOWN", "30")


def _run_and_time(run_dag, trouble=lambda: None):
    """Warm Airflow up with tracking off (its first dag.test() in a process pays a
    one-off start), make the trouble, then time one tracked run."""
    import modeldb_core

    uri = modeldb_core.get_client().settings.uri
    modeldb_core.configure(disabled=True)
    run_dag(STORE_TROUBLE)
    modeldb_core.configure(uri=uri)
    trouble()
    started = time.monotonic()
    dr = run_dag(STORE_TROUBLE, migrate_store=False)
    return dr, time.monotonic() - started


def _task_states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_a_locked_store_does_not_hold_the_tasks(tight_bound, run_dag, sqlite_uri, monkeypatch):
    import modeldb_core

    modeldb_core.configure(uri=sqlite_uri).store  # create the schema
    blocker = sqlite3.connect(sqlite_uri.removeprefix("sqlite:///"), timeout=0)

    def lock():  # as a long write elsewhere would
        modeldb_core.get_client().store
        blocker.execute("BEGIN EXCLUSIVE")

    try:
        dr, elapsed = _run_and_time(run_dag, lock)
        client = modeldb_core.get_client()
        assert not client.flush(timeout=0.5)       # the runs wait for the lock, the tasks did not
    finally:
        blocker.rollback()
        blocker.close()
    assert dr.state == "success"
    assert set(_task_states(dr).values()) == {"success"}
    assert elapsed < BOUND_S, elapsed
    assert client.flush(timeout=60)                # the lock is gone: everything lands
    runs = client.store.runs_by_external_id(f"mdb_store_trouble/{dr.run_id}/add_up")
    assert [r.status for r in runs] == ["succeeded"]
    client.close()


def test_a_dead_store_does_not_hold_the_tasks(tight_bound, run_dag, monkeypatch):
    import modeldb_core

    # A PostgreSQL address whose server never answers: the TCP connection is
    # accepted by the kernel, the startup message never gets a reply.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    uri = f"postgresql+psycopg://postgres@127.0.0.1:{hole.getsockname()[1]}/modeldb"
    modeldb_core.configure(uri=uri)
    try:
        dr, elapsed = _run_and_time(run_dag)
    finally:
        hole.close()
    client = modeldb_core.get_client()
    assert dr.state == "success"
    assert set(_task_states(dr).values()) == {"success"}
    assert elapsed < BOUND_S, elapsed
    # What the tasks recorded waits in the journal for the store (or `modeldb sync`).
    journal = client.runtime.journal_path
    assert journal is not None and journal.stat().st_size > 0
    client.close()
