"""What scikit-learn autolog costs: RandomForestRegressor(n_estimators=50) on 20,000 x 20.

    .venv/bin/python bench/bench_sklearn.py [--repeats 3] [--mlflow]

Prints, for the same fit (same data, same random_state, one thread):
- the plain fit time (no autolog), median of the repeats;
- under ``modeldb_core.sklearn.autolog()``: the added time measured directly
  (the wall time of the hooked call minus the time of the original ``fit``
  inside it, which autolog itself records as ``fit_time_s``), split into model
  serialization (pickle + SHA-256 + write into the artifact store, reported
  separately) and everything else (run creation, params, pipeline graph,
  data fingerprints, training score, writes); the target is "everything else"
  at most 5 % of the fit time;
- the same comparison by medians of whole calls (noisier on a shared machine);
- with ``mlflow`` importable (or ``--mlflow``), the same fit under
  ``mlflow.sklearn.autolog()`` (file store in a temp dir) and the ratio of its
  whole-call time to ModelDB's.

The first tracked call in a process also captures the environment and the
code version (once per process); a warm-up fit pays that before measuring and
its cost is printed on its own.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS, COLUMNS, TREES = 20_000, 20, 50


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, COLUMNS))
    y = X[:, 0] * 3 + np.sin(X[:, 1]) * 2 + X[:, 2] * X[:, 3] + rng.normal(0, 0.3, ROWS)
    return X, y


def model():
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=TREES, random_state=0, n_jobs=1)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_modeldb(X, y, repeats: int, workdir: Path) -> dict:
    import modeldb_core as mdb
    from modeldb_core.sklearn import autolog, run_of

    client = mdb.configure(uri=f"sqlite:///{workdir / 'modeldb.db'}", artifacts=str(workdir / "artifacts"))
    from sklearn.linear_model import Ridge

    plain, tracked, added, serialization, model_sizes = [], [], [], [], []
    # Warm-up: the process's first run captures environment and code version.
    autolog()
    first = timed(lambda: Ridge().fit(X[:50], y[:50]))
    autolog(disable=True)
    for _ in range(repeats):
        plain.append(timed(lambda: model().fit(X, y)))
        autolog()
        estimator = model()
        total = timed(lambda: estimator.fit(X, y))
        autolog(disable=True)
        detail = client.store.get_run_detail(run_of_last(client))
        inner = detail.metrics["fit_time_s"]
        (saved,) = [io.artifact for io in detail.outputs if io.name == "model"]
        serial = saved.metadata["serialize_seconds"]
        tracked.append(total)
        serialization.append(serial)
        added.append(total - inner - serial)
        model_sizes.append(saved.size)
    client.close()
    return {"plain": plain, "tracked": tracked, "added": added, "serialization": serialization,
            "first_run": first, "model_size": model_sizes[-1]}


def run_of_last(client) -> int:
    return max(r.id for r in client.store.list_runs(limit=5))


def bench_mlflow(X, y, repeats: int, workdir: Path) -> list[float] | None:
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        return None
    mlflow.set_tracking_uri("file://" + str(workdir / "mlruns"))
    mlflow.sklearn.autolog(silent=True)
    from sklearn.linear_model import Ridge

    Ridge().fit(X[:50], y[:50])  # warm-up
    times = []
    for _ in range(repeats):
        times.append(timed(lambda: model().fit(X, y)))
    mlflow.sklearn.autolog(disable=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mlflow", action="store_true", help="fail if mlflow is not importable")
    args = parser.parse_args()
    X, y = data()
    with tempfile.TemporaryDirectory(prefix="modeldb-bench-") as tmp:
        work = Path(tmp)
        result = bench_modeldb(X, y, args.repeats, work)
        ml = bench_mlflow(X, y, args.repeats, work)
    if args.mlflow and ml is None:
        sys.exit("mlflow is not importable")

    med = statistics.median
    fit = med(result["plain"])
    added = med(result["added"])
    serial = med(result["serialization"])
    print(f"RandomForestRegressor(n_estimators={TREES}) on {ROWS:,} x {COLUMNS}, {args.repeats} repeats, "
          f"sklearn {__import__('sklearn').__version__}, {os.cpu_count()} cores")
    print(f"  plain fit (median)                       {fit:8.3f} s   runs: "
          + ", ".join(f"{t:.3f}" for t in result["plain"]))
    print(f"  autolog added, without serialization     {added:8.3f} s   = {100 * added / fit:5.2f} % of the fit "
          f"(target <= 5 %)   runs: " + ", ".join(f"{t:.3f}" for t in result["added"]))
    print(f"  model serialization (pickle+hash+write)  {serial:8.3f} s   = {100 * serial / fit:5.2f} % "
          f"({result['model_size'] / 1e6:.1f} MB model)")
    print(f"  whole call under autolog (median)        {med(result['tracked']):8.3f} s   "
          f"= {100 * (med(result['tracked']) / fit - 1):+5.2f} % vs plain, serialization included")
    print(f"  first tracked call of the process        {result['first_run']:8.3f} s   "
          "(environment + code capture, once per process)")
    if ml is None:
        print("  mlflow: not importable (pip install mlflow to compare)")
    else:
        import mlflow

        print(f"  mlflow {mlflow.__version__} sklearn autolog (median)  {med(ml):8.3f} s   "
              f"= {100 * (med(ml) / fit - 1):+5.2f} % vs plain; mlflow / ModelDB whole call = "
              f"{med(ml) / med(result['tracked']):.2f}x   runs: " + ", ".join(f"{t:.3f}" for t in ml))


if __name__ == "__main__":
    main()
