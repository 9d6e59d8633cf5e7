"""The UI in a real headless Chromium, as a user clicks through it.

Each test fails on any console error, uncaught page error or request that
leaves the app (see the ``page`` fixture); screenshots land in test-artifacts/ui/.
"""
from __future__ import annotations

import re

XSS = "<script>alert(1)</script>"  # the same values as conftest.py


def rows(page) -> list[int]:
    return [x for x in page.locator("#runs-table tbody tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-run'))")]


def test_projects_summary_then_project_charts(page, site, shot):
    base, ids = site
    page.goto(base + "/")
    churn = page.locator("#projects tr", has_text="churn")
    assert "airflow" in churn.inner_text() and "auc" in churn.inner_text()
    shot("01-projects")
    page.click("a.project-link:text-is('churn')")
    page.wait_for_url(re.compile(r"/projects/churn"))
    timeline = page.locator("#timeline circle")
    timeline.first.wait_for()
    assert timeline.count() == 6  # every run that logged auc
    page.locator("#meta circle").first.wait_for()
    assert page.locator("#x-select").input_value() in ("learning_rate", "max_depth")
    # Hover shows the run's params; the first point in time is the first training run.
    timeline.first.hover()
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    # Params are fetched on the first hover.
    page.wait_for_function("document.getElementById('tooltip').textContent.includes('learning_rate = 0.1')")
    shot("02-project")
    # Parallel coordinates: one line per run across the varying hyperparameters and the metric.
    page.select_option("#view-select", "parallel")
    page.wait_for_url(re.compile(r"view=parallel"))
    lines = page.locator("#meta path.run-line")
    lines.first.wait_for()
    # The training runs that have both learning_rate and max_depth, and the evaluation run,
    # which carries the params of the run that trained the model it read (docs/models.md).
    assert lines.count() == 4
    assert "learning_rate" in page.locator("#meta svg").text_content()
    shot("02b-project-parallel")
    page.go_back()
    timeline.first.wait_for()
    timeline.first.click()
    page.wait_for_url(re.compile(rf"/runs/{ids['train0']}$"))
    assert page.locator("#run-title").inner_text().startswith("train_model")


def test_table_filter_sort_group_search_columns_keyboard(page, site, shot):
    base, ids = site
    page.goto(base + "/runs?project=churn")
    assert len(rows(page)) == 8
    page.fill("#filter", "metrics.auc >= 0.7")
    page.press("#filter", "Enter")
    page.wait_for_url(re.compile(r"filter=metrics.auc"))
    assert sorted(rows(page)) == sorted([ids["train0"], ids["train1"], ids["train2"], ids["eval"]])
    page.click("th[data-key='metrics.auc'] a")
    page.wait_for_url(re.compile(r"order=metrics.auc\+desc"))
    assert rows(page) == [ids["eval"], ids["train2"], ids["train1"], ids["train0"]]
    page.click("th[data-key='metrics.auc'] a")
    page.wait_for_url(re.compile(r"order=metrics.auc\+asc"))
    assert rows(page) == [ids["train0"], ids["train1"], ids["train2"], ids["eval"]]
    shot("03-runs-filtered-sorted")
    # The URL holds the state: opening it again shows the same view.
    page.goto(page.url)
    assert rows(page) == [ids["train0"], ids["train1"], ids["train2"], ids["eval"]]

    page.fill("#filter", "metrics.auc >> 3")
    page.press("#filter", "Enter")
    error = page.locator("#query-error")
    error.wait_for()
    assert "position" in error.inner_text()
    shot("04-runs-filter-error")

    page.fill("#filter", "")
    page.select_option("#group", "tags.team")
    page.click("#apply")
    page.wait_for_url(re.compile(r"group=tags.team"))
    headers = page.locator("tr.group-header").all_inner_texts()
    assert [h.split("·")[0].strip() for h in headers] == ["tags.team = growth", "tags.team = risk",
                                                          "tags.team = (not set)"]
    shot("05-runs-grouped")

    page.goto(base + "/runs?project=churn")
    page.fill("#search", "best model")
    page.press("#search", "Enter")
    page.wait_for_url(re.compile(r"q=best"))
    assert rows(page) == [ids["eval"]]

    page.goto(base + "/runs?project=churn")
    page.click("#column-chooser summary")
    page.uncheck("#columns-form input[value='phase']")
    page.check("#columns-form input[value='params.max_depth']")
    page.click("#apply-columns")
    page.wait_for_url(re.compile(r"col=params.max_depth"))
    assert page.locator("th[data-key='params.max_depth']").count() == 1
    assert page.locator("th[data-key='phase']").count() == 0

    # Keyboard: arrow keys move between rows, Space selects, Enter opens.
    first = page.locator("#runs-table tbody tr[data-run] input[type=checkbox]").first
    first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    second = page.locator("#runs-table tbody tr[data-run]").nth(1)
    assert second.locator("input[type=checkbox]").is_checked()
    assert not first.is_checked()
    opened = second.get_attribute("data-run")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/runs/{opened}$"))


