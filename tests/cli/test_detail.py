"""``modeldb runs show`` and the web's ``/api/runs/{id}`` and run page show one run detail
(``modeldb_core.query.detail``), on SQLite and PostgreSQL.

The runs are conftest.py's ``pricing`` project: ``train`` runs that read ``clean.csv`` (the first
also writes ``model_a.bin`` and carries a note), an ``evaluate`` run, and a failed ``train``.
"""
from __future__ import annotations

import json
from datetime import datetime


def test_cli_json_and_api_give_the_same_run_detail(tracked, modeldb, web):
    for run in (tracked.train_a, tracked.evaluate, tracked.failed):
        code, out, err = modeldb("--uri", tracked.uri, "runs", "show", run, "--json")
        assert code == 0, err
        cli = json.loads(out)
        api = web.get(f"/api/runs/{run}").json()
        assert cli == api, run
    detail = api  # the failed run
    assert detail["error"]["type"] == "RuntimeError" and detail["run"]["status"] == "failed"
    code, out, _ = modeldb("--uri", tracked.uri, "runs", "show", tracked.train_a, "--json")
    detail = json.loads(out)
    # One shape: ISO 8601 times with their zone, hashes of 12 digits, counts of metric points.
    assert datetime.fromisoformat(detail["run"]["started_at"]).utcoffset() is not None
    assert datetime.fromisoformat(detail["notes"][0]["created_at"]).utcoffset() is not None
    assert detail["series"]["rmse"] == len(detail["metric_history"]["rmse"]) == 2
    (data,) = [i for i in detail["inputs"] if i["name"] == "train_data"]
    assert data["uri"].endswith("clean.csv") and len(data["short_hash"]) == 12
    assert data["content_hash"].split(":")[-1].startswith(data["short_hash"])
    assert [o["name"] for o in detail["outputs"]] == ["model"]
    assert detail["reproduction"] is not None and "reproducible" in detail["reproduction"]


def test_the_run_page_and_the_terminal_show_the_same_facts(tracked, modeldb, web):
    code, text, _ = modeldb("--uri", tracked.uri, "runs", "show", tracked.train_a)
    assert code == 0
    page = web.get(f"/runs/{tracked.train_a}").text
    detail = web.get(f"/api/runs/{tracked.train_a}").json()
    started = datetime.fromisoformat(detail["run"]["started_at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert started in text and started in page
    for io in detail["inputs"] + detail["outputs"]:
        assert io["short_hash"] in text and io["short_hash"] in page
