"""``--env rebuild``: the run's lock rebuilt into a fresh venv with uv (a real one), and the
run reproduced there."""
from __future__ import annotations

import subprocess

import pytest

import modeldb_core as mdb
from modeldb_core.errors import ReproductionError
from modeldb_core.reproduction.environment import uv_executable

# uv's cache of the real home (the tests run with a home of their own): warm, so the
# venv is made from cached wheels the way a user's second rebuild is.
UV_CACHE = subprocess.run([uv_executable(), "cache", "dir"], capture_output=True, text=True,
                          check=False).stdout.strip()


@pytest.fixture(autouse=True)
def _uv_cache(monkeypatch):
    if UV_CACHE:
        monkeypatch.setenv("UV_CACHE_DIR", UV_CACHE)


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_a_run_reproduces_in_a_venv_rebuilt_from_its_lock(project, tmp_path):
    project.run("train('data.txt', 'out/model.txt')")
    run_id = project.last_run("train")
    verdict = mdb.reproduce(run_id, env="rebuild", workdir=tmp_path / "work")
    assert verdict.verdict == "identical", (verdict.differences, verdict.error)
    venv_python = tmp_path / "work" / "venv" / "bin" / "python"
    listed = subprocess.run([str(venv_python), "-c", "import sqlalchemy, modeldb_core; print(sqlalchemy.__version__)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    detail = mdb.get_client().store.get_run_detail(run_id)
    assert listed == detail.environment.packages["sqlalchemy"]


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_an_unavailable_distribution_is_a_clear_error(project, tmp_path):
    project.run("train('data.txt', 'out/model.txt')")
    run_id = project.last_run("train")
    store = mdb.get_client().store
    # The lock names a version no index has (as when a release was yanked and removed).
    from modeldb_core.store.sql_store import SqlStore
    from modeldb_core.store import schema as t
    from sqlalchemy import update
    import json

    assert isinstance(store, SqlStore)
    env_id = store.get_run(run_id).environment_id
    packages = dict(store.get_run_detail(run_id).environment.packages, click="0.0.0.1")
    with store.engine.begin() as conn:
        conn.execute(update(t.environments).where(t.environments.c.id == env_id)
                     .values(packages=json.dumps(packages)))
    with pytest.raises(ReproductionError) as failed:
        mdb.reproduce(run_id, env="rebuild", workdir=tmp_path / "work")
    assert "click==0.0.0.1" in str(failed.value) and "not available" in str(failed.value)
