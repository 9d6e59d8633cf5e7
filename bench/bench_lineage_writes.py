"""A small batch's lineage writes as the store grows, printed.

    python bench/bench_lineage_writes.py [--sizes 10000,100000,300000] [--postgres URL]

The store is filled with runs that each read one artifact version and write another (one
new version a run, batches of 500 runs), and at each size a batch like an Airflow DAG run's
(8 runs, each reading the previous one's output and writing its own) is applied 20 times:
its median wall time and the writer's CPU. The lookup of a batch's artifact versions must
go through their unique index, so the figure stays flat as the store grows (a row-value
``IN`` list made SQLite scan the whole table: ~60 ms a batch at 300,000 versions).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _version(n: int) -> dict:
    digest = f"{n:064x}"
    return {"uri": f"value:json/{digest[:16]}", "kind": "json", "content_hash": f"sha256:{digest}",
            "size": 40, "metadata": {"type": "builtins.list"}, "fingerprint_method": "json"}


def _runs(ev, first: int, count: int, seq) -> list:
    """``count`` runs, run i reading version ``first + i - 1`` and writing ``first + i``."""
    events = []
    for i in range(first, first + count):
        run = ev.uuid7()
        now = time.time()
        events += [
            ev.Event(ev.STARTED, run, next(seq), {"project": "bench", "name": "step", "started_at": now,
                                                  "orchestrator": "python", "params": {"factor": 3}, "tags": {}}),
            ev.Event(ev.IO, run, next(seq), {"direction": "input", "name": "values", "version": _version(i - 1)}),
            ev.Event(ev.IO, run, next(seq), {"direction": "output", "name": "return", "version": _version(i)}),
            ev.Event(ev.ENDED, run, next(seq), {"status": "succeeded", "ended_at": now}),
        ]
    return events


def measure(uri: str, sizes: list[int]) -> None:
    import itertools

    from modeldb_core import events as ev
    from modeldb_core.store import open_store

    store = open_store(uri)
    seq = itertools.count(1)
    filled = 0
    label = uri.split(":", 1)[0]
    for size in sizes:
        started = time.perf_counter()
        while filled < size:
            count = min(500, size - filled)
            store.apply_events(_runs(ev, filled + 1, count, seq), {})
            filled += count
        fill = time.perf_counter() - started
        walls, cpus = [], []
        for i in range(20):
            # Nine versions the store does not have yet: looked up, inserted, looked up again.
            batch = _runs(ev, size + 1_000_000 * (i + 1), 8, seq)
            wall, cpu = time.perf_counter(), time.thread_time()
            store.apply_events(batch, {})
            walls.append(time.perf_counter() - wall)
            cpus.append(time.thread_time() - cpu)
        print(f"  {label:10s} {size:8,d} versions   batch of 8 runs: {statistics.median(walls) * 1000:6.2f} ms wall, "
              f"{statistics.median(cpus) * 1000:6.2f} ms CPU (median of 20)   (filled in {fill:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure as well")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("A batch of 8 runs, each with an input and an output, as the store's artifact versions grow:")
    with tempfile.TemporaryDirectory(prefix="modeldb-bench-lineage-") as root:
        measure(f"sqlite:///{Path(root) / 'modeldb.db'}", sizes)
    if args.postgres:
        measure(args.postgres, sizes)


if __name__ == "__main__":
    main()
