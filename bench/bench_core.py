"""Core tracking costs on SQLite, printed (and compared with MLflow when it is installed).

    python bench/bench_core.py [--runs 300]

Targets (issue 2): tracked task with 10 params, 5 metrics, 3 tags <= 1 ms median;
`import modeldb_core` <= 100 ms; 2,000 `log_metric` steps <= 0.1 ms each.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_time(module: str, repeat: int = 7) -> float:
    """Median wall time of `python -c "import module"` minus an empty interpreter start."""
    def run(code: str) -> float:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)
    return run(f"import {module}") - run("pass")


def bench_modeldb(folder: Path, runs: int) -> dict[str, float]:
    import modeldb_core as mdb

    mdb.configure(uri=f"sqlite:///{folder / 'modeldb.db'}")

    @mdb.tracked_task(project="bench", phase="training")
    def task(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9):
        for k in range(5):
            mdb.log_metric(f"m{k}", 0.1 * k)
        mdb.set_tags({"t0": "a", "t1": "b", "t2": "c"})

    args = [0.1 * i for i in range(10)]
    for _ in range(20):  # warm up: first run captures environment and code version
        task(*args)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        task(*args)
        samples.append(time.perf_counter() - start)

    with mdb.start_run("series", project="bench") as run:
        start = time.perf_counter()
        for step in range(2000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.flush()
        series = (time.perf_counter() - start) / 2000
    assert len(mdb.get_client().store.metric_history(run.id, "loss")) == 2000
    return {"task_ms": statistics.median(samples) * 1000, "metric_ms": series * 1000,
            "task_p95_ms": sorted(samples)[int(len(samples) * 0.95)] * 1000}


def bench_mlflow(folder: Path, runs: int) -> dict[str, float]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")

    def task():
        with mlflow.start_run():
            mlflow.log_params({f"p{i}": 0.1 * i for i in range(10)})
            for k in range(5):
                mlflow.log_metric(f"m{k}", 0.1 * k)
            mlflow.set_tags({"t0": "a", "t1": "b", "t2": "c"})

    for _ in range(5):
        task()
    samples = []
    for _ in range(max(runs // 5, 20)):
        start = time.perf_counter()
        task()
        samples.append(time.perf_counter() - start)
    with mlflow.start_run():
        start = time.perf_counter()
        for step in range(200):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        series = (time.perf_counter() - start) / 200
    return {"task_ms": statistics.median(samples) * 1000, "metric_ms": series * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    imported = import_time("modeldb_core") * 1000
    print(f"import modeldb_core                         {imported:8.1f} ms   (target <= 100)")
    with tempfile.TemporaryDirectory() as tmp:
        ours = bench_modeldb(Path(tmp), args.runs)
        print(f"tracked task, 10 params/5 metrics/3 tags    {ours['task_ms']:8.3f} ms median "
              f"(p95 {ours['task_p95_ms']:.3f})   (target <= 1)")
        print(f"log_metric in a 2,000-step series           {ours['metric_ms']:8.4f} ms a step   (target <= 0.1)")
        if importlib.util.find_spec("mlflow") is None:
            print("mlflow not installed: no side-by-side figures (pip install mlflow to compare)")
            return
        theirs = bench_mlflow(Path(tmp), args.runs)
        mlflow_import = import_time("mlflow") * 1000
        print(f"MLflow: import {mlflow_import:.0f} ms, task {theirs['task_ms']:.2f} ms, "
              f"log_metric {theirs['metric_ms']:.3f} ms")
        print(f"ratios (MLflow / ModelDB): import {mlflow_import / imported:.1f}x, "
              f"task {theirs['task_ms'] / ours['task_ms']:.1f}x, log_metric {theirs['metric_ms'] / ours['metric_ms']:.1f}x")


if __name__ == "__main__":
    main()
