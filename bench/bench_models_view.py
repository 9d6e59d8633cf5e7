"""The model-centric view's cost, printed: the models table a page at a time and a timeline whose
points carry the training run's params, over a project of N trained models each evaluated once
(SQLite), for each N given.

    python bench/bench_models_view.py [--models 2000 20000] [--repeat 5]

Each model is a training run (3 params, a loss) that writes a model file and an evaluation
run that reads it and logs rmse: 2 × N runs, 3 × N lineage edges. Prints the median of
``trained_models`` (the rule), ``models_table`` (rule + sort, one page of 100), the models
page (first page, and the page after it by its cursor), the JSON API's first page of 100
and of 1,000, ``modeldb runs models`` (a table of 100) and the timeline points through the
ASGI app in process.
"""
from __future__ import annotations

import argparse
import os
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


def bench(models: int, repeat: int) -> None:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from modeldb_core.cli import cli
    from modeldb_core.models_table import models_table
    from modeldb_core.models_view import trained_models
    from modeldb_core.store import open_store
    from modeldb_core.web import create_app

    folder = tempfile.mkdtemp(prefix="modeldb-bench-models-")
    uri = f"sqlite:///{folder}/bench.db"
    started = time.perf_counter()
    build(uri, models)
    print(f"\n{models:,} models ({2 * models:,} runs) built in {time.perf_counter() - started:.1f} s")
    store = open_store(uri)
    assert len(trained_models(store, "bench")) == models
    first = models_table(store, "bench")
    assert len(first.models) == min(100, models) and first.matched == models
    rows = {
        "trained_models (the rule)": lambda: trained_models(store, "bench"),
        "models_table (rule + sort, page of 100)": lambda: models_table(store, "bench"),
    }
    with TestClient(create_app(uri)) as client:
        answer = client.get("/api/projects/bench/trained")
        second = answer.json().get("next_cursor") if answer.status_code == 200 else None
        statuses: dict[str, set[int]] = {}

        def get(name: str, url: str, **params):
            # A page past the read deadline (query_timeout) is a 503: counted, not raised.
            return lambda: statuses.setdefault(name, set()).add(client.get(url, params=params).status_code)

        pages = {"GET /projects/bench/trained (first page)": ("/projects/bench/trained", {}),
                 "GET /projects/bench/trained (second page, cursor)": ("/projects/bench/trained",
                                                                       {"cursor": second}),
                 "GET /api/projects/bench/trained (limit 100)": ("/api/projects/bench/trained", {}),
                 "GET /api/projects/bench/trained (limit 1000)": ("/api/projects/bench/trained",
                                                                  {"limit": 1000})}
        for name, (url, params) in pages.items():
            rows[name] = get(name, url, **params)
        rows["modeldb runs models (table of 100)"] = lambda: CliRunner().invoke(
            cli, ["--uri", uri, "runs", "models", "-p", "bench"], catch_exceptions=False)
        for name, params in (("GET /api/projects/bench/points (rmse, all params)",
                              {"metric": "rmse", "all_params": "true"}),
                             ("GET /api/projects/bench/points (rmse, no params)", {"metric": "rmse"})):
            rows[name] = get(name, "/api/projects/bench/points", **params)
        width = max(map(len, rows))
        for name, fn in rows.items():
            took = median_ms(fn, repeat)
            answered = statuses.get(name, {200}) - {200}
            print(f"{name:<{width}}  {took:8.1f} ms (median of {repeat})"
                  + (f"  answered {sorted(answered)} (past query_timeout)" if answered else ""))
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for models in args.models:
        bench(models, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
