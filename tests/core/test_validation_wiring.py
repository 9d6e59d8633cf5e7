"""Boundary checks that need a call in run.py / task.py (the lead's files) to take effect.

Each test names the call it needs (see docs/security.md, "Where the checks are called").
They go through the public API only, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt

import pytest

import modeldb_core as mdb
from modeldb_core.errors import ValidationError

UTC = dt.timezone.utc


def _only_run(client, name):
    runs = [r for r in client.store.list_runs(limit=1000) if r.name.endswith(name)]
    assert len(runs) == 1, runs
    return client.store.get_run_detail(runs[0].id)


# needs, in start_run: started_at = validation.optional_timestamp("started_at", started_at)
def test_start_run_takes_an_aware_datetime_and_refuses_text(tracking):
    moment = dt.datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    with mdb.start_run("backfill", started_at=moment) as run:
        pass
    stored = tracking.store.get_run_detail(run.id).run
    assert stored.started_at == moment.timestamp() and isinstance(stored.started_at, float)
    for bad in ("2026-11-30", dt.datetime(2026, 11, 30)):
        with pytest.raises(ValidationError) as raised:
            mdb.start_run("bad", started_at=bad)
        assert raised.value.field == "started_at"
    assert [r.name for r in tracking.store.list_runs()] == ["backfill"]  # listing still works


# needs, in ActiveRun.log_metric: timestamp = validation.optional_timestamp(f"metrics.{key} timestamp", timestamp)
def test_log_metric_refuses_a_text_timestamp_and_the_run_goes_on(tracking):
    moment = dt.datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    with mdb.start_run("series") as run:
        with pytest.raises(ValidationError) as raised:
            run.log_metric("loss", 0.5, timestamp="not-a-time")
        assert raised.value.field == "metrics.loss timestamp"
        run.log_metric("loss", 0.4, step=1, timestamp=moment)
        run.log_metric("loss", 0.3, step=2)
    history = tracking.store.metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.4), (2, 0.3)]
    assert history[0].timestamp == moment.timestamp()
    assert tracking.store.get_run_detail(run.id).run.status == "succeeded"


# needs, in ActiveRun.log_params: key = validation.key("params key", key); and in log_metric:
# key = validation.key("metrics key", key) (the NFC form is what validation.key returns)
def test_keys_logged_one_by_one_are_normalized_too(tracking):
    with mdb.start_run("nfc") as run:
        run.log_param("cafe\u0301", 1)
        run.log_param("caf\u00e9", 1)  # the same key: no conflict
        run.log_metric("re\u0301sultat", 0.5)
    detail = tracking.store.get_run_detail(run.id)
    assert detail.params == {"caf\u00e9": 1}
    assert detail.metrics == {"r\u00e9sultat": 0.5}


# needs: param_rule.normalize(value, key=key) wherever run.py normalizes a param (start_run, log_params)
def test_params_whose_key_names_a_secret_are_stored_masked(tracking):
    with mdb.start_run("deploy", params={"db_password": "S3cret"}) as run:
        run.log_param("api_key", "sk-live-123")
        run.log_params({"AWS_SECRET_ACCESS_KEY": "wJalr", "region": "eu"})
    assert tracking.store.get_run_detail(run.id).params == {
        "db_password": "***", "api_key": "***", "AWS_SECRET_ACCESS_KEY": "***", "region": "eu"}

    @mdb.tracked_task
    def connect(host, password):
        return host

    connect("db", password="hunter2")
    assert _only_run(tracking, "connect").params == {"host": "db", "password": "***"}


# needs, in run.mark_end: pending.error_type, pending.error_message, pending.error_traceback = \
#     redaction.describe_error(error)
def test_error_messages_and_tracebacks_are_stored_redacted(tracking):
    @mdb.tracked_task
    def load(url):
        password = "hunter2"  # noqa: F841 - shown in the traceback's locals? never: only its source line
        raise ConnectionError(f"could not connect to postgresql://admin:S3cret@db/x with password={password}")

    with pytest.raises(ConnectionError, match="S3cret"):  # the user's own exception is untouched
        load("postgresql://admin:S3cret@db/x")
    run = _only_run(tracking, "load").run
    assert run.status == "failed" and run.error_type == "ConnectionError"
    for text in (run.error_message, run.error_traceback):
        assert "S3cret" not in text and "hunter2" not in text
    assert "postgresql://admin:***@db/x" in run.error_message and "password=***" in run.error_message


# needs, in ActiveRun.add_note: text = validation.text("note", text, validation.MAX_NOTE)
def test_notes_are_stored_redacted(tracking):
    with mdb.start_run("noted") as run:
        run.add_note("rotated: token=abc123, see https://ops:pw@wiki/x")
    assert [n.text for n in tracking.store.get_run_detail(run.id).notes] == [
        "rotated: token=***, see https://ops:***@wiki/x"]


# needs, in task._Tracker.begin: `with fp.call_budget():` around call.params_and_inputs() and the
# declared inputs, so a call's arguments share one budget
def test_the_arguments_of_one_call_share_one_fingerprint_budget(tracking, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDB_FINGERPRINT_BYTES", "1000")
    client = mdb.configure(uri=tracking.settings.uri)
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"a" * 800)
    second.write_bytes(b"b" * 800)

    @mdb.tracked_task
    def join(left, right):
        return 1

    join(str(first), str(second))
    methods = {io.name: io.artifact.fingerprint_method for io in _only_run(client, "join").inputs}
    assert methods == {"left": "full", "right": "budget_exceeded"}
    client.close()


# needs, in store/engine.py _sqlite_engine: files.prepare_sqlite_file(database) instead of the parent mkdir
def test_a_tracked_store_file_is_created_private(tmp_path):
    import stat

    client = mdb.configure(uri=f"sqlite:///{tmp_path / 'private' / 'modeldb.db'}")
    with mdb.start_run("one"):
        pass
    client.close()
    assert stat.S_IMODE((tmp_path / "private" / "modeldb.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
