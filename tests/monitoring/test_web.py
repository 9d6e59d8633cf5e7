"""The monitoring page and its JSON: per-feature drift over time for a model, in a real headless Chromium."""
from __future__ import annotations

import socket
import threading
import time


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
    import uvicorn
    from playwright.sync_api import sync_playwright

    from modeldb_core.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(monitored), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the UI server did not start"
        time.sleep(0.02)
    problems: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(f"http://127.0.0.1:{port}/models/pricing/monitoring")
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
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    assert problems == []
