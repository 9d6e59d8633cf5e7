"""The Models page, a model's page, its report and their JSON API, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

import modeldb_core as mdb
from modeldb_core import registry

XSS = "<script>alert(1)</script>"


@pytest.fixture
def web(tracking, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    monkeypatch.setenv("MODELDB_IDENTITY", "alice")
    tracking = mdb.configure(uri=tracking.settings.uri)  # settings read again: the identity
    data = tmp_path / "train.csv"
    data.write_text("x\n1\n")
    for n, rmse in ((1, 28.0), (2, 26.0)):
        model = tmp_path / f"m{n}.pkl"
        model.write_bytes(b"%d" % n)
        with mdb.start_run("train", project="pricing", phase="training") as run:
            run.log_input(data)
            run.log_metric("rmse", rmse)
            run.log_output(model, name="model")
        mdb.register_model("pricing", run=run)
    store = tracking.store
    store.update_model("pricing", "alice", card={"risk_tier": "tier 1", "intended_use": XSS})
    registry.set_policy("pricing", "production", {"beat_holder": {"metric": "rmse", "goal": "min"}})
    registry.promote("models:/pricing/1", "production", reason="first")
    registry.promote("models:/pricing/2", "production", reason="better")
    with TestClient(create_app(tracking.settings.uri)) as client:
        yield client
    tracking.close()


def test_models_page_and_api(web):
    html = web.get("/models").text
    assert "pricing" in html and "production → v2" in html and "rmse" in html
    [listed] = web.get("/api/models").json()
    assert listed["aliases"] == {"production": 2} and listed["latest_version"] == 2
    assert listed["main_metric"] == "rmse" and listed["main_value"] == 26.0


def test_model_page_shows_versions_history_policy_and_audit_escaped(web):
    html = web.get("/models/pricing").text
    for text in ("Versions", "production", "v1 → v2 by alice", "better", "beat_holder", "alias.move",
                 "tier 1", "/lineage?node=run:", "provenance report"):
        assert text in html, text
    assert XSS not in html and "&lt;script&gt;" in html
    detail = web.get("/api/models/pricing").json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert [(m["from_version"], m["to_version"]) for m in detail["alias_history"]] == [(None, 1), (1, 2)]


def test_report_page_and_json(web):
    html = web.get("/models/pricing/report", params={"ref": "models:/pricing@production"}).text
    assert "Provenance report" in html and "Upstream lineage" in html and "train.csv" in html
    report = web.get("/api/models/pricing/report", params={"ref": "models:/pricing@production"}).json()
    assert report["version"]["version"] == 2 and report["metrics"]["rmse"] == 26.0


def test_unknown_model_is_a_404(web):
    assert web.get("/models/nosuch").status_code == 404
    assert web.get("/api/models/nosuch").status_code == 404
    assert web.get("/api/models/pricing/report", params={"ref": "models:/pricing/0"}).status_code in (400, 422)


def test_two_projects_pricing_pages_link_with_their_project(web, tmp_path):
    """Another project registers ``pricing`` too: the Models page lists both, each linking to its own
    page (``?project=``); the bare name is a 400 naming both projects."""
    model = tmp_path / "sales.pkl"
    model.write_bytes(b"sales")
    with mdb.start_run("train", project="sales", phase="training") as run:
        run.log_metric("rmse", 40.0)
        run.log_output(model, name="model")
    mdb.register_model("pricing", run=run)
    listed = web.get("/api/models").json()
    assert [(m["project"], m["latest_version"]) for m in listed] == [("pricing", 2), ("sales", 1)]
    html = web.get("/models").text
    assert 'href="/models/pricing?project=pricing"' in html and 'href="/models/pricing?project=sales"' in html
    refused = web.get("/api/models/pricing")
    assert refused.status_code == 400 and "'pricing', 'sales'" in refused.text
    sales = web.get("/api/models/pricing", params={"project": "sales"}).json()
    assert [v["version"] for v in sales["versions"]] == [1] and sales["alias_history"] == []
    page = web.get("/models/pricing", params={"project": "pricing"}).text
    assert "v1 → v2 by alice" in page and "ref=models%3A/pricing/pricing%40production" in page
    report = web.get("/api/models/pricing/report", params={"ref": "models:/pricing@production",
                                                           "project": "pricing"}).json()
    assert report["version"]["version"] == 2
    assert web.get("/models/pricing/report", params={"ref": "models:/sales/pricing/1"}).status_code == 200
