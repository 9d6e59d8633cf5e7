"""Reproduction costs, printed (issue 17).

    python bench/bench_reproduce.py [--calls 5000] [--snapshot-mb 256]

Targets: the capture ``@tracked_task`` adds per call for reproduction (its entry point
and argument recipe, the probe of the random generators; the diff is read once per
process, and only from a dirty tree) <= 0.1 ms on a clean tree; the ``--dry-run`` plan
of a run with 10 inputs <= 200 ms; input snapshots >= 200 MB/s on local disk.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import modeldb_core as mdb  # noqa: E402


@mdb.tracked_task(project="bench")
def train_on(files: list, alpha: float = 0.1) -> float:
    """A task reading ten input files (an importable entry point, as a real one is)."""
    for path in files:
        mdb.log_input(path)
    return alpha


def capture_cost(calls: int) -> float:
    """Median microseconds of what reproduction capture adds to one tracked call."""
    import modeldb_core as mdb
    from modeldb_core import recipe
    from modeldb_core.task import _Call, tracked

    @mdb.tracked_task(project="bench")
    def step(data_path: str, alpha: float = 0.5, rounds: int = 3, name: str = "x") -> float:
        return alpha * rounds

    tracker = tracked(step)
    client = mdb.get_client()
    data = Path(tempfile.mkdtemp()) / "data.csv"
    data.write_text("a,b\n1,2\n")
    step(str(data))  # the first call pays for imports and the code version
    run = mdb.start_run("bench-recipe", project="bench", parent=None)
    call = _Call(tracker.signature, (str(data),), {})
    inputs = [("data_path", run.log_input(str(data), name="data_path"))]
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        tracker._record_entry(run, call, inputs, client)
        probe = recipe.RandomnessProbe()
        probe.used()
        times.append(time.perf_counter() - started)
    run.end()
    mdb.flush()
    return statistics.median(times) * 1e6


def plan_time(inputs: int) -> float:
    """Median milliseconds of the dry-run plan of a run with ``inputs`` input files."""
    import modeldb_core as mdb

    folder = Path(tempfile.mkdtemp())
    paths = []
    for i in range(inputs):
        path = folder / f"input-{i}.csv"
        path.write_bytes(os.urandom(64 * 1024))
        paths.append(str(path))
    train_on(paths)
    mdb.flush()
    runs = [r for r in mdb.get_client().store.list_runs(project="bench", limit=50) if r.name == "train_on"]
    run_id = max(runs, key=lambda r: r.started_at).id
    from modeldb_core.reproduction import plan

    plan(run_id)  # warm: the store is open, the module tables are read
    times = []
    for _ in range(20):
        started = time.perf_counter()
        plan(run_id)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def snapshot_rate(megabytes: int) -> float:
    """MB/s of copying a fresh file into the artifact store (hashed while written)."""
    from modeldb_core import recipe
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.fingerprint import fingerprint

    folder = Path(tempfile.mkdtemp())
    source = folder / "big.bin"
    with source.open("wb") as fh:
        for _ in range(megabytes):
            fh.write(os.urandom(1 << 20))
    version = fingerprint(str(source))
    store = ArtifactStore(folder / "artifacts")
    started = time.perf_counter()
    recipe.snapshot(str(source), version, None, store)
    return megabytes / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--snapshot-mb", type=int, default=256)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="modeldb-bench-")
    os.environ.setdefault("MODELDB_URI", f"sqlite:///{home}/modeldb.db")
    os.environ.setdefault("MODELDB_JOURNAL", f"{home}/journal")
    os.environ.setdefault("MODELDB_ARTIFACTS", f"{home}/artifacts")
    print(f"capture added per tracked call (clean tree): {capture_cost(args.calls):.1f} us median   (target <= 100 us)")
    print(f"dry-run plan of a run with 10 inputs: {plan_time(10):.1f} ms median   (target <= 200 ms)")
    print(f"input snapshot throughput: {snapshot_rate(args.snapshot_mb):.0f} MB/s   (target >= 200 MB/s)")


if __name__ == "__main__":
    main()
