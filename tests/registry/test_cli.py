"""``modeldb models | audit | report`` end to end on SQLite and PostgreSQL, through the real CLI."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import modeldb_core as mdb
from modeldb_core.cli import cli


@pytest.fixture
def cli_store(tracking, tmp_path, monkeypatch):
    """Raw data prepared, a model trained on it and written to a file; returns (uri, run id, model path)."""
    monkeypatch.setenv("MODELDB_IDENTITY", "alice")
    raw = tmp_path / "raw.csv"
    raw.write_text("x,y\n1,2\n")
    clean = tmp_path / "clean.csv"
    with mdb.start_run("prepare", project="pricing", phase="data_prep") as prep:
        prep.log_input(raw)
        clean.write_text("x,y\n1,2\n")
        prep.log_output(clean)
    paths = []
    runs = []
    for n, rmse in ((1, 28.0), (2, 31.0)):
        model = tmp_path / f"model{n}.pkl"
        model.write_bytes(b"model %d" % n)
        with mdb.start_run("train", project="pricing", phase="training", params={"depth": n}) as run:
            run.log_input(clean)
            run.log_metric("rmse", rmse)
            run.log_output(model, name="model")
        paths.append(str(model))
        runs.append(run.id)
    mdb.flush()
    return tracking.settings.uri, runs, paths


def invoke(uri: str, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--uri", uri, *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_register_promote_refuse_history_and_report(cli_store):
    uri, runs, paths = cli_store
    invoke(uri, "models", "register", "pricing", "--artifact", paths[0], "--run", runs[0])
    invoke(uri, "models", "register", "pricing", "--artifact", paths[1], "--run", runs[1])
    again = invoke(uri, "models", "register", "pricing", "--artifact", paths[0], "--json")
    assert json.loads(again.output)[0]["version"] == 1
    invoke(uri, "models", "update", "pricing", "--risk-tier", "tier 1", "--intended-use", "quotes")
    invoke(uri, "models", "policy", "pricing", "production", "--threshold", "rmse <= 30", "--beat", "rmse:min")
    moved = invoke(uri, "models", "promote", "models:/pricing/1", "production", "--reason", "first")
    assert "now v1" in moved.output and "passed" in moved.output
    refused = invoke(uri, "models", "promote", "pricing/2", "production", code=1)
    assert "threshold rmse <= 30" in refused.output and "rmse = 31" in refused.output
    listed = json.loads(invoke(uri, "models", "list", "--json").output)
    assert listed[0]["aliases"] == {"production": 1} and listed[0]["latest_version"] == 2
    history = json.loads(invoke(uri, "models", "history", "pricing", "--json").output)
    assert [(h["from"], h["to"], h["actor"], h["reason"]) for h in history] == [(None, 1, "alice", "first")]
    csv = invoke(uri, "models", "show", "pricing", "--csv").output.splitlines()
    assert csv[0].startswith("version,aliases,run") and len(csv) == 3
    report = json.loads(invoke(uri, "report", "models:/pricing@production", "--format", "json").output)
    assert report["version"]["version"] == 1 and report["run"]["id"] == runs[0]
    assert report["params"] == {"depth": 1} and report["metrics"]["rmse"] == 28.0
    assert report["model"]["card"]["risk_tier"] == "tier 1"
    labels = {n["label"] for n in report["lineage"]["nodes"]}
    assert "prepare" in labels and any("raw.csv@" in label for label in labels)
    assert [a["action"] for a in report["audit"]][-1] == "alias.move"
    md = invoke(uri, "report", "models:/pricing@production").output
    assert "## Upstream lineage" in md and "prepare" in md and "tier 1" in md
    html = invoke(uri, "report", "models:/pricing@production", "--format", "html").output
    assert "<h2>Alias history</h2>" in html and "prepare" in html


def test_show_at_answers_what_an_alias_was_then(cli_store):
    import time

    uri, runs, paths = cli_store
    for path in paths:
        invoke(uri, "models", "register", "pricing", "--artifact", path)
    invoke(uri, "models", "alias", "pricing/1", "production")
    time.sleep(1.1)
    from datetime import datetime, timezone

    between = datetime.fromtimestamp(time.time() - 0.5, timezone.utc).replace(tzinfo=None).isoformat()  # no zone: UTC
    invoke(uri, "models", "alias", "pricing/2", "production", "--reason", "newer")
    now = json.loads(invoke(uri, "models", "show", "pricing@production", "--json").output)
    then = json.loads(invoke(uri, "models", "show", "pricing@production", "--at", between, "--json").output)
    assert (now[0]["version"], then[0]["version"]) == (2, 1)
    bad = invoke(uri, "models", "show", "pricing@production", "--at", "last tuesday", code=2)
    assert "not an ISO 8601 time" in bad.output


def test_audit_verify_names_an_edited_row(cli_store):
    uri, runs, paths = cli_store
    invoke(uri, "models", "register", "pricing", "--artifact", paths[0])
    invoke(uri, "models", "alias", "pricing/1", "staging")
    assert "the chain holds" in invoke(uri, "audit", "verify").output
    listed = json.loads(invoke(uri, "audit", "list", "--json").output)
    assert [e["action"] for e in listed] == ["model.create", "version.register", "alias.move"]
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET reason = 'nothing to see' WHERE id = 2"))
    engine.dispose()
    broken = invoke(uri, "audit", "verify", code=1)
    assert "audit event 2" in broken.output and "edited" in broken.output


@pytest.mark.parametrize("args, message", [
    (("models", "show", "nosuch"), "no model with id 'nosuch'"),
    (("models", "show", "pricing/7"), "models:/pricing/7"),
    (("models", "show", "models:/pricing/0"), "whole number"),
    (("models", "promote", "pricing/1", "production", "--force"), "--force needs a reason"),
    (("models", "policy", "pricing", "production", "--threshold", "auc >= 0.9"), "not a metric any run"),
    (("report", "models:/pricing@production"), "points at no version"),
])
def test_bad_input_is_one_clear_line(cli_store, args, message):
    uri, runs, paths = cli_store
    invoke(uri, "models", "register", "pricing", "--artifact", paths[0])
    result = invoke(uri, *args, code=1)
    assert message in result.output and "Traceback" not in result.output
