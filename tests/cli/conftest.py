"""A store with a small tracked project, and a way to run the real ``modeldb`` command."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner


def pytest_configure(config):
    config.addinivalue_line("markers", "readme: runs the README's commands in a fresh clone (about a minute)")


@dataclass
class Project:
    uri: str
    prep: str
    train_a: str
    train_b: str
    evaluate: str
    failed: str
    raw_path: str
    clean_a: str


def _track(tmp_path) -> dict:
    """A data-prep run, two trainings on two versions of the data, an evaluation, a failure."""
    from modeldb_core import start_run

    raw = tmp_path / "raw.csv"
    raw.write_text("x,y\n1,2\n3,4\n")
    clean = tmp_path / "clean.csv"
    with start_run("prepare", project="pricing", phase="data_prep", parent=None) as run:
        run.log_input(str(raw), name="raw")
        clean.write_text("x,y\n1,2\n")
        run.log_output(str(clean), name="clean")
        prep = run.id
    with start_run("train", project="pricing", phase="training", parent=None,
                   params={"model": "rf", "lr": 0.1, "depth": 9}, tags={"team": "pricing"}) as run:
        run.log_input(str(clean), name="train_data")
        run.log_metric("rmse", 0.9)
        run.log_metric("rmse", 0.8, step=1)
        run.add_note("first try with the holiday features")
        model_a = tmp_path / "model_a.bin"
        model_a.write_bytes(b"a")
        run.log_output(str(model_a), name="model")
        train_a = run.id
    clean_a = clean.read_text()
    clean.write_text("x,y\n1,2\n5,6\n")  # a new version of the same file
    with start_run("train", project="pricing", phase="training", parent=None,
                   params={"model": "rf", "lr": 0.2, "depth": 9}, tags={"team": "pricing"}) as run:
        run.log_input(str(clean), name="train_data")
        run.log_metric("rmse", 0.7)
        train_b = run.id
    with start_run("evaluate", project="pricing", phase="evaluation", parent=None) as run:
        run.log_input(str(model_a), name="model")
        run.log_metric("auc", 0.91)
        evaluate = run.id
    try:
        with start_run("train", project="churn", phase="training", parent=None,
                       params={"model": "gbm", "lr": 0.3}) as run:
            failed = run.id
            raise RuntimeError("out of memory while fitting")
    except RuntimeError:
        pass
    return {"prep": prep, "train_a": train_a, "train_b": train_b, "evaluate": evaluate,
            "failed": failed, "raw_path": str(raw), "clean_a": clean_a}


@pytest.fixture
def tracked(store_uri, tmp_path) -> Project:
    import modeldb_core

    client = modeldb_core.configure(uri=store_uri)
    try:
        ids = _track(tmp_path)
    finally:
        client.close()
    return Project(uri=store_uri, **ids)


@pytest.fixture
def modeldb():
    """Run ``modeldb ARGS...`` in-process through click; returns (exit code, stdout, stderr)."""
    from modeldb_core.cli import cli

    def run(*args: str, env: dict | None = None):
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    yield run
    import modeldb_core.client as client_module

    if client_module._client is not None:
        client_module._client.close()


@pytest.fixture
def web(tracked):
    """The web app over the ``tracked`` store, in process."""
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    with TestClient(create_app(tracked.uri)) as client:
        yield client
