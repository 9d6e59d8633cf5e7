"""start_run(defer=True): a quick run is written once when it ends; a long one while it runs."""
from __future__ import annotations

import time

import pytest

import modeldb_core as mdb
from modeldb_core import deferred


def _names(client):
    return [r.name for r in client.store.list_runs(limit=100)]


def test_quick_run_is_written_whole_when_it_ends(tracking, tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("x\n1\n")
    run = mdb.start_run("quick", params={"k": 1}, defer=True, parent=None)
    run.log_input(str(data), name="data")
    run.log_metric("loss", 0.5)
    assert "quick" not in _names(tracking), "nothing is written while a quick run is open"
    run.end()
    [stored] = [r for r in tracking.store.list_runs() if r.name == "quick"]
    detail = tracking.store.get_run_detail(stored.id)
    assert detail.run.status == "succeeded" and detail.params == {"k": 1}
    assert detail.metrics == {"loss": 0.5} and detail.inputs[0].name == "data"


def test_long_run_is_visible_while_it_runs(tracking, monkeypatch):
    monkeypatch.setattr(deferred, "WRITE_AFTER_SECONDS", 0.05)
    run = mdb.start_run("long", defer=True, parent=None)
    deadline = time.monotonic() + 10
    while "long" not in _names(tracking) and time.monotonic() < deadline:
        time.sleep(0.05)
    [stored] = [r for r in tracking.store.list_runs() if r.name == "long"]
    assert stored.status == "running"
    run.log_metric("step", 1.0)
    run.end()
    assert tracking.store.get_run(stored.id).status == "succeeded"
    assert tracking.store.get_run_detail(stored.id).metrics == {"step": 1.0}


def test_asking_for_the_id_writes_the_run(tracking):
    run = mdb.start_run("parent", defer=True, parent=None)
    with mdb.start_run("child", parent=run) as child:
        pass
    assert tracking.store.get_run(child.id).parent_run_id == run.id
    assert tracking.store.get_run(run.id).status == "running"
    run.end()


def test_failed_deferred_run_keeps_its_error(tracking):
    run = mdb.start_run("broken", defer=True, parent=None)
    try:
        raise ValueError("no rows")
    except ValueError as exc:
        run.end("failed", error=exc)
    [stored] = [r for r in tracking.store.list_runs() if r.name == "broken"]
    assert stored.status == "failed" and stored.error_message == "no rows"


def test_tracked_task_killed_mid_run_is_reaped(tracking):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import os, signal, time, modeldb_core as mdb
        mdb.configure(uri={tracking.settings.uri!r})

        @mdb.tracked_task(name="long_training")
        def train():
            time.sleep(deferred_wait)
            os.kill(os.getpid(), signal.SIGKILL)

        deferred_wait = 1.0 + 0.8
        train()
    """)
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    [stored] = [r for r in tracking.store.list_runs() if r.name == "long_training"]
    assert stored.status == "running", "a long task is written while it runs"
    assert stored.id in tracking.reap()
    assert tracking.store.get_run(stored.id).status == "killed"
