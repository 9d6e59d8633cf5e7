"""Deployments on the model page, the deployment page and the JSON API (SQLite and PostgreSQL),
and in a real headless Chromium."""
from __future__ import annotations

import re
import time

import pytest

import modeldb_core as mdb
from tests.conftest import chromium_page, serving

from .conftest import content

XSS = "<script>alert(1)</script>"


def _deployed(store) -> dict[str, float]:
    """pricing v1 then v2 in prod (with a canary between), v1 in staging; the moments between."""
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    store.promote("models:/pricing/1", "production", actor="alice")
    store.record_deployment("models:/pricing@production", "prod", "alice", endpoint=f"https://x/{XSS}")
    store.record_deployment("models:/pricing/1", "staging", "alice")
    time.sleep(0.02)
    moments = {"v1": time.time()}
    time.sleep(0.02)
    store.record_deployment("models:/pricing/2", "prod", "bob", traffic=0.25)
    time.sleep(0.02)
    moments["canary"] = time.time()
    time.sleep(0.02)
    full = store.record_deployment("models:/pricing/2", "prod", "bob", reason="canary held")
    store.mark_degraded(full.id, "drift on 3 batches", "monitor")
    return moments


@pytest.fixture
def web(tracking):
    from fastapi.testclient import TestClient

    from modeldb_core.web import create_app

    moments = _deployed(tracking.store)
    with TestClient(create_app(tracking.settings.uri)) as client:
        yield client, moments


def test_the_json_api_answers_what_served_when(web):
    client, moments = web
    now = client.get("/api/deployments").json()
    assert sorted((d["environment"], d["version"], d["state"]) for d in now) == [
        ("prod", 2, "degraded"), ("staging", 1, "deployed")]
    then = client.get("/api/deployments", params={"at": moments["v1"], "environment": "prod"}).json()
    assert [(d["version"], d["requested"]) for d in then] == [(1, "models:/pricing@production")]
    from datetime import datetime, timezone

    iso = datetime.fromtimestamp(moments["canary"], timezone.utc).isoformat()
    canary = client.get("/api/deployments", params={"at": iso, "environment": "prod"}).json()
    assert sorted((d["version"], d["traffic"]) for d in canary) == [(1, None), (2, 0.25)]
    bad = client.get("/api/deployments", params={"at": "last tuesday"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "at"
    model = client.get("/api/models/pricing/deployments").json()
    assert [d["version"] for d in model["environments"]["prod"]] == [1, 2, 2]
    assert [d["version"] for d in model["serving"] if d["environment"] == "prod"] == [2]
    assert len(client.get("/api/models/pricing").json()["deployments"]) == 4
    one = client.get(f"/api/deployments/{model['environments']['prod'][0]['id']}").json()
    assert one["state"] == "retired" and one["until"] is not None and one["serving"] is False
    assert client.get("/api/deployments/999").status_code == 404
    assert client.get("/api/models/nope/deployments").status_code == 404


def test_the_model_page_has_a_timeline_per_environment_and_the_deployment_page_its_story(web):
    client, _ = web
    page = client.get("/models/pricing").text
    assert page.count('class="environment"') == 2 and page.count('class="deployment-bar"') == 4
    assert XSS not in page and "&lt;script&gt;" in page
    assert "<strong>degraded</strong>" in page
    d = client.get("/api/deployments", params={"environment": "prod"}).json()[0]
    detail = client.get(f"/deployments/{d['id']}").text
    assert "pricing</a> v2 in prod" in detail and "drift on 3 batches" in detail
    assert "deployment.degrade" in detail and "deployment.record" in detail
    assert client.get("/deployments/999").status_code == 404


@pytest.fixture
def served(sqlite_uri):
    client = mdb.configure(uri=sqlite_uri)
    _deployed(client.store)
    client.close()
    with serving(sqlite_uri) as base:
        yield base


def test_model_page_timeline_to_deployment_page_in_chromium(served):
    with chromium_page() as (page, problems):
        page.goto(served + "/models/pricing")
        prod = page.locator("section.environment[data-environment='prod']")
        assert prod.locator("rect.deployment-bar").count() == 3
        # The bars are drawn where the table says: the first v1 bar starts at the left edge.
        box = prod.locator("rect.deployment-bar").first.bounding_box()
        assert box is not None and box["width"] > 0
        rows = prod.locator("table.deployments tbody tr").all_inner_texts()
        assert rows[0].split("\t")[1:3] == ["v2", "degraded"]
        assert "models:/pricing@production" in rows[-1]
        prod.locator("rect.deployment-bar").first.click()
        page.wait_for_url(re.compile(r"/deployments/\d+$"))
        assert "v1 in prod" in page.locator("h1").inner_text()
        assert page.locator("#state").inner_text() == "retired"
        # Beside it: the canary (the full v2 began the moment it ended).
        assert page.locator("#neighbours tbody tr").all_inner_texts()[0].split("\t")[2:5] == [
            "v2", "retired", "0.25"]
    assert problems == []
