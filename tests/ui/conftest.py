"""A small but complete ModelDB project, recorded with the real tracker, for the UI tests.

Lineage crosses orchestrators: an "airflow" prep run writes a CSV, "python"
training runs read it and write models, an evaluation run reads a model.
One run failed, one run carries a child, one run (and its note, tag and
param) is named like a script injection.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

XSS = "<script>alert(1)</script>"
PROJECT = "churn"
OTHER_PROJECT = "forecast"


def populate(uri: str, workdir: Path) -> dict[str, int]:
    """Record the project into ``uri``; return the ids the tests look for."""
    import modeldb_core
    from modeldb_core import start_run

    client = modeldb_core.configure(uri=uri)
    ids: dict[str, int] = {}
    try:
        data = workdir / "customers.csv"
        with start_run("prepare_customers", project=PROJECT, phase="data_prep", orchestrator="airflow",
                       external_id="churn_dag.prepare", parent=None) as run:
            data.write_text("id,age,churned\n1,31,0\n2,45,1\n3,22,0\n")
            run.log_output(str(data), name="customers")
            run.log_metric("rows", 3)
            ids["prep"] = run.id
        models = []
        for i, (lr, depth) in enumerate([(0.1, 3), (0.05, 5), (0.01, 5)]):
            model = workdir / f"model_{i}.bin"
            with start_run("train_model", project=PROJECT, phase="training", parent=None,
                           params={"learning_rate": lr, "max_depth": depth, "model": "gbm"},
                           tags={"team": "growth" if i < 2 else "risk"}) as run:
                run.log_input(str(data), name="customers")
                for step in range(20):
                    run.log_metric("loss", 1.0 / (step + 1) + lr, step=step)
                run.log_metric("auc", 0.70 + 0.05 * i)
                model.write_bytes(bytes([i]) * 64)
                run.log_output(str(model), name="model")
                ids[f"train{i}"] = run.id
                models.append(model)
        with start_run("evaluate", project=PROJECT, phase="evaluation", parent=None) as run:
            run.log_input(str(models[2]), name="model")
            run.log_metric("auc", 0.81)
            run.log_metric("calibration", math.nan)
            run.add_note("best model so far")
            ids["eval"] = run.id
        with pytest.raises(ZeroDivisionError):
            with start_run("broken_training", project=PROJECT, phase="training", parent=None,
                           params={"learning_rate": 0.5, "max_depth": 1, "model": "gbm"}) as run:
                ids["failed"] = run.id
                1 / 0
        with start_run(XSS, project=PROJECT, phase="training", parent=None,
                       params={"learning_rate": 0.2, "comment": XSS}, tags={"label": XSS}) as run:
            run.add_note(XSS)
            run.log_metric("auc", 0.5)
            ids["xss"] = run.id
            with start_run("inner_step", phase="training") as child:
                child.log_metric("auc", 0.4)
                ids["child"] = child.id
        with start_run("forecast_baseline", project=OTHER_PROJECT, phase="training", parent=None,
                       params={"window": 7}) as run:
            run.log_metric("mape", 0.12)
            ids["other"] = run.id
    finally:
        client.close()
        # Leave no process-wide client pointing at this store: the next get_client() starts
        # from the environment again, as if these tests had not run.
        import modeldb_core.client

        modeldb_core.client._client = None
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def recorded(request, tmp_path_factory):
    """(uri, ids) of a populated store, once per module and database."""
    folder = tmp_path_factory.mktemp("ui-data")
    if request.param == "sqlite":
        uri = f"sqlite:///{folder / 'modeldb.db'}"
    else:
        uri = request.getfixturevalue("postgres_server").new_database()
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(folder)  # tracking writes nothing to the real home
    try:
        ids = populate(uri, folder)
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
    return uri, ids


@pytest.fixture(scope="module")
def app_client(recorded):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    uri, _ = recorded
    with TestClient(create_app(uri)) as client:
        yield client


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium per test module (Playwright cannot download its own).

    Not per session: while Playwright's sync API is open, its event loop counts as running
    in the main thread, so any later test calling ``asyncio.run`` would fail."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """(base URL, ids): the app served by uvicorn in a thread over a populated SQLite store."""
    from tests.conftest import serving

    folder = tmp_path_factory.mktemp("ui-site")
    uri = f"sqlite:///{folder / 'modeldb.db'}"
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(folder)
    try:
        ids = populate(uri, folder)
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
    with serving(uri) as base:
        yield base, ids


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@pytest.fixture
def page(browser, site):
    """A fresh page that fails the test on any console error, page error or outside request."""
    base, _ = site
    # Playwright's wait_for_function evaluates strings, which the app's CSP forbids (no
    # 'unsafe-eval'): these tests lift it; test_service.py checks every page under the real CSP.
    context = browser.new_context(viewport={"width": 1366, "height": 820}, bypass_csp=True)
    problems: list[str] = []
    opened = context.new_page()
    opened.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
              if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def only_local(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            problems.append(f"request outside the app: {route.request.url}")
            route.abort()

    opened.route("**/*", only_local)
    opened.set_default_timeout(10_000)
    yield opened
    context.close()
    assert not problems, problems


@pytest.fixture
def shot(page):
    """``shot("name")`` saves a full-page screenshot under test-artifacts/ui/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return save
