"""The test command: `nox` runs every suite, each in its own environment.

Airflow 3.3 and Prefect 3.9 cannot share an environment (their FastAPI pins
conflict), so they get a session each; everything else runs in `tests`, against
an editable install. `package` tests the release as built: sdist, wheel, and the
wheel installed into fresh venvs.
"""
from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "package", "prefect", "airflow", "docs"]
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
    session.install("-e", ".[test,postgres,sklearn,ui,luigi]", "playwright>=1.45")
    session.run("pytest", "tests", "--ignore=tests/prefect", "--ignore=tests/airflow",
                "--ignore=tests/package", *session.posargs)


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
def docs(session: nox.Session) -> None:
    """The documentation site (docs/, mkdocs.yml); --strict fails on a broken link or anchor."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")
