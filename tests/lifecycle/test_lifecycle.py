"""A model's whole life against one store, each step through the real tool (issues 13 and 14).

The registry part: an Airflow DAG (real ``dag.test()``) prepares the data, trains and registers
version 1; a Luigi build (real ``luigi.build``) trains a worse version 2, whose promotion the
policy refuses; a Prefect flow (a real flow, in Prefect's own environment) trains a better
version 3, which an approval lets through; the provenance report of ``@production`` reaches
the Airflow data-prep task, and ``--at`` answers what the alias was before.

The maintenance part, continuing: an Airflow task deploys ``@production`` to ``prod``; a Prefect
flow monitors 30 batches of live data (20 unchanged, 10 with a moved market) and the deployment
turns ``degraded``; Airflow retrains, the new version is approved, promoted and deployed;
``deployments show --at`` answers for before, during and after, and the report shows the
deployment history and the latest drift.

Users' checks go through the ``modeldb`` command (subprocesses on the store's URI) and the
public Python API. Run with ``python3 -m nox -s lifecycle``.
"""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import luigi
import pytest
from airflow.sdk import dag, task

import modeldb_core as mdb
from modeldb_core.integrations import luigi as mdb_luigi

from . import pricing
from .conftest import Scenario


# -- the team's pipelines ----------------------------------------------------------------------
@dag(dag_id="pricing_training", schedule=None, render_template_as_native_obj=True,
     params={"raw": "", "workdir": "", "degree": 1})
def pricing_training():
    @task
    def prepare_data(raw_path: str, prepared_path: str) -> str:
        return pricing.prepare(raw_path, prepared_path)

    train = task(pricing.train_model)  # the team's tracked training function, as an Airflow task
    prepared = prepare_data("{{ params.raw }}", "{{ params.workdir }}/prepared.csv")
    train(prepared, "{{ params.workdir }}/model.pkl", degree="{{ params.degree }}")


@dag(dag_id="pricing_release", schedule=None)
def pricing_release():
    @task(params={"modeldb_phase": "deployment"})
    def deploy_to_prod() -> int:
        return mdb.record_deployment("models:/pricing@production", "prod", endpoint="https://pricing.internal/v1",
                                     reason="release").id

    deploy_to_prod()


TRAINING = pricing_training()
RELEASE = pricing_release()


class PreparedHouses(luigi.ExternalTask):
    """The prepared data Airflow wrote: Luigi only checks that it is there."""

    path = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(self.path)


class TrainRidge(luigi.Task):
    """The team's regularised experiment: a ridge line on the same prepared data."""

    prepared = luigi.Parameter()
    folder = luigi.Parameter()
    alpha = luigi.FloatParameter()

    def requires(self):
        return PreparedHouses(path=self.prepared)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "ridge.pkl"), format=luigi.format.Nop)

    def run(self):
        pricing.train_model(self.input().path, self.output().path, alpha=self.alpha)


# -- helpers -------------------------------------------------------------------------------------
def _moment() -> str:
    """Now, as ISO 8601, strictly between what was recorded before and what is recorded after."""
    time.sleep(0.05)
    moment = datetime.now(timezone.utc).isoformat()
    time.sleep(0.05)
    return moment


def _write_raw(path: Path, seed: int, shift: float = 0.0) -> str:
    pricing.houses(2000, seed=seed, shift=shift, missing=40).to_csv(path, index=False)
    return str(path)


def _orchestrator(run_id: str) -> str:
    return mdb.get_client().store.get_run(run_id).orchestrator


@pytest.fixture
def world(prefect_server, postgres_server, prefect_python, tmp_path, monkeypatch) -> Scenario:
    """One team's store on PostgreSQL; this process tracks into it as the Airflow workers do."""
    uri = postgres_server.new_database()
    scenario = Scenario(uri, tmp_path, prefect_python, prefect_server)
    monkeypatch.setenv("MODELDB_ARTIFACTS", str(scenario.artifacts))
    monkeypatch.setenv("MODELDB_IDENTITY", "airflow-worker")
    client = mdb.configure(uri=uri)
    yield scenario
    client.close()


# -- the scenario ----------------------------------------------------------------------------------
def test_a_model_is_trained_governed_deployed_monitored_and_replaced(world, run_dag):
    champion_rmse = _registry_part(world, run_dag)
    _maintenance_part(world, run_dag, champion_rmse)


