"""Monitoring batches from a real Prefect flow: each batch a monitoring run nested under its task run."""
from __future__ import annotations

import numpy as np
import pandas as pd
from prefect import flow, task

import modeldb_core as mdb
from modeldb_core.integrations.prefect import track

FEATURES = ["area", "age", "floor"]


def _batch(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 3)), columns=FEATURES)
    frame["area"] += shift
    return frame


@task
def score(batch: pd.DataFrame) -> dict:
    predictions = batch["area"] * 2.0
    result = mdb.monitor("models:/pricing@production", batch=batch, predictions=predictions, deployment="prod")
    return {"flagged": result.flagged, "degraded": result.degraded, "error": result.error, "run": result.run_id}


@flow
def monitor_batches(shifts: list[float]) -> list[dict]:
    return [score(_batch(500, seed=100 + n, shift=shift)) for n, shift in enumerate(shifts)]


tracked_monitoring = track(monitor_batches, project="pricing")


def test_batches_monitored_from_a_prefect_flow_degrade_the_deployment(tracking, tmp_path):
    from modeldb_core import registry

    @mdb.tracked_task(phase="training", register_model="pricing", name="train")
    def train(data: pd.DataFrame, model_path: str) -> dict:
        (tmp_path / "model.txt").write_text(f"slope={float(data['area'].mean())}\n")
        return {"model": model_path}

    train(_batch(5000, seed=1), str(tmp_path / "model.txt"))
    mdb.flush()
    registry.promote("models:/pricing/1", "production")
    deployed = mdb.record_deployment("models:/pricing@production", "prod", endpoint="https://pricing.internal")

    results = tracked_monitoring([0.0, 0.0, 1.0, 1.0, 1.0])

    assert [r["error"] for r in results] == [None] * 5
    assert [r["flagged"] for r in results] == [False, False, True, True, True]
    assert [r["degraded"] for r in results] == [False, False, False, False, True]
    # The third flagged batch in a row turned the deployment serving in prod degraded (audited).
    [now] = mdb.deployments(model="pricing", environment="prod")
    assert now.id == deployed.id and now.state == "degraded" and now.version == 1
    assert "3 flagged monitoring batches in a row" in (now.state_reason or "")
    mdb.flush()
    for r in results:
        run = tracking.store.get_run_detail(r["run"])
        parent = tracking.store.get_run_detail(run.run.parent_run_id)
        assert run.run.phase == "monitoring" and parent.run.orchestrator == "prefect"
        assert parent.run.name.startswith("score")
