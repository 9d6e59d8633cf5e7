"""The monitoring page and its JSON: per-feature drift over time for a model, in a real headless Chromium."""
from __future__ import annotations

from tests.conftest import chromium_page, serving


def test_the_monitoring_json_has_states_batches_and_per_feature_drift(monitored):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    http = TestClient(create_app(monitored))
    data = http.get("/api/models/pricing/monitoring").json()
    assert [s["deployment"] for s in data["states"]] == ["prod"]
    assert data["states"][0]["degraded"] is True and data["states"][0]["flagged_in_a_row"] == 3
    assert [b["flagged"] for b in data["batches"]] == [False] * 4 + [True] * 3
    area = next(row for row in data["drift"] if row["feature"] == "area")
    assert [c["flagged"] for c in area["batches"]] == [False] * 4 + [True] * 3
    assert http.get("/api/models/nobody/monitoring").status_code == 404


def test_the_monitoring_page_shows_drift_over_time_with_flagged_batches_marked(monitored):
    with serving(monitored) as base, chromium_page() as (page, problems):
        page.goto(f"{base}/models/pricing/monitoring")
        state = page.locator("#monitor-states tbody tr").first.inner_text()
        assert "prod" in state and "degraded" in state
        heads = page.locator("#drift-heatmap thead th.batch").all_inner_texts()
        assert heads == ["1", "2", "3", "4", "⚑", "⚑", "⚑"]
        area = page.locator("#drift-heatmap tbody tr", has_text="area").locator("td")
        assert area.count() == 7
        assert "flagged" in area.nth(6).get_attribute("class")
        assert "flagged" not in area.nth(0).get_attribute("class")
        # the cells are coloured by the stylesheet (no inline style: the CSP forbids it)
        hot = area.nth(6).evaluate("e => getComputedStyle(e).backgroundColor")
        calm = area.nth(0).evaluate("e => getComputedStyle(e).backgroundColor")
        assert hot != calm and hot != "rgba(0, 0, 0, 0)"
        assert "r2_score" in page.locator("#monitor-batches thead").inner_text()
        page.locator("#drift-heatmap thead th.batch a").nth(6).click()
        page.wait_for_url("**/runs/*")
        assert "monitoring" in page.locator("main").inner_text()
    assert problems == []