def test_run_page_shows_everything(page, site, shot):
    base, ids = site
    page.goto(f"{base}/runs/{ids['train1']}")
    page.locator("[data-series='loss'] svg path.series").wait_for()
    for section in ("#params", "#metrics", "#tags", "#inputs", "#outputs", "#code", "#environment"):
        assert page.locator(section).is_visible(), section
    assert "learning_rate" in page.locator("#params").inner_text()
    assert "customers.csv" in page.locator("#inputs").inner_text()
    shot("06-run")
    page.goto(f"{base}/runs/{ids['failed']}")
    assert "ZeroDivisionError" in page.locator("#error").inner_text()


def test_lineage_graph_leads_to_an_upstream_run(page, site, shot):
    base, ids = site
    page.goto(f"{base}/runs/{ids['eval']}")
    page.click("#lineage-link")
    page.locator("#lineage svg g.node").first.wait_for()
    shot("07-lineage")
    page.click(f"#lineage g.node[data-key='run:{ids['train2']}']")
    page.wait_for_url(re.compile(rf"node=run%3A{ids['train2']}"))
    page.click(f"#lineage g.node[data-key='run:{ids['prep']}']")
    page.wait_for_url(re.compile(rf"node=run%3A{ids['prep']}"))
    page.click("#open-root")
    page.wait_for_url(re.compile(rf"/runs/{ids['prep']}$"))
    assert page.locator("#run-title").inner_text().startswith("prepare_customers")
    assert "airflow" in page.locator(".facts").inner_text()


def test_compare_two_runs_from_the_table(page, site, shot):
    base, ids = site
    page.goto(base + "/runs?project=churn")
    page.check(f"input[name=ids][value='{ids['train0']}']")
    page.click("#compare-button")  # one run is not a comparison: the page stays
    assert "/runs" in page.url and "two" in page.locator(".table-actions").inner_text()
    page.check(f"input[name=ids][value='{ids['train1']}']")
    page.click("#compare-button")
    page.wait_for_url(re.compile(r"/compare\?"))
    row = page.locator("tr.differs[data-key='learning_rate']")
    assert row.is_visible()
    assert page.locator("tr.same[data-key='model']").count() == 1
    shot("08-compare")


def test_script_in_names_notes_tags_and_params_renders_as_text(page, site, shot):
    base, ids = site
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/runs/{ids['xss']}")
    assert page.locator("#run-title").inner_text().startswith(XSS)
    assert XSS in page.locator("#notes").inner_text()
    assert XSS in page.locator("#tags").inner_text()
    assert XSS in page.locator("#params").inner_text()
    shot("09-xss-run")
    page.goto(base + "/runs?project=churn&cols=id,name,params.comment,tags.label,notes")
    assert page.locator(f"#runs-table td:text-is('{XSS}')").count() >= 3
    page.goto(f"{base}/compare?ids={ids['xss']}&ids={ids['train0']}")
    page.goto(f"{base}/lineage?node=run:{ids['xss']}")
    page.goto(f"{base}/projects/churn")
    page.locator("#timeline circle").first.wait_for()
    page.locator(f"#timeline circle[data-href$='/runs/{ids['xss']}']").hover()
    assert XSS in page.locator("#tooltip").inner_text()
    assert page.locator("script:not([src])").count() == 0
    assert dialogs == []