def _registry_part(world: Scenario, run_dag) -> float:
    """Issue 13's scenario; the rmse of the version it leaves in production."""
    data = world.root / "data"
    data.mkdir()
    raw = _write_raw(data / "houses.csv", seed=1)

    # 1. Airflow prepares the data, trains and registers version 1.
    dr = run_dag(TRAINING, raw=raw, workdir=str(data), degree=1)
    assert dr.state == "success"
    mdb.flush()
    v1 = mdb.resolve_model("models:/pricing/1")
    assert _orchestrator(v1.run_id) == "airflow"
    assert [uri for _, uri, _ in v1.inputs] == [f"file://{data}/prepared.csv"]
    world.cli("models", "promote", "pricing/1", "production", "--reason", "first release")
    world.cli("models", "policy", "pricing", "production", "--beat", "rmse:min", "--approvals", "1",
              "--approver", "risk-officer", "--reason", "MRM-7: a challenger must beat the champion")
    before_v3 = _moment()

    # 2. Luigi trains version 2, a worse one; its promotion is refused naming the rule and both values.
    assert mdb_luigi.build([TrainRidge(prepared=str(data / "prepared.csv"), folder=str(data), alpha=5000.0)],
                           project="pricing", local_scheduler=True, log_level="WARNING")
    mdb.flush()
    v2 = mdb.resolve_model("models:/pricing/2")
    trained_by = mdb.get_client().store.get_run(v2.run_id)  # the tracked function's run, in the Luigi task's
    luigi_task = mdb.get_client().store.get_run(trained_by.parent_run_id or trained_by.id)
    assert (luigi_task.orchestrator, luigi_task.name) == ("luigi", "TrainRidge")
    assert v2.metrics["rmse"] > v1.metrics["rmse"]
    world.cli("models", "approve", "pricing/2", "production", "--reason", "reviewed", identity="risk-officer")
    refused = world.cli("models", "promote", "pricing/2", "production", "--reason", "try the ridge", code=1)
    assert "refused by rule 'beat the holder on rmse (min)'" in refused, refused
    assert re.search(rf"version 2 has rmse = {v2.metrics['rmse']:g}", refused), refused
    assert re.search(rf"holder version 1 has rmse = {v1.metrics['rmse']:g}", refused), refused

    # 3. Prefect trains version 3, a better one: refused without an approval, promoted with one.
    model_path = str(data / "challenger.pkl")
    assert world.prefect("train", prepared_path=str(data / "prepared.csv"), model_path=model_path,
                         degree=2) == model_path
    v3 = mdb.resolve_model("models:/pricing/3")
    assert _orchestrator(v3.run_id) == "prefect"
    assert v3.metrics["rmse"] < v1.metrics["rmse"]
    unapproved = world.cli("models", "promote", "pricing/3", "production", code=1)
    assert "approval" in unapproved, unapproved
    world.cli("models", "approve", "pricing/3", "production", "--reason", "MR-12 reviewed", identity="risk-officer")
    moved = world.cli("models", "promote", "pricing/3", "production", "--reason", "lower rmse")
    assert "models:/pricing/pricing@production now v3 (was v1)" in moved, moved
    assert mdb.resolve_model("models:/pricing@production").version == 3

    # 4. The report of @production reaches the Airflow task that prepared the data, and the raw file.
    # (Three read-only commands at once: the machine is shared, the scenario should not take long.)
    as_json, markdown, then = world.cli_all(("report", "models:/pricing@production", "--format", "json"),
                                            ("report", "models:/pricing@production"),
                                            ("models", "show", "pricing@production", "--at", before_v3, "--json"))
    report = json.loads(as_json)
    assert report["version"]["version"] == 3
    runs = {n["label"]: n for n in report["lineage"]["nodes"] if n["kind"] == "run"}
    assert "prepare_data" in runs, sorted(runs)
    assert _orchestrator(runs["prepare_data"]["node"].split(":", 1)[1]) == "airflow"
    files = [n["label"].rsplit("@", 1)[0] for n in report["lineage"]["nodes"] if n["kind"] == "artifact"]
    assert f"file://{raw}" in files, files  # the raw source, upstream of the data prep
    assert [(m["from"], m["to"], m["actor"]) for m in report["alias_history"]] == [
        (None, 1, "release-manager"), (1, 3, "release-manager")]
    assert [a["actor"] for a in report["approvals"]] == ["risk-officer"]
    assert "prepare_data" in markdown and "MR-12 reviewed" in markdown

    # 5. --at before the last move answers version 1.
    assert [v["version"] for v in json.loads(then)] == [1]
    return v3.metrics["rmse"]


