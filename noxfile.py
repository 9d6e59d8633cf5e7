"""The test command: `nox` runs every suite, each in its own environment.

Airflow 3.3 and Prefect 3.9 cannot share an environment (their FastAPI pins
conflict), so they get a session each; everything else runs in `tests`, against
an editable install. `package` tests the release as built: sdist, wheel, and the
wheel installed into fresh venvs.
"""
from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "package", "prefect", "airflow", "lifecycle", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


def _require(session: nox.Session, module: str, version_prefix: str) -> None:
    """Fail the session unless ``module`` is installed at ``version_prefix``*."""
    session.run("python", "-c", f"import {module}, sys; v = {module}.__version__; "
                f"sys.exit(0 if v.startswith({version_prefix!r}) else "
                f"f'{module} {{v}} installed, {version_prefix}x required')")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Core, store, query, CLI, scikit-learn, Luigi and web UI suites."""
    session.install("-e", ".[test,postgres,sklearn,ui,luigi]", "playwright>=1.45", "ruff>=0.6")
    session.run("ruff", "check", ".")
    # One worker per CPU, each taking whole files (a file's tests share its fixtures and order);
    # each worker starts its own PostgreSQL server. `-n 0` runs in one process.
    session.run("pytest", "tests", "--ignore=tests/prefect", "--ignore=tests/airflow",
                "--ignore=tests/package", "--ignore=tests/lifecycle", "--durations=15",
                "-n", "auto", "--dist", "loadfile", *session.posargs)


@nox.session(python=PYTHON)
def package(session: nox.Session) -> None:
    """The sdist and wheel as built: checked, installed non-editable with each extra, run whole."""
    # Deliberately not installing the project: the tests install the wheel they build.
    session.install("build[uv]", "twine", "uv", "pytest", "psycopg[binary]>=3.2")
    # Its own temp root: the venvs it makes stay apart from other pytest runs on the machine.
    session.run("pytest", "tests/package", f"--basetemp={session.create_tmp()}/pytest", *session.posargs)


@nox.session(python=PYTHON)
def prefect(session: nox.Session) -> None:
    """Prefect 3.9 in its own environment (with Luigi: their runs share one lineage graph)."""
    session.install("-e", ".[test,postgres,prefect,luigi]")
    # Refuse a silently downgraded Prefect (a shared environment resolves 3.7).
    _require(session, "prefect", "3.9.")
    session.run("pytest", "tests/prefect", *session.posargs)


@nox.session(python=PYTHON)
def airflow(session: nox.Session) -> None:
    """Airflow 3.3 in its own environment (with Luigi: their runs share one lineage graph), and
    Airflow's OpenLineage provider emitting to a real ``modeldb server`` (tests/airflow/test_openlineage_provider.py)."""
    session.install("-e", ".[test,postgres,airflow,sklearn,luigi,server]", "apache-airflow-providers-openlineage>=2.0")
    _require(session, "airflow", "3.3.")
    session.run("pytest", "tests/airflow", *session.posargs)


@nox.session(python=PYTHON)
def lifecycle(session: nox.Session) -> None:
    """A model's whole life across Airflow, Luigi and Prefect against one store (tests/lifecycle).

    Airflow and Prefect cannot share an environment: the session's own is Airflow's, and it
    builds a second one for Prefect, whose interpreter the tests run the Prefect steps with
    (``MODELDB_PREFECT_PYTHON``)."""
    session.install("-e", ".[test,postgres,airflow,sklearn,luigi,monitoring]")
    _require(session, "airflow", "3.3.")
    prefect_env = Path(session.create_tmp()).resolve() / "prefect-venv"
    if not (prefect_env / "bin" / "python").exists():
        session.run("uv", "venv", "--quiet", "--python", PYTHON, str(prefect_env), external=True)
    prefect_python = str(prefect_env / "bin" / "python")
    session.run("uv", "pip", "install", "--quiet", "--python", prefect_python,
                "-e", ".[prefect,postgres,sklearn,monitoring,luigi]", external=True)
    session.run(prefect_python, "-c", "import prefect, sys; v = prefect.__version__; "
                "sys.exit(0 if v.startswith('3.9.') else f'prefect {v} installed, 3.9.x required')", external=True)
    # The scenario starts ~30 processes (the modeldb command, the Prefect server and flows). This
    # machine sets PYTHONDONTWRITEBYTECODE and uv writes no bytecode: without it each process would
    # compile SQLAlchemy (and Prefect) from source. Compiled once; a reused environment skips it.
    # (Exit status 1: a few files of other Python versions, e.g. whenever/_typing_312.py, do not compile.)
    session.run(prefect_python, "-m", "compileall", "-q", "-j", "0",
                _site_packages(session, prefect_python), silent=True, external=True, success_codes=[0, 1])
    session.run("python", "-m", "compileall", "-q", "-j", "0", *[
        str(Path(_site_packages(session, "python")) / name) for name in ("sqlalchemy", "alembic", "psycopg")],
        silent=True, success_codes=[0, 1])
    session.run("pytest", "tests/lifecycle", *session.posargs, env={"MODELDB_PREFECT_PYTHON": prefect_python})


def _site_packages(session: nox.Session, python: str) -> str:
    return session.run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                       silent=True, external=True).strip()


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site (docs/, mkdocs.yml); --strict fails on a broken link or anchor."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")
