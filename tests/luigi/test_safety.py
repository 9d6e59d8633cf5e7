"""Tracking never breaks the build: store errors are logged, results are Luigi's own."""
from __future__ import annotations

import logging
import os

import luigi
import pytest
from sqlalchemy import text

import modeldb_core
from modeldb_core.integrations import luigi as mdb_luigi

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}


@pytest.fixture
def tracked():
    mdb_luigi.track()
    yield
    mdb_luigi.untrack()


def test_unreachable_store_the_build_succeeds_or_fails_on_its_own(tracked, pipeline, folder, caplog):
    client = modeldb_core.configure(uri="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    try:
        with caplog.at_level(logging.WARNING, logger="modeldb"):
            assert luigi.build([pipeline.TrainModel(folder=folder)], workers=2, **BUILD) is True
            assert luigi.build([pipeline.TrainModel(folder=folder, C=9.0, fail=True)], **BUILD) is False
    finally:
        client.close()
    assert os.path.exists(os.path.join(folder, "model-7-C1.0.pkl"))
    assert not os.path.exists(os.path.join(folder, "model-7-C9.0.pkl"))
    # One line for the outage; what the builds recorded waits in the journal.
    assert [r.getMessage() for r in caplog.records].count(next(
        m for m in (r.getMessage() for r in caplog.records) if "cannot write to its store" in m)) == 1


class Saboteur(luigi.Task):
    """Writes its output, then breaks the store under the tracker's feet."""

    folder = luigi.Parameter()
    uri = luigi.Parameter(significant=False)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "sabotage.txt"))

    def run(self):
        with self.output().open("w") as fh:
            fh.write("done")
        from sqlalchemy import create_engine

        engine = create_engine(self.uri)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE run_io"))
        engine.dispose()


class AfterSabotage(luigi.Task):
    folder = luigi.Parameter()
    uri = luigi.Parameter(significant=False)

    def requires(self):
        return Saboteur(folder=self.folder, uri=self.uri)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "after.txt"))

    def run(self):
        with self.input().open("r") as src, self.output().open("w") as dst:
            dst.write(src.read() + " and after")


def test_store_error_inside_a_handler_is_logged_and_the_build_goes_on(luigi_tracking, store_uri, folder, caplog):
    luigi_tracking.open_store()  # the schema exists before the saboteur breaks it
    with caplog.at_level(logging.WARNING, logger="modeldb"):
        assert luigi.build([AfterSabotage(folder=folder, uri=store_uri)], **BUILD) is True
        # The writer meets the broken table when it writes, which may be after the build.
        names = {r.name for r in luigi_tracking.store.list_runs()}
    with open(os.path.join(folder, "after.txt")) as fh:
        assert fh.read() == "done and after"
    messages = [r.getMessage() for r in caplog.records if r.name == "modeldb"]
    assert any(m.startswith("ModelDB could not") and "run_io" in m for m in messages), messages
    # What did not need the broken table still landed.
    assert names == {"Saboteur", "AfterSabotage"}


def test_disabled_tracking_records_nothing(tracked, pipeline, folder, sqlite_uri):
    modeldb_core.configure(uri=sqlite_uri, disabled=True)
    assert luigi.build([pipeline.CleanData(folder=folder)], **BUILD)
    client = modeldb_core.configure(uri=sqlite_uri)
    try:
        assert client.store.list_runs() == []
    finally:
        client.close()


def test_an_interrupted_build_leaves_its_task_killed_not_running(sqlite_uri, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "interrupted.py"
    script.write_text(f"""
import luigi, modeldb_core
from modeldb_core.integrations import luigi as mdb_luigi

modeldb_core.configure(uri={sqlite_uri!r})
mdb_luigi.track()

class Interrupted(luigi.Task):
    def output(self):
        return luigi.LocalTarget({str(tmp_path / 'never.txt')!r})

    def run(self):
        raise KeyboardInterrupt

luigi.build([Interrupted()], local_scheduler=True, no_lock=True, log_level="ERROR")
""")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    client = modeldb_core.configure(uri=sqlite_uri)
    try:
        [run] = client.store.list_runs()
        assert (run.name, run.status) == ("Interrupted", "killed")
    finally:
        client.close()
