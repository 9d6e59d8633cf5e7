"""The run page says whether a run can be reproduced (the plan's blockers) and links its
reproductions and their verdicts: served by uvicorn, read in headless Chromium."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

import modeldb_core as mdb

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def serve():
    import uvicorn

    from modeldb_core.web import create_app

    servers = []

    def start(uri: str) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(uri), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the UI server did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_run_page_shows_blockers_reproductions_and_verdicts(project, serve):
    from playwright.sync_api import sync_playwright

    project.run("train('data.txt', 'out/model.txt')")
    original = project.last_run("train")
    verdict = mdb.reproduce(original)
    assert verdict.identical
    project.run("train('data.txt', 'out/other.txt', scale=3.0)")
    blocked = project.last_run("train")
    Path(project.root / "data.txt").write_text("9 9 9\n")
    mdb.flush()

    base = serve(project.uri)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(f"{base}/runs/{blocked}")
        panel = page.locator("#reproduction")
        assert "Not reproducible as recorded" in panel.inner_text()
        assert "has changed since the run" in panel.locator(".blockers").inner_text()

        page.goto(f"{base}/runs/{original}")
        panel = page.locator("#reproduction")
        row = panel.locator("table.reproductions tbody tr")
        assert row.count() == 1 and "identical" in row.inner_text()
        row.locator("a").click()
        page.wait_for_url(f"**/runs/{verdict.reproduction_run_id}")
        reproduces = page.locator("#reproduction")
        assert "Reproduces" in reproduces.inner_text() and "identical" in reproduces.inner_text()
        assert reproduces.locator("a.reproduces-link").get_attribute("href").endswith(original)
        browser.close()

    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/api/runs/{original}") as response:
        data = json.load(response)["reproduction"]
    assert data["reproductions"][0]["run_id"] == verdict.reproduction_run_id
    assert data["reproductions"][0]["verdict"] == "identical"
