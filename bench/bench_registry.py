"""Model registry figures, printed (SQLite; PostgreSQL with ``--postgres URL``).

    python bench/bench_registry.py
    python bench/bench_registry.py --postgres postgresql+psycopg://user@host/db   # an empty database

Targets (issue 13):
- registering a model version (``register_model_version``: the version number, the audit
  event, in one transaction): <= 2 ms;
- resolving ``models:/name@alias``: <= 1 ms;
- ``audit verify`` of 100,000 events: <= 5 s;
- the provenance report of a model whose upstream lineage spans 1,000 runs: <= 1 s.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from modeldb_core.model import ArtifactVersion, NewRun
from modeldb_core.registry import audit, report
from modeldb_core.store import open_store


def _content(label: str, uri: str | None = None) -> ArtifactVersion:
    digest = hashlib.sha256(label.encode()).hexdigest()
    return ArtifactVersion(uri=uri or f"file:///bench/models/{label}.pkl", kind="model",
                           content_hash=f"sha256:{digest}", size=10)


def _median_ms(fn, count: int) -> float:
    times = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _fill_audit(store, events: int) -> None:
    """``events`` chained audit events, written in bulk (the write path appends one at a time)."""
    from modeldb_core.store import schema as t

    with store.engine.begin() as conn:
        from sqlalchemy import select

        prev = conn.execute(select(t.audit_events.c.hash).order_by(t.audit_events.c.id.desc()).limit(1)).scalar()
        prev = prev or audit.GENESIS
        rows = []
        now = time.time()
        for i in range(events):
            after = f'{{"version":{i}}}'
            digest = audit.link_hash(prev, now + i * 1e-3, "bench", "version.register", "models:/bench/1",
                                     None, after, None)
            rows.append({"at": now + i * 1e-3, "actor": "bench", "action": "version.register",
                         "subject": "models:/bench/1", "before": None, "after": after, "reason": None,
                         "prev_hash": prev, "hash": digest})
            prev = digest
            if len(rows) == 5000:
                conn.execute(t.audit_events.insert(), rows)
                rows = []
        if rows:
            conn.execute(t.audit_events.insert(), rows)


def _lineage_chain(store, runs: int) -> str:
    """``runs`` runs, each reading what the previous one wrote; the last writes the model. Its id."""
    now = time.time()
    chain = []
    for i in range(runs):
        data_in = _content(f"data-{i}", f"file:///bench/data/{i}.csv")
        data_out = _content(f"data-{i + 1}", f"file:///bench/data/{i + 1}.csv")
        chain.append(NewRun(project="bench", name=f"step-{i}", started_at=now + i, ended_at=now + i + 1,
                            status="succeeded", phase="data_prep", inputs=[("in", data_in)],
                            outputs=[("out", data_out)], metrics=[]))
    ids = store.create_runs(chain)
    return ids[-1]


def measure(uri: str) -> None:
    store = open_store(uri)
    print(f"store: {store.uri}")
    registered = _median_ms(lambda i: store.register_model_version("bench", _content(f"m{i}"), "bench"), 500)
    print(f"register_model_version (500 versions, median): {registered:.2f} ms   (target <= 2 ms)")
    store.promote("models:/bench/250", "production", "bench")
    resolved = _median_ms(lambda i: store.resolve_model("models:/bench@production", detail=False), 2000)
    print(f"resolve models:/bench@production (median of 2,000): {resolved:.3f} ms   (target <= 1 ms)")
    detailed = _median_ms(lambda i: store.resolve_model("models:/bench@production"), 2000)
    print(f"  the same with inputs, aliases and metrics (detail=True): {detailed:.3f} ms")

    last = _lineage_chain(store, 1000)
    store.register_model_version("lineage", _content("lineage-model"), "bench", run=last)
    start = time.perf_counter()
    built = report.build(store, "models:/lineage/1")
    report.markdown(built)
    took = time.perf_counter() - start
    print(f"report of a version whose lineage spans {sum(n['kind'] == 'run' for n in built['lineage']['nodes'])} "
          f"runs: {took * 1000:.0f} ms   (target <= 1,000 ms)")

    _fill_audit(store, 100_000 - len(store.audit_events(limit=None)))
    start = time.perf_counter()
    check = store.verify_audit()
    took = time.perf_counter() - start
    print(f"audit verify of {check.checked:,} events: {took:.2f} s (ok={check.ok})   (target <= 5 s)")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="also measure on this (empty) PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{Path(folder) / 'registry.db'}")
    if args.postgres:
        measure(args.postgres)


if __name__ == "__main__":
    main()
