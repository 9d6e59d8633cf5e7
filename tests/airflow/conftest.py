"""Real Airflow 3.3 for the Airflow suite, in temp dirs, one process.

``pytest_configure`` points ``AIRFLOW_HOME`` and ``HOME`` at temp dirs before
anything imports Airflow; ``airflow db migrate`` runs once per session (the
real CLI). DAGs are defined in the test files themselves: ``run_dag`` writes a
DAG to Airflow's metadata DB (as the DAG processor would) and runs it with
``dag.test()``, so every DAG run of the session shares one process and pays
the ~3.5 s start once.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="modeldb-airflow-"))


def pytest_configure(config):
    home = _ROOT / "airflow"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    (_ROOT / "home").mkdir(exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "HOME": str(_ROOT / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        # The API server signs its JWTs with this (a deployment sets its own).
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
    })


def pytest_unconfigure(config):
    shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB, migrated once by the real ``airflow db migrate``."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True,
                          env=os.environ.copy())
    assert done.returncode == 0, f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}"
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(autouse=True)
def _fresh_listener():
    """Each test starts with the listener's caches and time bound reset."""
    from modeldb_core.integrations.airflow import listener

    listener.reset()
    yield
    listener.reset()
    # The listener bounds the store's own timeouts through this variable (as it
    # should in a worker); it must not carry over to the next test's store.
    os.environ.pop("MODELDB_STORE_TIMEOUT", None)


def _register(dag) -> None:
    """Write ``dag`` to Airflow's DB the way the DAG processor does (dag.test needs it there)."""
    from types import SimpleNamespace

    from airflow.dag_processing.dagbag import sync_bag_to_db

    bag = SimpleNamespace(import_errors={}, bundle_path=None, dags={dag.dag_id: dag},
                          dag_warnings=set(), file_last_changed={})
    sync_bag_to_db(bag, "dags-folder", None)


@pytest.fixture
def run_dag(airflow_db):
    """``run_dag(dag, **conf)`` -> the finished Airflow DagRun of one real ``dag.test()``
    (with ``conf`` as the DAG run's conf)."""

    def run(dag, migrate_store: bool = True, **conf):
        _register(dag)
        if migrate_store:
            # As a deployment runs `modeldb db upgrade` once: a fresh store's
            # migrations are not a task's business (nor inside its time bound).
            import modeldb_core

            if not modeldb_core.get_client().disabled:
                modeldb_core.get_client().store
        return dag.test(run_conf=conf or None)

    return run


@pytest.fixture
def airflow_tracking(sqlite_uri):
    """Tracking into a fresh SQLite store; yields the client."""
    import modeldb_core

    client = modeldb_core.configure(uri=sqlite_uri)
    yield client
    client.close()
