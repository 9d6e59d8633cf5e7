"""The demo as a data scientist opens it in a real Chromium at 1280×800 (docs/models.md).

The models table's first screen shows the main metric and the hyperparameters that vary
without scrolling sideways; the timeline's hover on ``rmse`` (logged by ``evaluate_model``
runs, whose own params are file paths) shows the learning rate of the run that trained the
model; no page is wider than the window. Screenshots go to test-artifacts/ui/.
"""
from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from tests.conftest import serving

from .conftest import ARTIFACTS

WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """(base URL, the demo's models): ``modeldb demo`` recorded into SQLite, served by uvicorn."""
    import modeldb_core.client
    from modeldb_core.demo import run_demo

    folder = tmp_path_factory.mktemp("demo-site")
    uri = f"sqlite:///{folder / 'modeldb.db'}"
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            models = run_demo(uri=uri, workdir=str(folder / "demo"))
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
        if modeldb_core.client._client is not None:
            modeldb_core.client._client.close()
        modeldb_core.client._client = None
    with serving(uri) as base:
        yield base, models


@pytest.fixture
def laptop(browser, demo_site):
    """A 1280×800 page that fails the test on a console error, a page error or an outside request."""
    base, _ = demo_site
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, bypass_csp=True)
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def only_local(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            problems.append(f"request outside the app: {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert not problems, problems


def _save(page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def _on_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH and box["y"] + box["height"] <= HEIGHT


def test_the_models_table_first_screen_shows_the_main_metric_and_the_varying_params(laptop, demo_site):
    base, models = demo_site
    laptop.goto(base + "/projects/house-prices/trained")
    _save(laptop, "20-models-first-screen")
    _save(laptop, "20b-models-full", full_page=True)
    widths = laptop.evaluate("""() => {
        const wrap = document.querySelector('.table-wrap');
        return [document.documentElement.scrollWidth, document.documentElement.clientWidth,
                wrap.scrollWidth, wrap.clientWidth];
    }""")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths  # no horizontal scroll
    headers = laptop.locator("#models-table thead tr:last-child th").evaluate_all(
        "ths => ths.map(t => t.getAttribute('data-key'))")
    assert "metrics.rmse" in headers and "params.learning_rate" in headers
    for key in ("metrics.rmse", "params.learning_rate", "params.epochs", "model", "training_data"):
        assert _on_first_screen(laptop, f'#models-table th[data-key="{key}"]'), key
    # One row per model the demo trained, best rmse first; the first row's rmse on the first screen.
    rows = laptop.locator("#models-table tbody tr[data-model]")
    assert rows.count() == len(models)
    assert _on_first_screen(laptop, "#models-table tbody tr[data-model] td.main")
    best = min(models, key=lambda m: m["rmse"])
    assert rows.first.locator("td.main").inner_text() == f"{best['rmse']:.4g}"
    # Sorting by a param, then filtering and grouping, all in the address.
    laptop.click('#models-table th[data-key="params.learning_rate"] a')
    laptop.wait_for_url(re.compile(r"order=params.learning_rate"))
    laptop.fill("#filter", "params.learning_rate >= 0.05")
    laptop.select_option("#group", "params.learning_rate")
    laptop.click("#apply")
    laptop.wait_for_url(re.compile(r"group=params.learning_rate"))
    assert laptop.locator("#models-table tbody tr[data-model]").count() == 3
    assert laptop.locator("#groups tbody tr").count() == 2
    _save(laptop, "21-models-filtered-grouped", full_page=True)


def test_the_timeline_hover_of_rmse_shows_the_learning_rate(laptop, demo_site):
    base, _ = demo_site
    laptop.goto(base + "/projects/house-prices?metric=rmse")
    points = laptop.locator("#timeline circle")
    points.first.wait_for()
    # The first rmse is the evaluation of the first model, trained with learning_rate 0.01.
    points.first.hover()
    laptop.locator("#tooltip").wait_for(state="visible")
    laptop.wait_for_function("document.getElementById('tooltip').textContent.includes('learning_rate = 0.01')")
    tip = laptop.locator("#tooltip").text_content()
    assert "evaluate_model" in tip and "params of the training run train_model" in tip
    assert "model_path" in tip  # the training run's own path param, not the evaluation's
    _save(laptop, "22-timeline-hover-learning-rate")
    # The meta-analysis finds a hyperparameter that varies across the runs that logged rmse.
    laptop.locator("#meta circle").first.wait_for()
    assert laptop.locator("#x-select").input_value() in ("learning_rate", "epochs", "l2")


def test_no_page_is_wider_than_the_window(laptop, demo_site):
    base, models = demo_site
    best = min(models, key=lambda m: m["rmse"])
    for name, path in [("projects", "/"), ("project", "/projects/house-prices"),
                       ("models", "/projects/house-prices/trained"),
                       ("runs", "/runs?project=house-prices"), ("run", f"/runs/{best['run_id']}"),
                       ("lineage", f"/lineage?node=run:{best['run_id']}")]:
        laptop.goto(base + path)
        laptop.wait_for_load_state("networkidle")
        scroll, client = laptop.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if scroll > client:
            _save(laptop, f"23-too-wide-{name}", full_page=True)
        assert scroll <= client, (name, scroll, client)


def test_the_runs_table_of_the_demo_leads_with_its_main_metric(laptop, demo_site):
    base, _ = demo_site
    laptop.goto(base + "/runs?project=house-prices")
    keys = laptop.locator("#runs-table thead th[data-key]").evaluate_all(
        "ths => ths.map(t => t.getAttribute('data-key'))")
    metrics = [k for k in keys if k.startswith("metrics.")]
    assert metrics[0] == "metrics.rmse", keys
    assert keys.index("metrics.rmse") < keys.index("notes")
    # A column added with the chooser comes before the notes and times, not at the far right.
    laptop.goto(base + "/runs?project=house-prices&cols=id,name,notes,duration,params.learning_rate")
    keys = laptop.locator("#runs-table thead th[data-key]").evaluate_all(
        "ths => ths.map(t => t.getAttribute('data-key'))")
    assert keys == ["id", "name", "params.learning_rate", "notes", "duration"]
    # Grouped, the aggregates are the main metric's whatever columns are shown.
    laptop.goto(base + "/runs?project=house-prices&group=phase&cols=id,name")
    assert "rmse" in laptop.locator("#groups").inner_text()
    _save(laptop, "24-runs-main-metric-first", full_page=True)
