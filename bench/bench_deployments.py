"""Deployment figures, printed (SQLite; PostgreSQL with ``--postgres URL``).

    python bench/bench_deployments.py
    python bench/bench_deployments.py --postgres postgresql+psycopg://user@host/db   # an empty database

What is measured:
- ``record_deployment`` (resolve the reference, end what it replaces, the audit events,
  one transaction under the registry lock), median of 500;
- "what served in prod at T" (``deployments(environment=, at=)``) and "what served
  anywhere at T" over a history of 100,000 deployments (200 models, 20 environments),
  median of 200 random times;
- a model's whole deployment history (what the model page and the report read).
"""
from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from modeldb_core.events import uuid7
from modeldb_core.model import ArtifactVersion
from modeldb_core.store import open_store

HISTORY = 100_000
MODELS = 200
ENVIRONMENTS = 20


def _content(label: str) -> ArtifactVersion:
    digest = hashlib.sha256(label.encode()).hexdigest()
    return ArtifactVersion(uri=f"file:///bench/models/{label}.pkl", kind="model", content_hash=f"sha256:{digest}",
                           size=10)


def _median_ms(fn, count: int) -> float:
    times = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _fill_history(store, start: float) -> float:
    """``HISTORY`` deployments written in bulk: per model and environment, one after another
    (each ends when the next begins), as years of releases would leave them. Returns the end."""
    from sqlalchemy import select

    from modeldb_core.store import schema as t

    for m in range(MODELS):
        for v in range(1, 4):
            store.register_model_version(f"model-{m}", _content(f"model-{m}-{v}"), "bench")
    with store.engine.begin() as conn:
        versions: dict[int, list[int]] = {}
        for model_id, version_id in conn.execute(select(t.model_versions.c.model_id, t.model_versions.c.id)):
            versions.setdefault(model_id, []).append(version_id)
        per_lane = HISTORY // (MODELS * ENVIRONMENTS)
        rows = []
        end = start
        for model_id, ids in versions.items():
            for e in range(ENVIRONMENTS):
                at = start + random.random() * 3600
                for i in range(per_lane):
                    until = at + 3600 * (1 + random.random() * 24) if i < per_lane - 1 else None
                    rows.append({"uuid": uuid7(), "model_id": model_id, "version_id": ids[i % len(ids)],
                                 "environment": "prod" if e == 0 else f"env-{e}", "endpoint": None,
                                 "state": "deployed" if until is None else "retired", "traffic": None,
                                 "since": at, "until": until, "actor": "bench", "reason": None,
                                 "requested": "models:/bench", "run_id": None, "state_changed_at": at})
                    end = max(end, at)
                    at = until or at
                    if len(rows) == 5000:
                        conn.execute(t.deployments.insert(), rows)
                        rows = []
        if rows:
            conn.execute(t.deployments.insert(), rows)
    return end


def measure(uri: str) -> None:
    random.seed(7)
    store = open_store(uri)
    print(f"store: {store.uri}")
    for label in "abc":
        store.register_model_version("pricing", _content(label), "bench")
    store.promote("models:/pricing/1", "production", "bench")

    def record(i: int) -> None:
        if i % 5 == 4:
            store.record_deployment(f"models:/pricing/{i % 3 + 1}", f"region-{i % 10}", "bench", traffic=0.1)
        else:
            store.record_deployment(f"models:/pricing/{i % 3 + 1}" if i % 2 else "models:/pricing@production",
                                    f"region-{i % 10}", "bench", endpoint=f"https://serving/{i}")
    recorded = _median_ms(record, 500)
    print(f"record_deployment (500, each replacing the one before, audited; median): {recorded:.2f} ms")

    start = time.time() - 3 * 365 * 86400
    end = _fill_history(store, start)
    with store.engine.connect() as conn:
        from sqlalchemy import func, select

        from modeldb_core.store import schema as t

        total = conn.execute(select(func.count()).select_from(t.deployments)).scalar_one()
    moments = [start + random.random() * (end - start) for _ in range(200)]
    in_prod = _median_ms(lambda i: store.deployments(environment="prod", at=moments[i]), 200)
    print(f"what served in prod at T, {total:,} deployments (median of 200 times): {in_prod:.2f} ms")
    one = _median_ms(lambda i: store.deployments(model="model-7", environment="prod", at=moments[i]), 200)
    print(f"what of one model served in prod at T (median of 200): {one:.2f} ms")
    anywhere = _median_ms(lambda i: store.deployments(at=moments[i]), 50)
    rows = statistics.median(len(store.deployments(at=moments[i])) for i in range(20))
    print(f"what served anywhere at T (every environment, median of 50; ~{rows:,.0f} rows each): {anywhere:.2f} ms")
    history = _median_ms(lambda i: store.deployments(model=f"model-{i}", history=True), 100)
    print(f"a model's whole deployment history ({HISTORY // MODELS} rows, median of 100): {history:.2f} ms")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="also measure on this (empty) PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{Path(folder) / 'deployments.db'}")
    if args.postgres:
        measure(args.postgres)


if __name__ == "__main__":
    main()
