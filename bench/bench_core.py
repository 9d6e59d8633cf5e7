"""Core tracking costs on SQLite, printed, and the same work through MLflow side by side.

    python bench/bench_core.py [--runs 300] [--steps 2000] [--mlflow | --no-mlflow]

Targets (issue 2): tracked task with 10 params, 5 metrics, 3 tags <= 1 ms median;
`import modeldb_core` <= 100 ms; 2,000 `log_metric` steps <= 0.1 ms each.

The comparison gives each tool its idiomatic fastest public API for the same work:

- a run with 10 params, 5 metrics and 3 tags. ModelDB: a ``@tracked_task`` whose
  arguments are the params, ``log_metrics`` (one call) and ``set_tags`` (one call).
  MLflow: ``start_run`` + ``log_params`` + ``log_metrics`` + ``set_tags`` (its fluent batch
  calls), and ``MlflowClient.create_run`` + ``log_batch`` + ``set_terminated`` (one call for
  all the values); the faster of the two is the one compared.
- a metric series, one point per training step: ``log_metric(key, value, step=step)`` in both,
  the same number of steps.

MLflow is not a dependency of ModelDB, and must not share its environment: with ``--mlflow``
(or when ``uv`` is found) this script makes a venv of its own for it under
``~/.cache/modeldb-bench/mlflow`` (``uv venv`` + ``uv pip install mlflow``) and runs MLflow's
side there, on a SQLite store like ModelDB's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_time(python: str, module: str, repeat: int = 7) -> float:
    """Median wall time of `python -c "import module"` minus an empty interpreter start."""
    # Bytecode allowed, as in a user's install: the warm-up run writes what is missing.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> float:
        subprocess.run([python, "-c", code], check=True, cwd=tempfile.gettempdir(), env=env)
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([python, "-c", code], check=True, cwd=tempfile.gettempdir(), env=env)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)
    return run(f"import {module}") - run("pass")


def bench_modeldb(folder: Path, runs: int, steps: int) -> dict[str, float]:
    import modeldb_core as mdb

    mdb.configure(uri=f"sqlite:///{folder / 'modeldb.db'}")

    @mdb.tracked_task(project="bench", phase="training")
    def task(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9):
        mdb.log_metrics({f"m{k}": 0.1 * k for k in range(5)})
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
        for step in range(steps):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.flush()
        series = (time.perf_counter() - start) / steps
    assert len(mdb.get_client().store.metric_history(run.id, "loss")) == steps
    return {"task_ms": statistics.median(samples) * 1000, "metric_ms": series * 1000,
            "task_p95_ms": sorted(samples)[int(len(samples) * 0.95)] * 1000}


# Runs inside MLflow's own venv: argv = folder, runs, steps; prints one JSON line.
MLFLOW_SIDE = r"""
import json, statistics, sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

folder, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
experiment = mlflow.set_experiment("bench").experiment_id
client = MlflowClient()
params = {f"p{i}": 0.1 * i for i in range(10)}
metrics = {f"m{k}": 0.1 * k for k in range(5)}
tags = {"t0": "a", "t1": "b", "t2": "c"}

def fluent():
    with mlflow.start_run():
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)

def batch():
    run = client.create_run(experiment)
    now = int(time.time() * 1000)
    client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                     params=[Param(k, str(v)) for k, v in params.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(run.info.run_id)

def median_ms(task):
    for _ in range(5):
        task()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        task()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000

out = {"version": mlflow.__version__, "fluent_ms": median_ms(fluent), "log_batch_ms": median_ms(batch)}
with mlflow.start_run():
    start = time.perf_counter()
    for step in range(steps):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    out["metric_ms"] = (time.perf_counter() - start) / steps * 1000
print(json.dumps(out))
"""


def mlflow_python(required: bool) -> Path | None:
    """The python of a venv with MLflow in it, made on first use; None if it cannot be made."""
    uv = shutil.which("uv")
    if uv is None:
        if required:
            sys.exit("--mlflow needs uv (pip install uv) to make MLflow's venv")
        return None
    venv = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modeldb-bench" / "mlflow"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making MLflow's venv in {venv} (once) ...", flush=True)
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), "mlflow"],
                       check=True)
    return python


def bench_mlflow(python: Path, folder: Path, runs: int, steps: int) -> dict[str, float]:
    side = folder / "mlflow"
    side.mkdir()
    done = subprocess.run([str(python), "-c", MLFLOW_SIDE, str(side), str(max(runs // 5, 20)), str(steps)],
                          check=True, capture_output=True, text=True, cwd=side)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--steps", type=int, default=2000, help="points in the metric series (both tools)")
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--mlflow", action="store_true", help="fail unless the MLflow side runs")
    side.add_argument("--no-mlflow", action="store_true", help="ModelDB's figures only")
    args = parser.parse_args()
    imported = import_time(sys.executable, "modeldb_core") * 1000
    print(f"import modeldb_core                         {imported:8.1f} ms   (target <= 100)")
    with tempfile.TemporaryDirectory() as tmp:
        ours = bench_modeldb(Path(tmp), args.runs, args.steps)
        print(f"tracked task, 10 params/5 metrics/3 tags    {ours['task_ms']:8.3f} ms median "
              f"(p95 {ours['task_p95_ms']:.3f})   (target <= 1)")
        print(f"log_metric in a {args.steps:,}-step series           {ours['metric_ms']:8.4f} ms a step   "
              f"(target <= 0.1)")
        if args.no_mlflow:
            return
        python = mlflow_python(required=args.mlflow)
        if python is None:
            print("MLflow side skipped: uv not found (pip install uv)")
            return
        theirs = bench_mlflow(python, Path(tmp), args.runs, args.steps)
    mlflow_import = import_time(str(python), "mlflow") * 1000
    fastest = min(("log_params + log_metrics + set_tags", theirs["fluent_ms"]),
                  ("create_run + log_batch", theirs["log_batch_ms"]), key=lambda pair: pair[1])
    print(f"MLflow {theirs['version']} (its own venv, SQLite): import {mlflow_import:.0f} ms; "
          f"a run: {theirs['fluent_ms']:.2f} ms with log_params + log_metrics + set_tags, "
          f"{theirs['log_batch_ms']:.2f} ms with create_run + log_batch; "
          f"log_metric {theirs['metric_ms']:.3f} ms a step")
    print(f"ratios (MLflow / ModelDB): import {mlflow_import / imported:.1f}x, "
          f"run {fastest[1] / ours['task_ms']:.1f}x (MLflow's fastest: {fastest[0]}), "
          f"log_metric {theirs['metric_ms'] / ours['metric_ms']:.1f}x")


if __name__ == "__main__":
    main()