def _maintenance_part(world: Scenario, run_dag, champion_rmse: float) -> None:
    """Issue 14's scenario, continuing from the champion in production."""
    before_release = _moment()
    # 6. An Airflow task deploys @production (version 3) to prod.
    assert run_dag(RELEASE).state == "success"
    mdb.flush()
    [serving] = world.cli_json("deployments", "list", "-e", "prod")
    assert (serving["model"], serving["version"], serving["state"]) == ("pricing", 3, "deployed")
    assert _orchestrator(serving["run"]) == "airflow"
    during_v3 = _moment()

    # 7. Prefect monitors 30 batches for prod: 20 like the training data, then 10 with a moved market.
    batches = [{"rows": 500, "seed": 100 + n, "shift": 0.0 if n < 20 else 1.0} for n in range(30)]
    results = world.prefect("monitor", batches=batches)
    assert [r["error"] for r in results] == [None] * 30
    assert {r["version"] for r in results} == {3}
    first_degraded = next(n for n, r in enumerate(results) if r["degraded"])
    assert first_degraded >= 20, results[:first_degraded + 1]
    assert all(results[n]["flagged"] for n in range(20, 30))
    assert all("area" in results[n]["features"] for n in range(20, 30))
    listed, status = world.cli_all(("deployments", "list", "-e", "prod", "--json"),
                                   ("monitor", "status", "pricing", "--json"))
    [degraded] = json.loads(listed)
    assert (degraded["id"], degraded["state"]) == (serving["id"], "degraded")
    assert "flagged monitoring batches in a row" in degraded["state_reason"]
    status = json.loads(status)
    assert [(s["version"], s["deployment"], s["state"]) for s in status] == [(3, "prod", "degraded")], status

    # 8. Airflow retrains on the new market; the new version is approved, promoted and deployed.
    recent = world.root / "recent"
    recent.mkdir()
    raw = _write_raw(recent / "houses.csv", seed=2, shift=1.0)
    assert run_dag(TRAINING, raw=raw, workdir=str(recent), degree=3).state == "success"
    mdb.flush()
    v4 = mdb.resolve_model("models:/pricing/4")
    assert v4.metrics["rmse"] < champion_rmse
    world.cli("models", "approve", "pricing/4", "production", "--reason", "retrained after drift",
              identity="risk-officer")
    assert "now v4 (was v3)" in world.cli("models", "promote", "pricing/4", "production", "--reason", "drift")
    after_v4 = _moment()
    assert run_dag(RELEASE).state == "success"
    mdb.flush()
    after_release = _moment()

    # 9. What served in prod, before, during and after.
    times = (before_release, during_v3, after_v4, after_release)
    *served, old = world.cli_all(*[("deployments", "show", "prod", "--at", at, "--json") for at in times],
                                 ("deployments", "show", str(serving["id"]), "--json"))
    assert [[(d["version"], d["environment"]) for d in json.loads(rows)] for rows in served] == [
        [], [(3, "prod")], [(3, "prod")], [(4, "prod")]]
    old = json.loads(old)[0]
    assert old["state"] == "retired" and old["state_reason"].startswith("replaced by deployment")
    refused = world.cli("deployments", "restore", str(serving["id"]), "--reason", "roll back", code=1)
    assert "only a serving deployment" in refused

    # 10. The new version starts its own run of batches: its first flagged batch does not make it
    # degraded, whatever the version before it in prod did (the serving code monitors, in Python).
    odd = pricing.houses(500, seed=300, shift=3.0)[pricing.FEATURES]
    first = mdb.monitor("models:/pricing@production", batch=odd, deployment="prod")
    assert (first.error, first.version, first.flagged, first.degraded) == (None, 4, True, False)
    mdb.flush()

    # 11. The report of the model: the deployment history and the latest drift.
    as_json, markdown, verified, listed = world.cli_all(
        ("report", "models:/pricing@production", "--format", "json"), ("report", "models:/pricing@production"),
        ("audit", "verify"), ("deployments", "list", "-e", "prod", "--json"))
    assert [(d["version"], d["state"]) for d in json.loads(listed)] == [(4, "deployed")]
    report = json.loads(as_json)
    assert report["version"]["version"] == 4 and report["metrics"]["rmse"] == pytest.approx(v4.metrics["rmse"])
    assert [(d["environment"], d["version"], d["state"]) for d in report["deployments"]] == [
        ("prod", 3, "retired"), ("prod", 4, "deployed")]
    drift = {(d["version"], d["deployment"]): d for d in report["monitoring"]}
    assert sorted(drift) == [(3, "prod"), (4, "prod")]
    before, now = drift[3, "prod"], drift[4, "prod"]
    assert (before["batches"], before["flagged"], before["degraded"]) == (30, True, True)
    assert before["top_drift"].startswith("area")
    assert (now["batches"], now["flagged"], now["flagged_in_a_row"], now["degraded"]) == (1, True, 1, False)
    assert "## Latest monitoring" in markdown and "area (PSI" in markdown
    assert "OK" in verified
