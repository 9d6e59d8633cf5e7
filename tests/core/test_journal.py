"""The tracking runtime: the journal, idempotent and order-independent events, replay.

Real SQLite files and real PostgreSQL servers, real processes and signals.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import modeldb_core as mdb
from modeldb_core import events as ev, journal, replay
from modeldb_core.store import open_store


def _cli(uri: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modeldb_core.cli", "--uri", uri, *args],
                          capture_output=True, text=True, timeout=300, env=env)


# -- the journal file ---------------------------------------------------------------------
def _track_in_subprocess(uri: str, body: str, home: Path, **env) -> subprocess.Popen:
    script = textwrap.dedent("""
        import sys, time, modeldb_core as mdb
        mdb.configure(uri=sys.argv[1])
    """) + textwrap.dedent(body)
    environment = {**os.environ, "HOME": str(home), **{k: str(v) for k, v in env.items()}}
    return subprocess.Popen([sys.executable, "-c", script, uri], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment)


def test_a_torn_last_record_is_reported_and_everything_before_it_replays(sqlite_uri, tmp_path):
    home = tmp_path / "h"
    proc = _track_in_subprocess("postgresql+psycopg://nobody@127.0.0.1:1/none", """
        with mdb.start_run("torn", project="journal") as run:
            for i in range(50):
                run.log_metric("m", float(i))
    """, home, MODELDB_EXIT_TIMEOUT=0.5)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    folders = list((home / ".modeldb" / "journal").iterdir())
    from modeldb_core import handoff

    assert handoff.wait(folders[0], patience=60)  # the background writer gave up: store down
    [path] = journal.journals(folders[0])
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last record cut mid-write
    contents = journal.read(path)
    assert contents.torn and "cut short" in contents.torn
    kinds = [e.kind for _, e in contents.events]
    assert kinds.count(ev.METRIC) >= 49 and ev.STARTED in kinds
    store = open_store(sqlite_uri)
    with next(journal.orphans(folders[0])) as orphan:
        result = replay.replay_file(store, orphan)
    assert result.torn == contents.torn and result.runs == 1
    [run] = store.list_runs(project="journal")
    points = store.metric_history(run.uuid, "m")
    assert [p.value for p in points] == [float(i) for i in range(len(points))] and len(points) >= 49
    # If the torn record was the end, the run was open: the replay ends it killed.
    assert run.status == ("succeeded" if ev.ENDED in kinds else "killed")
    store.close()


@pytest.mark.parametrize("after", [0.1, 0.5, 5.0])
def test_sigkill_during_a_run_loses_nothing_logged_before_it(sqlite_uri, tmp_path, after):
    home = tmp_path / "h"
    proc = _track_in_subprocess(sqlite_uri, """
        @mdb.tracked_task(project="killed")
        def work(n):
            mdb.set_tag("stage", "started")
            mdb.add_note("before the kill")
            for i in range(n):
                mdb.log_metric("step", float(i))
                print(i, flush=True)
                time.sleep(0.001)
        work(10_000_000)
    """, home)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    logged = len(out.split())  # metrics the process had logged (and said so) before it died
    synced = _cli(sqlite_uri, "sync", env={**os.environ, "HOME": str(home)})
    assert synced.returncode == 0, synced.stderr
    store = open_store(sqlite_uri)
    runs = store.list_runs(project="killed")
    if logged == 0 and not runs:
        # Killed before the run started (the interpreter was still importing): nothing to keep.
        assert after < 1
        return
    [run] = runs
    detail = store.get_run_detail(run.uuid)
    assert run.status == "killed"
    assert detail.params == {"n": 10_000_000}
    assert detail.tags.get("stage") == "started"
    assert [n.text for n in detail.notes] == ["before the kill"]
    assert len(detail.metric_history.get("step", [])) >= logged
    store.close()


def test_sqlite_locked_by_another_process_does_not_hold_the_tasks(sqlite_uri, tmp_path):
    path = sqlite_uri.removeprefix("sqlite:///")
    open_store(sqlite_uri).close()  # the schema exists; now someone holds the write lock
    released = tmp_path / "released"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3, time, pathlib
        conn = sqlite3.connect({path!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep(8)
        conn.execute("ROLLBACK")
        pathlib.Path({str(released)!r}).write_text("x")
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    proc = _track_in_subprocess(sqlite_uri, f"""
        import pathlib
        @mdb.tracked_task(project="locked")
        def step(i):
            mdb.log_metric("x", i)
            return i
        for i in range(100):
            step(i)
        # Every call returned while the lock was still held: none of them waited for it.
        print("released before the calls ended:", pathlib.Path({str(released)!r}).exists(), flush=True)
    """, tmp_path / "h", MODELDB_EXIT_TIMEOUT=30)
    out, err = proc.communicate(timeout=120)
    holder.wait(timeout=60)
    assert proc.returncode == 0, err
    assert "released before the calls ended: False" in out
    # The lock reaches the user as one line when the outage starts (and one when it ends).
    locked = [line for line in err.splitlines() if "locked" in line]
    assert len(locked) <= 1 and all(line.startswith("ModelDB cannot write to its store") for line in locked), err
    from modeldb_core import handoff

    # The writer was still waiting for the lock to open the store when the script ended: the
    # script handed its journal to a background writer, which writes it once the lock is free.
    assert handoff.wait(journal.folder_for(tmp_path / "h" / ".modeldb" / "journal", sqlite_uri), patience=60)
    store = open_store(sqlite_uri)
    runs = store.list_runs(project="locked", limit=1000)
    assert len(runs) == 100 and {r.status for r in runs} == {"succeeded"}
    assert all("x" in store.get_run_detail(r.uuid).metrics for r in runs[:5])
    store.close()


def test_postgres_down_during_the_process_everything_lands_once_after_sync(postgres_server, tmp_path):
    from tests.conftest import PostgresServer

    server = PostgresServer(postgres_server.bin).start()
    try:
        uri = server.new_database()
        open_store(uri).close()
        server._run(str(server.bin / "pg_ctl"), "-D", str(server.data), "-m", "fast", "-w", "stop")
        home = tmp_path / "h"
        proc = _track_in_subprocess(uri, """
            @mdb.tracked_task(project="outage", phase="training")
            def train(lr=0.1, epochs=2031):
                for i in range(epochs):
                    mdb.log_metric("loss", 1.0 / (i + 1))
                mdb.set_tag("team", "pricing")
                mdb.add_note("trained while the store was down")
                return lr
            train()
        """, home, MODELDB_EXIT_TIMEOUT=1)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        from modeldb_core import handoff

        # The process handed its journal to a background writer, which finds the store down.
        assert handoff.wait(journal.folder_for(home / ".modeldb" / "journal", uri), patience=60)
        server._run(str(server.bin / "pg_ctl"), "-D", str(server.data), "-w", "-l", str(server.dir / "log"),
                    "-o", f"-p {server.port} -k {server.dir} -c listen_addresses=127.0.0.1", "start")
        env = {**os.environ, "HOME": str(home)}
        pending = _cli(uri, "sync", "--dry-run", env=env)
        assert "process gone" in pending.stdout, pending.stdout
        for _ in range(2):  # syncing twice writes it once
            synced = _cli(uri, "sync", env=env)
            assert synced.returncode == 0, synced.stderr
        store = open_store(uri)
        [run] = store.list_runs(project="outage")
        detail = store.get_run_detail(run.uuid)
        assert run.status == "succeeded"
        assert len(detail.metric_history["loss"]) == 2031
        assert detail.params == {"lr": 0.1, "epochs": 2031}
        assert detail.tags == {"team": "pricing"}
        assert [n.text for n in detail.notes] == ["trained while the store was down"]
        store.close()
    finally:
        try:
            server.stop()
        except RuntimeError:  # stopped by the test itself
            import shutil

            shutil.rmtree(server.dir, ignore_errors=True)


def test_the_next_tracked_process_replays_what_a_dead_one_left(sqlite_uri, tmp_path):
    home = tmp_path / "h"
    first = _track_in_subprocess(sqlite_uri, """
        import os, signal
        run = mdb.start_run("left-open", project="replay")
        run.log_param("a", 1)
        run.log_metric("m", 2.0)
        os.kill(os.getpid(), signal.SIGKILL)
    """, home)
    first.wait(timeout=60)
    second = _track_in_subprocess(sqlite_uri, """
        with mdb.start_run("later", project="replay"):
            pass
        from modeldb_core.client import get_client
        # A script that tracks and then reads: the read waits for this process's events,
        # and the writer replays a dead process's journal before them.
        print(sorted(r.name for r in get_client().store.list_runs(project="replay")))
    """, home)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "['later', 'left-open']" in out
    store = open_store(sqlite_uri)
    runs = {r.name: r for r in store.list_runs(project="replay")}
    assert runs["left-open"].status == "killed" and runs["later"].status == "succeeded"
    assert store.get_run_detail(runs["left-open"].uuid).params == {"a": 1}
    assert journal.pending(journal.folder_for(home / ".modeldb" / "journal", sqlite_uri)) == []
    store.close()


def test_over_its_cap_the_journal_drops_metrics_first_never_params_or_status(tmp_path, sqlite_uri):
    client = mdb.configure(uri="postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        client.settings.__dict__  # frozen settings: make a runtime with a small cap
        from dataclasses import replace

        from modeldb_core.runtime import Runtime

        client._runtime = Runtime(replace(client.settings, journal_max_bytes=20_000), client.open_store)
        with mdb.start_run("capped", project="cap", client=client) as run:
            for i in range(2_000):
                run.log_metric("m", float(i))
            run.log_param("kept", "yes")
            run.set_tag("also", "kept")
        assert client.runtime.dropped > 0
        path = client.runtime.journal_path
        contents = journal.read(path, start=0)
        kinds = [e.kind for _, e in contents.events]
        assert ev.PARAMS in kinds and ev.TAGS in kinds and ev.ENDED in kinds
        assert kinds.count(ev.METRIC) < 2_000
    finally:
        client.close()


def test_a_script_reads_its_own_runs_at_once(tracking):
    @mdb.tracked_task(project="own")
    def f(x):
        mdb.log_metric("y", x * 2)
        return x

    for i in range(20):
        f(i)
    page = mdb.search_runs("metrics.y >= 0", project="own", limit=100)
    assert len(page.runs) == 20


def test_a_record_cut_short_in_the_mapped_journal_is_reported_and_pending_counts_records_only(tmp_path):
    # A process killed while its record was being copied leaves the record's tail as the
    # zeros the journal was allocated with: the checksum catches it.
    log = journal.Journal(tmp_path / "j")
    records = [journal.encode(ev.Event(ev.METRIC, "r", n, ["m", float(n), n, 1.0])) for n in range(3)]
    for record in records:
        log.append(record)
    log.sync()
    size = log.path.stat().st_size
    assert size >= journal.FIRST_CHUNK > log.end  # allocated ahead, zeros past the records
    [(path, waiting, alive)] = journal.pending(tmp_path / "j")
    assert (path, waiting, alive) == (log.path, log.end, True)
    log.map[log.end - 7:log.end] = bytes(7)
    contents = journal.read(log.path)
    assert [e.seq for _, e in contents.events] == [0, 1]
    assert contents.torn and "checksum" in contents.torn
    # Past the first chunk the journal grows, and everything stays readable.
    big = journal.encode(ev.Event(ev.NOTE, "r", 9, {"text": "x" * journal.FIRST_CHUNK, "at": 1.0}))
    log.map[log.end - 7:log.end] = records[2][-7:]
    log.append(big)
    assert [e.seq for _, e in journal.read(log.path).events] == [0, 1, 2, 9]
    log.close(remove=False)
    assert log.path.stat().st_size == log.end  # the zeros allocated ahead are given back
    assert [e.seq for _, e in journal.read(log.path).events] == [0, 1, 2, 9]


def test_sigterm_ends_the_run_killed_and_the_process_still_stops(sqlite_uri, tmp_path):
    home = tmp_path / "h"
    proc = _track_in_subprocess(sqlite_uri, """
        import signal
        seen = []
        signal.signal(signal.SIGTERM, lambda *_: (seen.append(1), print("own handler ran", flush=True),
                                                  sys.exit(3)))
        with mdb.start_run("terminated", project="sigterm") as run:
            run.log_metric("m", 1.0)
            print("running", flush=True)
            time.sleep(60)
    """, home)
    assert proc.stdout.readline().strip() == "running"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "own handler ran" in out, err  # the handler before ours still runs
    store = open_store(sqlite_uri)
    from modeldb_core import handoff

    # What the writer did not store within exit_timeout (a loaded machine) is in the journal,
    # or with a background writer if the store was not open yet when the signal came.
    for folder in (home / ".modeldb" / "journal").iterdir():
        assert handoff.wait(folder, patience=60)
        replay.replay_folder(store, folder)
    [run] = store.list_runs(project="sigterm")
    assert run.status == "killed" and "SIGTERM" in run.error_message
    assert store.get_run_detail(run.id).metrics == {"m": 1.0}
    store.close()


# -- the exit of a short script: the journal handed to a background writer -----------------
def _script_with_one_call(tmp_path: Path) -> Path:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import sys
        import modeldb_core as mdb

        @mdb.tracked_task(project="handoff", phase="training")
        def train(rows, learning_rate=0.1):
            return sum(rows) * learning_rate

        print(train([1.0, 2.0, 3.0]))
        # what the process had loaded when the user's work was done
        print("sqlalchemy" in sys.modules)
    """))
    return script


