"""Web UI response times over 100,000 runs in SQLite, printed.

    python bench/bench_web.py [--runs 100000] [--db PATH] [--repeat 15]

Targets (issue 5), median: first page of the runs table <= 150 ms; a filtered
and sorted page <= 150 ms; a run page <= 50 ms; the timeline of 10,000 points
<= 300 ms. Requests go through the whole ASGI app in process (routing,
store, query layer, template rendering), not over a socket. The store is
built with the bulk path once and kept at --db for the next time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECTS = 5
TARGETS_MS = {"runs table, first page": 150, "filtered + sorted": 150, "run page": 50,
              "timeline, 10,000 points": 300}


def build(uri: str, runs: int) -> int:
    """``runs`` finished runs over PROJECTS projects; returns the id of a richly logged run."""
    from modeldb_core import events
    from modeldb_core.model import ArtifactVersion, Metric, NewRun
    from modeldb_core.runtime import _dict
    from modeldb_core.store import open_store

    store = open_store(uri)
    rng = random.Random(5)
    start = time.time() - runs * 60
    batch: list[NewRun] = []
    for i in range(runs):
        t = start + i * 60
        lr = rng.choice([0.3, 0.1, 0.03, 0.01, 0.003])
        acc = min(0.99, max(0.5, rng.gauss(0.8, 0.05)))
        batch.append(NewRun(
            project=f"project-{i % PROJECTS}", name=f"train_{i % 40}", started_at=t, ended_at=t + 30,
            phase="training", status="succeeded" if rng.random() > 0.03 else "failed",
            orchestrator=rng.choice(["airflow", "prefect", "luigi", "python"]),
            params={"learning_rate": lr, "max_depth": rng.randint(2, 12),
                    "model": rng.choice(["gbm", "rf", "linear"]), "seed": i},
            tags={"team": rng.choice(["growth", "risk", "core"]), "stage": "experiment"},
            metrics=[Metric("accuracy", acc, 0, t + 30), Metric("loss", 1 - acc + rng.random() / 10, 0, t + 30),
                     Metric("f1", acc - 0.05, 0, t + 30)]))
        if len(batch) == 2000:
            store.create_runs(batch)
            batch = []
            print(f"\r  {i + 1:,} runs", end="", file=sys.stderr, flush=True)
    if batch:
        store.create_runs(batch)
    print(file=sys.stderr)
    rich = store.list_runs(project="project-0", limit=1)[0].id
    data = ArtifactVersion(uri="file:///data/customers.csv", kind="file", content_hash="sha256:" + "ab" * 32,
                           size=123456, metadata={"format": "csv"})
    model = ArtifactVersion(uri="file:///models/gbm.bin", kind="model", content_hash="sha256:" + "cd" * 32,
                            size=4096)
    store.apply_events(
        [events.Event(events.METRIC, rich, s, ["train_loss", 1 / (s + 1), s, time.time()]) for s in range(1, 500)]
        + [events.Event(events.NOTE, rich, 500, {"text": "the baseline", "at": time.time()}),
           events.Event(events.IO, rich, 501, {"direction": "input", "name": "customers", "version": _dict(data)}),
           events.Event(events.IO, rich, 502, {"direction": "output", "name": "model", "version": _dict(model)})])
    store.close()
    return rich


def timed(client, path: str, repeat: int) -> float:
    response = client.get(path)  # warm: templates compiled, caches filled
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - begin)
        assert response.status_code == 200
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "modeldb-bench-web.db"))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from fastapi.testclient import TestClient

    from modeldb_core.store import open_store
    from modeldb_core.web import create_app

    uri = f"sqlite:///{args.db}"
    db = Path(args.db)
    if db.exists():
        # A file kept from an older ModelDB: upgrade it, as `modeldb db upgrade` would.
        from modeldb_core.store.engine import make_engine
        from modeldb_core.store.migrate import upgrade

        engine = make_engine(uri)
        upgrade(engine)
        engine.dispose()
        store = open_store(uri)
        have = sum(s.runs for s in store.project_summaries())
        store.close()
        if have != args.runs:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
    if not db.exists():
        print(f"building {args.runs:,} runs in {db} ...", file=sys.stderr)
        begin = time.perf_counter()
        build(uri, args.runs)
        print(f"  built in {time.perf_counter() - begin:.1f} s", file=sys.stderr)
    store = open_store(uri)
    rich = store.list_runs(project="project-0", limit=1)[0].id
    per_project = max(s.runs for s in store.project_summaries())
    store.close()

    with TestClient(create_app(uri)) as client:
        results = {
            "runs table, first page": timed(client, "/runs", args.repeat),
            "filtered + sorted: metric > x, by it": timed(
                client, "/runs?filter=metrics.accuracy+%3E+0.85&order=metrics.accuracy+desc", args.repeat),
            "filtered + sorted: param = x, by time": timed(
                client, "/runs?filter=params.model+%3D+%22rf%22&order=started_at+desc", args.repeat),
            "filtered + sorted: status, by a metric": timed(
                client, "/runs?filter=status+%3D+%22failed%22&order=metrics.loss+asc", args.repeat),
            "filtered + sorted: metric and param, by a 3rd": timed(
                client, "/runs?filter=metrics.accuracy+%3E+0.85+and+params.learning_rate+%3D+0.01"
                        "&order=metrics.loss+asc", args.repeat),
            "run page": timed(client, f"/runs/{rich}", args.repeat),
            "timeline, 10,000 points": timed(
                client, "/api/projects/project-0/points?metric=accuracy&limit=10000", args.repeat),
        }
        points = client.get("/api/projects/project-0/points?metric=accuracy&limit=10000").json()["count"]
        other = {
            "runs table, project + group by param": timed(
                client, "/runs?project=project-1&group=params.model", max(5, args.repeat // 3)),
            "API runs, filtered + sorted (JSON)": timed(
                client, "/api/runs?filter=metrics.accuracy+%3E+0.85&order=metrics.loss+asc", args.repeat),
            "projects summary": timed(client, "/", max(5, args.repeat // 3)),
            "lineage of the run (API)": timed(client, f"/api/lineage?node=run:{rich}", args.repeat),
        }
    print(f"\nModelDB web UI, SQLite, {args.runs:,} runs ({per_project:,} in the largest project), "
          f"median of {args.repeat}:")
    for name, ms in results.items():
        target = TARGETS_MS[name.split(":")[0]]
        print(f"  {name:<48} {ms:8.1f} ms   (target <= {target} ms: {'ok' if ms <= target else 'MISSED'})")
    print(f"  (the timeline returned {points:,} points)")
    for name, ms in other.items():
        print(f"  {name:<48} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
