"""The run page says whether a run can be reproduced (the plan's blockers) and links its
reproductions and their verdicts: served by uvicorn, read in headless Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest

import modeldb_core as mdb
from tests.conftest import chromium_page, serving


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_run_page_shows_blockers_reproductions_and_verdicts(project):
    project.run("train('data.txt', 'out/model.txt')")
    original = project.last_run("train")
    verdict = mdb.reproduce(original)
    assert verdict.identical
    project.run("train('data.txt', 'out/other.txt', scale=3.0)")
    blocked = project.last_run("train")
    Path(project.root / "data.txt").write_text("9 9 9\n")
    mdb.flush()

    with serving(project.uri) as base:
        with chromium_page() as (page, problems):
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
        assert problems == []

        import json
        import urllib.request

        with urllib.request.urlopen(f"{base}/api/runs/{original}") as response:
            data = json.load(response)["reproduction"]
        assert data["reproductions"][0]["run_id"] == verdict.reproduction_run_id
        assert data["reproductions"][0]["verdict"] == "identical"
