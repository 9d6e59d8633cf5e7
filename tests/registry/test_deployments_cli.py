"""``modeldb deployments list | record | retire | show`` through the real CLI, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone

from click.testing import CliRunner

from modeldb_core.cli import cli

from .conftest import content


def invoke(uri: str, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--uri", uri, *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def _iso_now() -> str:
    time.sleep(0.02)
    moment = datetime.now(timezone.utc).isoformat()
    time.sleep(0.02)
    return moment


def test_record_list_show_at_and_retire(store_uri, monkeypatch):
    from modeldb_core.store import open_store

    monkeypatch.setenv("MODELDB_IDENTITY", "release-bot")
    store = open_store(store_uri)
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    store.promote("models:/pricing/1", "production", actor="alice")
    store.close()

    first = invoke(store_uri, "deployments", "record", "pricing@production", "prod", "--endpoint",
                   "https://pricing.internal/v1", "--reason", "release 1")
    assert "Deployment 1: models:/pricing/1 serves in prod (all the traffic)" in first.output
    before = _iso_now()
    invoke(store_uri, "deployments", "record", "models:/pricing/2", "prod", "--traffic", "0.1")
    canary = _iso_now()
    invoke(store_uri, "deployments", "record", "pricing/2", "prod")
    after = _iso_now()

    def served(at: str) -> list[tuple[int, str]]:
        rows = json.loads(invoke(store_uri, "deployments", "show", "prod", "--at", at, "--json").output)
        return sorted((r["version"], r["traffic"]) for r in rows)
    assert served(before) == [(1, None)]
    assert served(canary) == [(1, None), (2, 0.1)]
    assert served(after) == [(2, None)]
    history = invoke(store_uri, "deployments", "show", "prod")
    assert "every deployment, oldest first" in history.output and history.output.count("  prod  ") == 3
    listed = list(csv.DictReader(io.StringIO(invoke(store_uri, "deployments", "list", "--csv").output)))
    assert [(r["id"], r["version"], r["actor"], r["until"]) for r in listed] == [("3", "2", "release-bot", "serving")]
    one = json.loads(invoke(store_uri, "deployments", "show", "1", "--json").output)[0]
    assert (one["requested"], one["state"], one["state_reason"]) == ("models:/pricing@production", "retired",
                                                                     "replaced by deployment 3")

    refused = invoke(store_uri, "deployments", "record", "pricing/2", "prod", "--traffic", "1.5", code=1)
    assert "traffic: must be greater than 0 and at most 1" in refused.output
    missing = invoke(store_uri, "deployments", "retire", "pricing", code=1)
    assert "environment" in missing.output
    retired = invoke(store_uri, "deployments", "retire", "pricing", "-e", "prod", "--reason", "sunset")
    assert "Retired deployment 3: models:/pricing/2 in prod" in retired.output
    assert "Nothing serves now." in invoke(store_uri, "deployments", "list").output
    audit = json.loads(invoke(store_uri, "audit", "list", "--model", "pricing", "--json").output)
    assert [e["action"] for e in audit if e["action"].startswith("deployment.")] == [
        "deployment.record", "deployment.record", "deployment.end", "deployment.end", "deployment.record",
        "deployment.retire"]
    assert "OK" in invoke(store_uri, "audit", "verify").output


def test_the_provenance_report_shows_the_deployment_history(store_uri, monkeypatch):
    from modeldb_core.store import open_store

    store = open_store(store_uri)
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    store.record_deployment("models:/pricing/1", "prod", "alice", reason="first release")
    store.record_deployment("models:/pricing/2", "prod", "bob", reason="retrained")
    store.record_deployment("models:/pricing/1", "eu-west", "carol")
    store.close()
    report = json.loads(invoke(store_uri, "report", "models:/pricing/1", "--format", "json").output)
    assert [(d["environment"], d["state"], d["reason"]) for d in report["version_deployments"]] == [
        ("eu-west", "deployed", None), ("prod", "retired", "first release")]
    assert [(d["environment"], d["version"]) for d in report["deployments"]] == [
        ("eu-west", 1), ("prod", 1), ("prod", 2)]
    assert report["deployments"][1]["until"] == report["deployments"][2]["since"]
    md = invoke(store_uri, "report", "models:/pricing/2").output
    history = md.split("## Deployment history of the model")[1].split("## Audit events")[0]
    assert history.count("| prod |") == 2 and "retrained" in history and "| eu-west |" in history
    html = invoke(store_uri, "report", "models:/pricing/2", "--format", "html").output
    assert "Deployment history of the model" in html and "retrained" in html


def test_restore_puts_a_degraded_deployment_back_audited_with_its_reason(store_uri, monkeypatch):
    from modeldb_core.store import open_store

    monkeypatch.setenv("MODELDB_IDENTITY", "on-call")
    store = open_store(store_uri)
    for label in "ab":
        store.register_model_version("pricing", content(label), actor="alice")
    first = store.record_deployment("models:/pricing/1", "prod", "alice")
    store.mark_degraded(first.id, "3 flagged batches in a row", "drift-monitor")
    store.close()

    missing = CliRunner().invoke(cli, ["--uri", store_uri, "deployments", "restore", str(first.id)])
    assert missing.exit_code == 2 and "--reason" in missing.output
    blank = invoke(store_uri, "deployments", "restore", str(first.id), "--reason", " ", code=1)
    assert "reason: is needed" in blank.output
    restored = invoke(store_uri, "deployments", "restore", str(first.id), "--reason", "holiday traffic, expected")
    assert f"Deployment {first.id}: models:/pricing/1 in prod is deployed again" in restored.output
    shown = json.loads(invoke(store_uri, "deployments", "show", str(first.id), "--json").output)[0]
    assert (shown["state"], shown["state_reason"], shown["serving"]) == ("deployed", "holiday traffic, expected",
                                                                          True)
    # Restoring what is not degraded changes nothing (and writes no audit event).
    again = json.loads(invoke(store_uri, "deployments", "restore", str(first.id), "--reason", "twice",
                              "--json").output)[0]
    assert again["state_reason"] == "holiday traffic, expected"
    audit = json.loads(invoke(store_uri, "audit", "list", "--model", "pricing", "--json").output)
    assert [(e["action"], e["actor"], e["reason"]) for e in audit if e["action"] in
            ("deployment.degrade", "deployment.restore")] == [
        ("deployment.degrade", "drift-monitor", "3 flagged batches in a row"),
        ("deployment.restore", "on-call", "holiday traffic, expected")]

    invoke(store_uri, "deployments", "record", "pricing/2", "prod")
    retired = invoke(store_uri, "deployments", "restore", str(first.id), "--reason", "roll back", code=1)
    assert "deployment: is retired since" in retired.output and "only a serving deployment" in retired.output
    unknown = invoke(store_uri, "deployments", "restore", "99", "--reason", "x", code=1)
    assert "no deployment with id 99" in unknown.output
    assert "OK" in invoke(store_uri, "audit", "verify").output
