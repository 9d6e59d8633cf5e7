"""The registry pages in a real headless Chromium: Models → a model → its report."""
from __future__ import annotations

import re

import pytest

import modeldb_core as mdb
from modeldb_core import registry
from tests.conftest import chromium_page, serving


@pytest.fixture
def served(sqlite_uri, tmp_path, monkeypatch):
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
    with serving(sqlite_uri) as base:
        yield base


def test_models_page_to_model_page_to_report(served):
    with chromium_page() as (page, problems):
        page.goto(served + "/")
        page.click("nav a:text-is('Models')")
        row = page.locator("#models tr", has_text="pricing")
        assert "production → v2" in row.inner_text()
        page.click("a.model-link:text-is('pricing')")
        page.wait_for_url(re.compile(r"/models/pricing\?project=pricing$"))  # the link names its project
        history = page.locator("#alias-history li").all_inner_texts()
        assert history[0].endswith("v1 → v2 by alice: lower rmse")
        assert page.locator("#versions tbody tr").count() == 2
        page.click("a:text-is('provenance report')")
        page.wait_for_url(re.compile(r"/models/pricing/report"))
        body = page.locator("main").inner_text()
        assert "Upstream lineage" in body and "prepare" in body and "raw.csv" in body
    assert problems == []