def test_a_short_script_exits_without_opening_the_store_and_its_run_lands(sqlite_uri, tmp_path):
    home = tmp_path / "h"
    env = {**os.environ, "HOME": str(home), "MODELDB_URI": sqlite_uri}
    done = subprocess.run([sys.executable, str(_script_with_one_call(tmp_path))], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0.6000000000000001", "False"]
    assert done.stderr == ""
    # A read through ModelDB right away (the CLI) waits for the handed-off journal.
    listed = _cli(sqlite_uri, "runs", "list", "--project", "handoff", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    import json

    (run,) = json.loads(listed.stdout)
    assert run["status"] == "succeeded" and run["name"] == "train"
    store = open_store(sqlite_uri)
    detail = store.get_run_detail(run["id"])
    assert detail.params == {"rows": [1.0, 2.0, 3.0], "learning_rate": 0.1}
    # The environment, captured by the background writer (the same interpreter), and the
    # code version, captured by the script itself before it handed off.
    assert detail.environment is not None and detail.environment.python_version == sys.version.split()[0]
    assert detail.code_version is not None and detail.code_version.function == "__main__.train"
    store.close()
    folder = journal.folder_for(home / ".modeldb" / "journal", sqlite_uri)
    assert journal.journals(folder) == []


def test_when_the_background_writer_cannot_write_the_journal_stays_for_the_next_process(tmp_path):
    home = tmp_path / "h"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    uri = f"sqlite:///{blocked / 'modeldb.db'}"
    env = {**os.environ, "HOME": str(home), "MODELDB_URI": uri}
    done = subprocess.run([sys.executable, str(_script_with_one_call(tmp_path))], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = journal.folder_for(home / ".modeldb" / "journal", uri)
    from modeldb_core import handoff

    assert handoff.wait(folder, patience=60)
    ((path, waiting, alive),) = journal.pending(folder)
    assert waiting > 0 and not alive
    # The store comes back: `modeldb sync` writes what was kept, once.
    blocked.unlink()
    blocked.mkdir()
    synced = _cli(uri, "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    store = open_store(uri)
    (run,) = store.list_runs(project="handoff")
    assert run.status == "succeeded"
    store.close()


def test_with_the_handoff_off_the_exit_writes_the_run_itself(sqlite_uri, tmp_path):
    home = tmp_path / "h"
    env = {**os.environ, "HOME": str(home), "MODELDB_URI": sqlite_uri, "MODELDB_EXIT_HANDOFF": "0"}
    done = subprocess.run([sys.executable, str(_script_with_one_call(tmp_path))], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    store = open_store(sqlite_uri)  # no wait: the process wrote it before it ended
    (run,) = store.list_runs(project="handoff")
    assert run.status == "succeeded"
    store.close()
    assert journal.journals(journal.folder_for(home / ".modeldb" / "journal", sqlite_uri)) == []


@pytest.mark.parametrize("bad", [b'{"not": "closed"', b'["metric","r",7,["m",1.0,7,1.0]],["note","r",8,{}]',
                                 b'["no such kind","r",7,{}]', b'{"a": 1}', b'[["metric","r",7,["m",1.0,7,1.0]],"junk"]'])
def test_a_checked_record_that_is_no_event_stops_the_read_after_what_came_before(tmp_path, bad):
    # A record whose checksum holds but whose payload is not one event (written by something
    # else than ModelDB): everything before it is read, and the read says where it stopped.
    import struct
    import zlib

    log = journal.Journal(tmp_path / "j")
    for n in range(3):
        log.append(journal.encode(ev.Event(ev.METRIC, "r", n, ["m", float(n), n, 1.0])))
    at = log.end
    log.append(struct.pack(">II", len(bad), zlib.crc32(bad)) + bad)
    log.append(journal.encode(ev.Event(ev.METRIC, "r", 9, ["m", 9.0, 9, 1.0])))
    log.sync()
    contents = journal.read(log.path)
    assert [e.seq for _, e in contents.events] == [0, 1, 2]
    assert [offset for offset, _ in contents.events][-1] == at
    assert contents.torn and contents.torn.startswith(f"an unreadable record at byte {at}")
    log.close(remove=False)


def test_events_past_the_in_memory_bound_are_read_back_from_the_journal_a_batch_at_a_time(tracking, monkeypatch):
    # A long outage (or a burst) fills the writer's queue: what follows waits in the journal
    # only, and the writer reads it back a batch at a time, in order, all of it.
    from modeldb_core import runtime

    monkeypatch.setattr(runtime, "MAX_IN_MEMORY", 10)
    monkeypatch.setattr(runtime, "MAX_BATCH", 7)

    @mdb.tracked_task(project="spill")
    def f(x):
        for step in range(3):
            mdb.log_metric("y", x + step, step=step)
        mdb.set_tag("last", str(x))
        return x

    for i in range(40):
        f(i)
    assert tracking.flush(120)
    page = mdb.search_runs("metrics.y >= 0", project="spill", limit=100)
    assert len(page.runs) == 40 and {r.status for r in page.runs} == {"succeeded"}
    detail = tracking.store.get_run_detail(page.runs[0].id)
    assert len(detail.metric_history["y"]) == 3 and detail.tags["last"] == str(int(detail.params["x"]))


def test_a_replay_reads_a_journal_a_batch_at_a_time_and_joins_definitions_journaled_after_their_runs(
        sqlite_uri, tmp_path, monkeypatch):
    # The writer journals a definition (the environment) when it first needs it: after the
    # starts that refer to it. A replay, reading a batch at a time, still gives every run it.
    monkeypatch.setattr(replay, "BATCH", 4)
    folder = tmp_path / "j"
    log = journal.Journal(folder)
    runs = [ev.uuid7() for _ in range(5)]
    seq = iter(range(1, 1000))
    for run in runs:
        log.append(journal.encode(ev.Event(ev.STARTED, run, next(seq), {
            "project": "batches", "name": "r", "started_at": 10.0, "pipeline_run": None, "parent": None,
            "params": {"p": 1}, "tags": {}, "env": "env", "code": None})))
        log.append(journal.encode(ev.Event(ev.METRIC, run, next(seq), ["m", 1.0, 0, 11.0])))
    log.append(journal.encode(ev.Event(ev.DEFINE, "env", next(seq), {
        "type": "environment", "hash": "sha256:env", "python_version": "3.11", "platform": "linux",
        "packages": {"x": "1"}})))
    for run in runs[:3]:
        log.append(journal.encode(ev.Event(ev.ENDED, run, next(seq), {"status": "succeeded", "ended_at": 12.0})))
    log.sync()
    log.close(remove=False)
    store = open_store(sqlite_uri)
    [done] = replay.replay_folder(store, folder)
    assert (done.runs, done.killed, done.events, done.torn) == (5, 2, 5 * 2 + 1 + 3 + 2, None)
    for run in runs:
        detail = store.get_run_detail(run)
        assert detail.environment is not None and detail.environment.python_version == "3.11"
        assert detail.params == {"p": 1} and len(detail.metric_history["m"]) == 1
        assert detail.run.status == ("succeeded" if run in runs[:3] else "killed")
    assert journal.journals(folder) == []
    store.close()


def test_a_record_holds_the_same_json_a_journal_of_earlier_versions_held():
    # The caller's encoder is made once (journal.py); its records must stay what earlier
    # versions wrote and read (the JSON of [kind, subject, seq, data], ASCII, NaN allowed),
    # so journals left by either replay with the other.
    import json
    import struct
    import zlib

    event = ev.Event(ev.PARAMS, ev.uuid7(), 7 << 32 | 3, {
        "lr": 0.1, "big": 2 ** 70, "nan": float("nan"), "inf": float("-inf"), "none": None,
        "text": "é\u2028\U0001F600", "list": [1, [2.5, "x"]], "flag": True})
    record = journal.encode(event)
    length, checksum = struct.unpack(">II", record[:8])
    payload = record[8:]
    earlier = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode(event.to_json())
    assert payload == earlier.encode("utf-8") and payload.isascii()
    assert (length, checksum) == (len(payload), zlib.crc32(payload))
    decoded = ev.Event.from_json(json.loads(payload))
    assert decoded.data["nan"] != decoded.data["nan"] and decoded.data["inf"] == float("-inf")
    assert {k: v for k, v in decoded.data.items() if k != "nan"} == \
        {k: v for k, v in event.data.items() if k != "nan"}


def test_other_writers_holding_sqlite_is_contention_not_an_outage(sqlite_uri, caplog):
    import logging
    import sqlite3

    client = mdb.configure(uri=sqlite_uri, store_timeout=0.3)

    @mdb.tracked_task(project="busy")
    def step(i):
        return i

    try:
        step(0)
        assert len(client.store.list_runs(project="busy")) == 1  # the writer's store is open
        holder = sqlite3.connect(sqlite_uri.removeprefix("sqlite:///"), timeout=0)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        with caplog.at_level(logging.WARNING, logger="modeldb"):
            step(1)
            deadline = time.monotonic() + 2.5  # the writer meets the lock several times
            while time.monotonic() < deadline:
                time.sleep(0.1)
            holder.rollback()
            holder.close()
            assert len(client.store.list_runs(project="busy")) == 2
        said = [r.getMessage() for r in caplog.records if "store" in r.getMessage()]
        assert said == [], said
    finally:
        client.close()


def test_events_recorded_together_are_one_record_read_back_whole_or_not_at_all(tmp_path):
    # An orchestrator hook's events (a start, its input, its recipe) are one record: a crash
    # while it was copied loses all of them, never a run without its start.
    log = journal.Journal(tmp_path / "j")
    first = journal.encode(ev.Event(ev.METRIC, "r", 1, ["m", 1.0, 1, 1.0]))
    together = journal.encode(ev.Event(ev.STARTED, "s", 2, {"project": "p", "name": "n", "started_at": 1.0}),
                              ev.Event(ev.TAGS, "s", 3, {"k": "v"}), ev.Event(ev.ENDED, "s", 4, {"status": "succeeded"}))
    end_of_first = log.append(first)
    end = log.append(together)
    contents = journal.read(log.path)
    assert [(offset, e.seq) for offset, e in contents.events] == [(end_of_first, 1), (end, 2), (end, 3), (end, 4)]
    assert contents.torn is None
    assert [e.seq for _, e in journal.read(log.path, start=end_of_first).events] == [2, 3, 4]
    log.map[end - 5:end] = bytes(5)
    contents = journal.read(log.path)
    assert [e.seq for _, e in contents.events] == [1]
    assert contents.torn and "checksum" in contents.torn
    log.close(remove=False)


def test_a_batch_ending_inside_a_record_marks_the_record_applied_only_with_its_last_event(
        tmp_path, sqlite_uri, monkeypatch):
    from modeldb_core import config, runtime

    monkeypatch.setattr(runtime, "MAX_BATCH", 2)
    monkeypatch.setattr(runtime.Runtime, "_ensure_writer", lambda self: None)  # batches written here
    settings = config.resolve(uri=sqlite_uri, journal=str(tmp_path / "journal"))
    store = open_store(sqlite_uri)
    rt = runtime.Runtime(settings, lambda: store)
    run = ev.uuid7()
    with rt.together():
        rt.emit(ev.STARTED, run, {"project": "p", "name": "together", "started_at": 1.0, "params": {"a": 1}})
        rt.emit(ev.TAGS, run, {"k": "v"})
        rt.emit(ev.ENDED, run, {"status": "succeeded", "ended_at": 2.0})
    rt.emit(ev.NOTE, run, {"text": "after", "at": 3.0})
    log = rt._journal
    assert len(journal.read(log.path).events) == 4
    assert rt._write_batch(store)  # the start and the tags: the record is not all applied yet
    assert log.applied == 0
    assert rt._write_batch(store)  # its end, and the note (a record of its own)
    assert log.applied == log.end
    assert not rt._write_batch(store)
    found = store.get_run_detail(run)
    assert found.run.status == "succeeded" and found.tags == {"k": "v"} and found.params == {"a": 1}
    assert [n.text for n in found.notes] == ["after"]
    log.close(remove=True)
    store.close()


def test_ids_made_without_the_uuid_classes_are_the_ones_they_make():
    import random
    import uuid

    rng = random.Random(7)
    for name in ["", "dag/run/task\x1f1", "é漢\x1f" * 20, "x" * 1000]:
        namespace = str(uuid.UUID(int=rng.getrandbits(128)))
        assert ev.name_uuid(namespace, name) == str(uuid.uuid5(uuid.UUID(namespace), name))
    made = [ev.uuid7() for _ in range(100)]
    assert all(uuid.UUID(u).version == 7 and str(uuid.UUID(u)) == u for u in made)
    assert made == sorted(made)


@pytest.mark.parametrize("value", [
    [1, 2.5, float("nan"), float("-inf"), -0.0, True, None, "é\x1f漢\ud800", {"b": 1, "a": [1e308, 10**40]}],
    "text", 3, {"not json": object(), "nested": {"z": 1, "a": (1, 2)}}, []])
def test_json_set_up_once_writes_what_json_dumps_writes(value):
    # Content hashes of values (value:json/<hash>) depend on these exact bytes.
    from modeldb_core import json_text

    assert json_text.encoder(sort_keys=True, default=str)(value) == json.dumps(
        value, sort_keys=True, allow_nan=True, default=str)
    assert json_text.encoder(default=str)(value) == json.dumps(value, allow_nan=True, default=str)


def test_an_event_that_is_no_json_costs_only_itself_when_recorded_together(tracking, caplog):
    caplog.set_level("DEBUG", logger="modeldb")  # reported once a process: later as a debug line
    rt = tracking.runtime
    with mdb.start_run("together", project="together") as run:
        with rt.together():
            run.set_tag("kept", "yes")
            rt.emit(ev.NOTE, run.id, {"text": object(), "at": 1.0})  # what no caller should make
            run.log_param("also", 1)
    assert tracking.flush(60)
    detail = tracking.store.get_run_detail(run.id)
    assert detail.tags["kept"] == "yes" and detail.params["also"] == 1 and detail.run.status == "succeeded"
    assert "journal a note event" in caplog.text
