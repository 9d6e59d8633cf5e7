"""The registry pages in a real headless Chromium: Models → a model → its report."""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest

import modeldb_core as mdb
from modeldb_core import registry


@pytest.fixture
def served(sqlite_uri, tmp_path, monkeypatch):
    import uvicorn

    from modeldb_core.web import create_app

    monkeypatch.setenv("MODELDB_IDENTITY", "alice")
    client = mdb.configure(uri=sqlite_uri)
    raw = tmp_path / "raw.csv"
    raw.write_text("x\n1\n")
    with mdb.start_run("prepare", project="pricing", phase="data_prep", orchestrator="airflow") as prep:
        prep.log_input(raw)
        prep.log_output(tmp_path / "raw.csv", name="clean")
    for n, rmse in ((1, 28.0), (2, 26.0)):
        model = tmp_path / f"m{n}.pkl"
        model.write_bytes(b"%d" % n)
        with mdb.start_run("train", project="pricing", phase="training") as run:
            run.log_input(raw)
            run.log_metric("rmse", rmse)
            run.log_output(model, name="model")
        mdb.register_model("pricing", run=run)
    registry.promote("models:/pricing/1", "production", reason="first")
    registry.promote("models:/pricing/2", "production", reason="lower rmse")
    client.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(sqlite_uri), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the UI server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_models_page_to_model_page_to_report(served):
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(served + "/")
            page.click("nav a:text-is('Models')")
            row = page.locator("#models tr", has_text="pricing")
            assert "production → v2" in row.inner_text()
            page.click("a.model-link:text-is('pricing')")
            page.wait_for_url(re.compile(r"/models/pricing$"))
            history = page.locator("#alias-history li").all_inner_texts()
            assert history[0].endswith("v1 → v2 by alice: lower rmse")
            assert page.locator("#versions tbody tr").count() == 2
            page.click("a:text-is('provenance report')")
            page.wait_for_url(re.compile(r"/models/pricing/report"))
            body = page.locator("main").inner_text()
            assert "Upstream lineage" in body and "prepare" in body and "raw.csv" in body
        finally:
            browser.close()
    assert problems == []
