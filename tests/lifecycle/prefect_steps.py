"""The Prefect steps of the lifecycle scenario, run by the Prefect environment's interpreter
(Airflow 3.3 and Prefect 3.9 cannot share one): ``python prefect_steps.py STEP JSON_ARGS``.

The store, the artifact folder and the identity come from the environment (``MODELDB_URI``,
``MODELDB_ARTIFACTS``, ``MODELDB_IDENTITY``), the Prefect server from ``PREFECT_API_URL``, as a
team's Prefect worker would have them. The flow's result is printed as the last line, as JSON.
"""
from __future__ import annotations

import json
import sys

from prefect import flow, task

import modeldb_core as mdb
from modeldb_core.integrations.prefect import track

import pricing

train = task(pricing.train_model)


@flow
def train_challenger(prepared_path: str, model_path: str, degree: int) -> str:
    """The challenger: a richer model trained on the data Airflow prepared."""
    return train(prepared_path, model_path, degree=degree)


@task
def score(rows: int, seed: int, shift: float) -> dict:
    """Score one batch of live houses with the production model and monitor it for prod."""
    batch = pricing.houses(rows, seed=seed, shift=shift)
    model = mdb.load_model("models:/pricing@production")
    features = batch[pricing.FEATURES]
    result = mdb.monitor("models:/pricing@production", batch=features, predictions=model.predict(features),
                         labels=batch[pricing.TARGET], deployment="prod")
    return {"flagged": result.flagged, "degraded": result.degraded, "error": result.error, "run": result.run_id,
            "version": result.version, "features": sorted(result.flagged_features)}


@flow
def monitor_prod(batches: list[dict]) -> list[dict]:
    """Each batch: ``{"rows", "seed", "shift"}``."""
    return [score(b["rows"], b["seed"], b["shift"]) for b in batches]


STEPS = {
    "train": track(train_challenger, project="pricing"),
    "monitor": track(monitor_prod, project="pricing", phases={"score": "monitoring"}),
}

if __name__ == "__main__":
    step, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(STEPS[step](**arguments)))
