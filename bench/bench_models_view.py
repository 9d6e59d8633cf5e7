"""The model-centric view's cost, printed: the models table a page at a time and a timeline whose
points carry the training run's params, over a project of N trained models each evaluated once,
on SQLite and PostgreSQL, for each N given.

    python bench/bench_models_view.py [--models 2000 20000] [--repeat 5] [--no-postgres]

Each model is a training run (3 params, a loss) that writes a model file and an evaluation
run that reads it and logs rmse: 2 × N runs, 3 × N lineage edges. Prints the median of
``models_table`` pages (the first page of 100 by the main metric, a filtered page, a page sorted
by a param, the page after the first by its cursor, and the overview of the columns alone),
the models page through the web (first page, and the page after it by its cursor), the JSON
API's first page of 100 and of 1,000, ``modeldb runs models`` (a table of 100) and the timeline
points through the ASGI app in process.
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


def median_ms(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (SQLite's work is in it), in ms."""
    times, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return statistics.median(times), statistics.median(cpu)


def bench(uri: str, label: str, models: int, repeat: int) -> None:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from modeldb_core.cli import cli
    from modeldb_core.models_table import models_table
    from modeldb_core.store import open_store
    from modeldb_core.web import create_app

    from bench_query import analyze

    started = time.perf_counter()
    build(uri, models)
    analyze(uri)  # the planner's statistics, as after any large import
    print(f"\n[{label}] {models:,} models ({2 * models:,} runs) built in {time.perf_counter() - started:.1f} s, "
          f"load average {os.getloadavg()[0]:.2f}")
    store = open_store(uri)
    first = models_table(store, "bench")
    assert len(first.models) == min(100, models) and first.matched == models
    filtered = "params.learning_rate = 0.1 and metrics.rmse < 25"
    assert 0 < models_table(store, "bench", filter=filtered).matched < models
    rows = {
        "models_table: first page of 100 (by the main metric)": lambda: models_table(store, "bench"),
        f"models_table: filtered page ({filtered})": lambda: models_table(store, "bench", filter=filtered),
        "models_table: sorted page (-params.epochs)": lambda: models_table(store, "bench", order="-params.epochs"),
        "models_table: second page (keyset cursor)": lambda: models_table(store, "bench", cursor=first.next_cursor),
        "  of which the overview (columns, total)": lambda: store.models_overview("bench"),
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
            took, cpu = median_ms(fn, repeat)
            answered = statuses.get(name, {200}) - {200}
            print(f"[{label}] {name:<{width}}  {took:8.1f} ms wall {cpu:8.1f} ms CPU (median of {repeat})"
                  + (f"  answered {sorted(answered)} (past query_timeout)" if answered else ""))
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for models in args.models:
        folder = tempfile.mkdtemp(prefix="modeldb-bench-models-")
        bench(f"sqlite:///{folder}/bench.db", "sqlite", models, args.repeat)
    if not args.no_postgres:
        from bench_query import TempPostgres

        pg = TempPostgres()
        if pg.bin is None:
            print("PostgreSQL: no initdb/pg_ctl found (apt-get install postgresql): skipped")
            return 0
        try:
            uri = pg.start()
            for number, models in enumerate(args.models):
                database = f"bench{number}"
                _create_database(uri, database)
                bench(uri.rsplit("/", 1)[0] + f"/{database}", "postgres", models, args.repeat)
        finally:
            pg.stop()
    return 0


def _create_database(uri: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(uri, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
