"""Core tracking costs on SQLite, printed, and the same work through MLflow side by side.

    python bench/bench_core.py [--runs 300] [--steps 2000] [--mlflow | --no-mlflow]

Targets (issue 2): tracked task with 10 params, 5 metrics, 3 tags <= 1 ms median;
`import modeldb_core` <= 100 ms; 2,000 `log_metric` steps <= 0.1 ms each.

The comparison gives each tool its idiomatic fastest public API for the same work:

- a run with 10 params, 5 metrics and 3 tags. ModelDB: a ``@tracked_task`` whose
  arguments are the params, ``log_metrics`` (one call) and ``set_tags`` (one call).
  MLflow: ``start_run`` + ``log_params`` + ``log_metrics`` + ``set_tags`` (its fluent batch
  calls), ``MlflowClient.create_run`` + ``log_batch`` + ``set_terminated`` (one call for all
  the values), and the fluent calls with ``synchronous=False`` (MLflow's async logging).
  ModelDB journals on the caller's thread and writes on a writer thread, so two figures are
  compared, each against MLflow's fastest way for it: what the caller waits for a run, and
  the time a run takes until it is in the store (runs, then ``flush()`` /
  ``flush_async_logging()``, divided by the count).
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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_time(python: str, module: str, repeat: int = 7) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `python -c "import module"` minus an empty interpreter start.

    The CPU figure is the one to compare on a shared machine: wall time includes waiting for a core.
    """
    # Bytecode allowed, as in a user's install: the warm-up run writes what is missing.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> tuple[float, float]:
        cmd = [python, "-c", code]
        subprocess.run(cmd, check=True, cwd=tempfile.gettempdir(), env=env)
        walls, cpus = [], []
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=tempfile.gettempdir(), env=env)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return statistics.median(walls), statistics.median(cpus)

    (wall, cpu), (wall0, cpu0) = run(f"import {module}"), run("pass")
    return wall - wall0, cpu - cpu0


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
    mdb.flush()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        task(*args)
        samples.append(time.perf_counter() - start)
    # What the caller waits for above; this is until the store has every run (the writer's drain).
    start = time.perf_counter()
    for _ in range(runs):
        task(*args)
    mdb.flush()
    landed = (time.perf_counter() - start) / runs

    with mdb.start_run("series", project="bench") as run:
        start = time.perf_counter()
        for step in range(steps):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.flush()
        series = (time.perf_counter() - start) / steps
    assert len(mdb.get_client().store.metric_history(run.id, "loss")) == steps
    return {"task_ms": statistics.median(samples) * 1000, "metric_ms": series * 1000,
            "task_p95_ms": sorted(samples)[int(len(samples) * 0.95)] * 1000, "landed_ms": landed * 1000}


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

def fluent_async():
    # MLflow's own asynchronous logging: the calls return at once, flush_async_logging waits.
    with mlflow.start_run():
        mlflow.log_params(params, synchronous=False)
        mlflow.log_metrics(metrics, synchronous=False)
        mlflow.set_tags(tags, synchronous=False)

def median_ms(task):
    for _ in range(5):
        task()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        task()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000

out = {"version": mlflow.__version__, "fluent_ms": median_ms(fluent), "log_batch_ms": median_ms(batch),
       "async_call_ms": median_ms(fluent_async)}
mlflow.flush_async_logging()
start = time.perf_counter()
for _ in range(runs):
    fluent_async()
mlflow.flush_async_logging()
out["async_landed_ms"] = (time.perf_counter() - start) / runs * 1000
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
    imported = import_time(sys.executable, "modeldb_core")
    print(f"import modeldb_core                         {imported[0] * 1000:8.1f} ms   ({imported[1] * 1000:.1f} ms CPU; "
          f"target <= 100)")
    with tempfile.TemporaryDirectory() as tmp:
        ours = bench_modeldb(Path(tmp), args.runs, args.steps)
        print(f"tracked task, 10 params/5 metrics/3 tags    {ours['task_ms']:8.3f} ms median "
              f"(p95 {ours['task_p95_ms']:.3f})   (target <= 1)")
        print(f"  the same, until in the store (runs, then flush) {ours['landed_ms']:8.3f} ms a run")
        print(f"log_metric in a {args.steps:,}-step series           {ours['metric_ms']:8.4f} ms a step   "
              f"(target <= 0.1)")
        if args.no_mlflow:
            return
        python = mlflow_python(required=args.mlflow)
        if python is None:
            print("MLflow side skipped: uv not found (pip install uv)")
            return
        theirs = bench_mlflow(python, Path(tmp), args.runs, args.steps)
    mlflow_import = import_time(str(python), "mlflow")
    sync = {"log_params + log_metrics + set_tags": theirs["fluent_ms"],
            "create_run + log_batch": theirs["log_batch_ms"]}
    waits = min({**sync, "the same with synchronous=False": theirs["async_call_ms"]}.items(), key=lambda kv: kv[1])
    lands = min({**sync, "synchronous=False + flush_async_logging": theirs["async_landed_ms"]}.items(),
                key=lambda kv: kv[1])
    print(f"MLflow {theirs['version']} (its own venv, SQLite): import {mlflow_import[0] * 1000:.0f} ms "
          f"({mlflow_import[1] * 1000:.0f} ms CPU); a run: {theirs['fluent_ms']:.2f} ms with log_params + "
          f"log_metrics + set_tags, {theirs['log_batch_ms']:.2f} ms with create_run + log_batch, "
          f"{theirs['async_call_ms']:.2f} ms with synchronous=False ({theirs['async_landed_ms']:.2f} ms a run "
          f"until flushed); log_metric {theirs['metric_ms']:.3f} ms a step")
    print("ratios (MLflow / ModelDB), each against MLflow's fastest way:")
    print(f"  import (CPU)               {mlflow_import[1] / max(imported[1], 1e-4):8.1f}x")
    print(f"  a run, what the caller waits {waits[1] / ours['task_ms']:6.1f}x  (MLflow: {waits[0]})")
    print(f"  a run, until in the store    {lands[1] / ours['landed_ms']:6.1f}x  (MLflow: {lands[0]})")
    print(f"  log_metric a step            {theirs['metric_ms'] / ours['metric_ms']:6.1f}x")


if __name__ == "__main__":
    main()
