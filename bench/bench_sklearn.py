"""What scikit-learn autolog costs: RandomForestRegressor(n_estimators=50) on 20,000 x 20.

    .venv/bin/python bench/bench_sklearn.py [--repeats 3] [--mlflow]

Prints, for the same fit (same data, same random_state, one thread):
- the plain fit time (no autolog), median of the repeats;
- under ``modeldb_core.sklearn.autolog()``: the added time measured directly
  (the wall time of the hooked call minus the time of the original ``fit``
  inside it, which autolog itself records as ``fit_time_s``; as a share of
  that inner fit, so a busy machine slows both sides alike), split into model
  serialization (pickle + SHA-256 + write into the artifact store, reported
  separately) and everything else (run creation, params, pipeline graph,
  data fingerprints, training score, writes); the target is "everything else"
  at most 5 % of the fit time;
- the same comparison by medians of whole calls (noisier on a shared machine);
- with ``mlflow`` importable (or ``--mlflow``), the same fit under
  ``mlflow.sklearn.autolog()`` (SQLite store in a temp dir, defaults otherwise) and the ratio of its
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


class ModelDB:
    """Fits under ModelDB's autolog, into a SQLite store and an artifact store in ``workdir``."""

    def __init__(self, workdir: Path):
        import modeldb_core as mdb

        self.client = mdb.configure(uri=f"sqlite:///{workdir / 'modeldb.db'}",
                                    artifacts=str(workdir / "artifacts"))

    def fit(self, X, y, factory) -> dict:
        from modeldb_core.sklearn import autolog

        autolog()
        try:
            estimator = factory()
            total = timed(lambda: estimator.fit(X, y))
        finally:
            autolog(disable=True)
        last = max(r.id for r in self.client.store.list_runs(limit=5))
        detail = self.client.store.get_run_detail(last)
        saved = [io.artifact for io in detail.outputs if io.name == "model"]
        serial = detail.metrics.get("model_serialization_s", 0.0)
        inner = detail.metrics["fit_time_s"]
        # The biggest part of "added" is scoring the training data: one predict, timed again here.
        predict = timed(lambda: estimator.predict(X))
        return {"total": total, "inner": inner, "added": total - inner - serial, "serialization": serial,
                "share": (total - inner - serial) / inner, "predict": predict,
                "size": saved[0].size if saved else 0}


class MLflow:
    """Fits under ``mlflow.sklearn.autolog()`` into a file store in ``workdir``."""

    def __init__(self, workdir: Path):
        import mlflow

        # SQLite like ModelDB's store (mlflow 3 refuses new file stores); artifacts in workdir, not the cwd.
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
        mlflow.set_experiment(experiment_id=mlflow.create_experiment(
            "bench", artifact_location=(workdir / "mlartifacts").as_uri()))

    def runs(self) -> int:
        import mlflow

        return len(mlflow.search_runs(search_all_experiments=True))

    def fit(self, X, y, factory) -> float:
        import mlflow.sklearn

        mlflow.sklearn.autolog(silent=True)
        try:
            estimator = factory()
            return timed(lambda: estimator.fit(X, y))
        finally:
            mlflow.sklearn.autolog(disable=True)


def mlflow_importable() -> bool:
    try:
        import mlflow.sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def run(X, y, repeats: int, workdir: Path, with_mlflow: bool) -> dict:
    from sklearn.linear_model import Ridge

    modeldb = ModelDB(workdir)
    ml = MLflow(workdir) if with_mlflow else None
    small = (X[:200], y[:200])
    # Warm-up: imports, caches, and the process's first run (environment + code capture).
    model().fit(*small)
    first = timed(lambda: modeldb.fit(*small, Ridge))
    if ml:
        ml.fit(*small, Ridge)
    out: dict = {"plain": [], "modeldb": [], "mlflow": [], "first_run": first}
    for _ in range(repeats):  # interleaved, so a busy neighbour slows all three alike
        out["plain"].append(timed(lambda: model().fit(X, y)))
        out["modeldb"].append(modeldb.fit(X, y, model))
        if ml:
            out["mlflow"].append(ml.fit(X, y, model))
    modeldb.client.close()
    if ml:
        out["mlflow_runs"] = ml.runs()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mlflow", action="store_true", help="fail if mlflow is not importable")
    parser.add_argument("--rows", type=int, default=ROWS, help="a smaller size for a quick check")
    parser.add_argument("--trees", type=int, default=TREES)
    args = parser.parse_args()
    globals().update(ROWS=args.rows, TREES=args.trees)
    X, y = data()
    with_mlflow = mlflow_importable()
    if args.mlflow and not with_mlflow:
        sys.exit("mlflow is not importable")
    with tempfile.TemporaryDirectory(prefix="modeldb-bench-") as tmp:
        result = run(X, y, args.repeats, Path(tmp), with_mlflow)

    med = statistics.median
    fit = med(result["plain"])
    runs = result["modeldb"]
    added = med(r["added"] for r in runs)
    serial = med(r["serialization"] for r in runs)
    whole = med(r["total"] for r in runs)
    show = lambda values: ", ".join(f"{v:.3f}" for v in values)  # noqa: E731
    print(f"RandomForestRegressor(n_estimators={TREES}) on {ROWS:,} x {COLUMNS}, {args.repeats} repeats, "
          f"sklearn {__import__('sklearn').__version__}, {os.cpu_count()} cores")
    print(f"  plain fit (median)                       {fit:8.3f} s   runs: {show(result['plain'])}")
    share = med(r["share"] for r in runs)
    print(f"  autolog added, without serialization     {added:8.3f} s   = {100 * share:5.2f} % of the fit in the "
          f"same call (target <= 5 %; {100 * added / fit:.2f} % of the plain median)   "
          f"runs: {show(r['added'] for r in runs)}")
    print(f"    of which the training-data predict      {med(r['predict'] for r in runs):8.3f} s   (for training_score)")
    print(f"  model serialization (pickle+hash+write)  {serial:8.3f} s   = {100 * serial / fit:5.2f} % "
          f"({runs[-1]['size'] / 1e6:.1f} MB model)")
    print(f"  whole call under autolog (median)        {whole:8.3f} s   = {100 * (whole / fit - 1):+5.2f} % vs plain,"
          f" serialization included   runs: {show(r['total'] for r in runs)}")
    print(f"  first tracked call of the process        {result['first_run']:8.3f} s   "
          "(environment + code capture, once per process)")
    if not with_mlflow:
        print("  mlflow: not importable (pip install mlflow to compare)")
    else:
        import mlflow

        ml = med(result["mlflow"])
        print(f"  mlflow {mlflow.__version__} sklearn autolog (median)  {ml:8.3f} s   = {100 * (ml / fit - 1):+5.2f} % "
              f"vs plain   runs: {show(result['mlflow'])}")
        print(f"  mlflow runs recorded: {result['mlflow_runs']} (warm-up included)")
        print(f"  mlflow / ModelDB, whole call: {ml / whole:.2f}x;  added time: mlflow {ml - fit:.3f} s, "
              f"ModelDB {whole - fit:.3f} s (both by medians)")


if __name__ == "__main__":
    main()
