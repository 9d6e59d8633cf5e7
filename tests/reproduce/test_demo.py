"""The demo, run twice from a clean clone: every run of the first one that recorded how to run
it again (its @tracked_task steps and scikit-learn fits) reproduces bit-identical."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import modeldb_core as mdb

CHECKOUT = Path(mdb.__file__).resolve().parents[1]


def test_every_demo_run_reproduces_identical(tmp_path, sqlite_uri):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(CHECKOUT), str(clone)], check=True)
    env = {**os.environ, "MODELDB_URI": sqlite_uri, "PYTHONPATH": str(clone)}
    demo = ("import modeldb_core, modeldb_core.demo as d; "
            f"assert modeldb_core.__file__.startswith({str(clone)!r}); d.run_demo(workdir={str(tmp_path / 'demo')!r})")
    subprocess.run([sys.executable, "-c", demo], cwd=clone, env=env, check=True, capture_output=True)
    between = time.time()
    subprocess.run([sys.executable, "-c", demo], cwd=clone, env=env, check=True, capture_output=True)

    client = mdb.configure(uri=sqlite_uri)
    try:
        first = [r for r in client.store.list_runs(project="house-prices", limit=1000) if r.started_at < between]
        plans = {r.id: mdb.reproduce(r.id, dry_run=True) for r in first}
        runnable = {run_id: plan for run_id, plan in plans.items() if plan.kind is not None}
        names = sorted(plan.name for plan in runnable.values())
        assert names.count("train_model") == 4 and names.count("evaluate_model") == 4
        assert {"generate_raw_data", "clean_data", "build_features", "house_prices_pipeline",
                "sklearn_house_prices", "Pipeline", "GridSearchCV"} <= set(names)
        # What is left are the grid search's candidates: records of the search, re-made with it.
        assert {plans[r].name for r in plans if r not in runnable} <= {f"GridSearchCV candidate {i}" for i in range(6)}
        for run_id, plan in runnable.items():
            assert plan.reproducible, (plan.name, plan.blockers)
            assert plan.repo == str(clone) and not plan.dirty
            verdict = mdb.reproduce(run_id)
            assert verdict.verdict == "identical", (plan.name, verdict.differences, verdict.error)
    finally:
        client.close()
