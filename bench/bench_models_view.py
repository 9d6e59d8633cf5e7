"""The model-centric view's cost, printed: the models table and a timeline whose points carry
the training run's params, over a project of N trained models each evaluated once (SQLite).

    python bench/bench_models_view.py [--models 2000] [--repeat 5]

Each model is a training run (3 params, a loss) that writes a model file and an evaluation
run that reads it and logs rmse: 2 × N runs, 3 × N lineage edges. Prints the median of
``trained_models`` (the rule), ``models_table`` (rule + sort), the models page and the
timeline points through the ASGI app in process.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def build(uri: str, models: int) -> None:
    from modeldb_core.model import ArtifactVersion, Metric, NewRun
    from modeldb_core.store import open_store

    store = open_store(uri)
    rng = random.Random(3)
    start = time.time() - models * 120
    data = ArtifactVersion(uri="file:///data/train.csv", kind="file", content_hash="sha256:" + "d" * 64, size=10)
    test = ArtifactVersion(uri="file:///data/test.csv", kind="file", content_hash="sha256:" + "e" * 64, size=10)
    batch = []
    for i in range(models):
        t = start + i * 120
        model = ArtifactVersion(uri=f"file:///models/model_{i}.json", kind="file",
                                content_hash=f"sha256:{i:064x}", size=100)
        batch.append(NewRun(project="bench", name="train_model", phase="training", started_at=t, ended_at=t + 50,
                            status="succeeded", params={"learning_rate": rng.choice([0.1, 0.03, 0.01]),
                                                        "epochs": rng.choice([40, 80]), "l2": 0.0},
                            metrics=[Metric("train_mse", rng.random(), 0, t + 40)],
                            inputs=[("train_path", data)], outputs=[("return", model)]))
        batch.append(NewRun(project="bench", name="evaluate_model", phase="evaluation", started_at=t + 60,
                            ended_at=t + 70, status="succeeded",
                            params={"model_path": f"/models/model_{i}.json", "test_path": "/data/test.csv"},
                            metrics=[Metric("rmse", 20 + 10 * rng.random(), 0, t + 65)],
                            inputs=[("model_path", model), ("test_path", test)]))
    store.bulk_create_runs(batch)
    store.close()


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fastapi.testclient import TestClient

    from modeldb_core.models_table import models_table
    from modeldb_core.models_view import trained_models
    from modeldb_core.store import open_store
    from modeldb_core.web import create_app

    folder = tempfile.mkdtemp(prefix="modeldb-bench-models-")
    uri = f"sqlite:///{folder}/bench.db"
    started = time.perf_counter()
    build(uri, args.models)
    print(f"{args.models:,} models ({2 * args.models:,} runs) built in {time.perf_counter() - started:.1f} s")
    store = open_store(uri)
    assert len(trained_models(store, "bench")) == args.models
    rows = {
        "trained_models (the rule)": lambda: trained_models(store, "bench"),
        "models_table (rule + sort)": lambda: models_table(store, "bench"),
    }
    with TestClient(create_app(uri)) as client:
        rows["GET /projects/bench/trained"] = lambda: client.get("/projects/bench/trained").raise_for_status()
        rows["GET /api/projects/bench/points (rmse, all params)"] = lambda: client.get(
            "/api/projects/bench/points", params={"metric": "rmse", "all_params": "true"}).raise_for_status()
        rows["GET /api/projects/bench/points (rmse, no params)"] = lambda: client.get(
            "/api/projects/bench/points", params={"metric": "rmse"}).raise_for_status()
        width = max(map(len, rows))
        for name, fn in rows.items():
            print(f"{name:<{width}}  {median_ms(fn, args.repeat):8.1f} ms (median of {args.repeat})")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
