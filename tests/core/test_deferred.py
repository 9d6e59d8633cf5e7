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


# -- batch=True: quick runs that succeeded share transactions ------------------------------
def _commits(client):
    """Count the store's commits from now on."""
    from sqlalchemy import event

    count = [0]
    event.listen(client.store.engine, "commit", lambda conn: count.__setitem__(0, count[0] + 1))
    return count


def _batched(name, **kwargs):
    return mdb.start_run(name, defer=True, batch=True, parent=None, **kwargs)


def test_batched_runs_land_together_with_their_lineage(tracking, tmp_path):
    _batched("warm_up").end()  # the first run of a process records its environment and code
    mdb.flush()
    commits = _commits(tracking)
    for i in range(30):
        out = tmp_path / f"part-{i}.txt"
        out.write_text(f"part {i}\n")
        run = _batched("part", params={"index": i})
        run.log_metric("rows", float(i))
        run.log_output(str(out), name="part")
        run.end()
    mdb.flush()
    stored = [r for r in tracking.store.list_runs(limit=100) if r.name == "part"]
    assert len(stored) == 30 and {r.status for r in stored} == {"succeeded"}
    # The watchdog may write part of them before flush() does; never one transaction each.
    assert commits[0] <= 3, f"30 quick runs took {commits[0]} transactions"
    for run in stored:
        detail = tracking.store.get_run_detail(run.id)
        index = detail.params["index"]
        assert detail.metrics == {"rows": float(index)}
        [output] = detail.outputs
        assert output.name == "part" and output.artifact.uri.endswith(f"part-{index}.txt")
        assert output.artifact.size == len(f"part {index}\n")


def test_reading_a_batched_run_id_writes_it(tracking):
    run = _batched("asked")
    run.end()
    assert isinstance(run.id, int)
    assert tracking.store.get_run(run.id).status == "succeeded"


def test_batched_runs_land_without_a_flush(tracking):
    for _ in range(5):
        _batched("unflushed").end()
    deadline = time.monotonic() + 10
    while len([n for n in _names(tracking) if n == "unflushed"]) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _names(tracking).count("unflushed") == 5, "the watchdog writes waiting runs within a tick"


def test_a_bad_run_does_not_cost_its_batch_the_others(tracking, caplog):
    for i in range(3):
        _batched("good", params={"i": i}).end()
    _batched("orphan", pipeline_run_id=10**9).end()  # no such pipeline run: the store refuses it
    _batched("good", params={"i": 3}).end()
    with caplog.at_level("WARNING", logger="modeldb"):
        mdb.flush()
    assert _names(tracking).count("good") == 4
    assert "orphan" not in _names(tracking)
    assert "record the run of orphan" in caplog.text


def test_a_forked_child_does_not_write_its_parents_waiting_runs(tracking):
    import os

    _batched("before_fork").end()
    pid = os.fork()
    if pid == 0:
        try:
            mdb.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    mdb.flush()
    assert _names(tracking).count("before_fork") == 1


def test_waiting_runs_are_written_when_the_process_exits(tracking):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import modeldb_core as mdb
        mdb.configure(uri={tracking.settings.uri!r})
        for i in range(50):
            mdb.start_run("at_exit", params={{"i": i}}, defer=True, batch=True, parent=None).end()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _names(tracking).count("at_exit") == 50


def test_configuring_another_store_writes_the_waiting_runs_first(tracking, tmp_path):
    _batched("left_waiting").end()
    other = mdb.configure(uri=f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert _names(tracking).count("left_waiting") == 1
        assert other.store.list_runs() == []
    finally:
        other.close()


def test_a_store_gone_before_the_batch_is_written_costs_one_attempt_not_one_per_run(postgres_server, caplog):
    uri = postgres_server.new_database()
    client = mdb.configure(uri=uri, store_timeout=5)
    try:
        runs = [_batched("lost", params={"i": i}) for i in range(20)]
        postgres_server.execute(f'DROP DATABASE "{uri.rsplit("/", 1)[1]}" WITH (FORCE)')
        with caplog.at_level("DEBUG", logger="modeldb"):
            for run in runs:
                run.end()  # never raises: the runs wait for their batch
            mdb.flush()
        attempts = [r.getMessage() for r in caplog.records if "could not" in r.getMessage()]
        assert attempts and all("record finished runs" in m for m in attempts), attempts
        assert all(run.id is None for run in runs)
    finally:
        client.close()


@pytest.mark.parametrize("batch", [False, True])
def test_a_quick_failure_is_written_whole_in_one_transaction(tracking, batch):
    mdb.start_run("warm_up", defer=True, parent=None).end()  # environment and code, once a process
    commits = _commits(tracking)
    run = mdb.start_run("broken", defer=True, batch=batch, parent=None, params={"rows": 3})
    run.add_note("input checked by hand")
    run.log_metric("seen", 3.0)
    try:
        raise ValueError("3 rows, 4 expected")
    except ValueError as exc:
        run.end("failed", error=exc)
    mdb.flush()
    assert commits[0] == 1, "one write: the run with its params, metric, note and error"
    detail = tracking.store.get_run_detail(run.id)
    assert (detail.run.status, detail.run.error_type, detail.run.error_message) == (
        "failed", "ValueError", "3 rows, 4 expected")
    assert 'raise ValueError("3 rows, 4 expected")' in detail.run.error_traceback
    assert [n.text for n in detail.notes] == ["input checked by hand"]
    assert detail.params == {"rows": 3} and detail.metrics == {"seen": 3.0}
