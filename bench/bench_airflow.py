"""What tracking adds to an Airflow task, printed.

    .nox/airflow/bin/python bench/bench_airflow.py [--tasks 20] [--repeat 20]

Runs a DAG of ``--tasks`` TaskFlow tasks (each takes the previous task's
return value, so every task has params, an input and an output) with real
``dag.test()``, tracked and untracked, in one process, in temp dirs, as
``--repeat`` pairs of runs (which of the two goes first alternates).
Target (issue 12): a whole task, tracked minus untracked, at most 2 ms.

Figures for that:

- the whole task: each task's own time (from the end of the task before it to
  its own end), pooled over all runs, tracked median minus untracked median,
  plus the tracked run's final drain spread over its tasks, with a bootstrap
  95 % interval. A dag.test() task costs ~100 ms of Airflow's own work and on
  this VM the same untracked task varies by +-20 ms: the interval says how far
  the figure can be trusted;
- the whole DAG run per task: the median of the pairs' differences, with its
  quartiles (the slower drift of the machine shows here);
- tracking's CPU a task, component by component, each measured precisely: the
  listener's hooks (on the task's thread), the writer thread (its own CPU
  clock: it shares the interpreter with the task), and the extra garbage
  collection.

Each DAG run starts from a collected heap (``gc.collect()`` before it, not
timed). Without it, one full collection of Airflow's heap (~0.5 s, 10 ms a
task) lands on whichever run the previous runs' garbage happens to tip over,
tracked or untracked alike, and the difference swings by +-10 ms a task.
Tracking's own garbage is still collected inside the run that made it.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace


def setup_airflow(root: Path) -> None:
    home = root / "airflow"
    (home / "dags").mkdir(parents=True)
    (root / "home").mkdir()
    os.environ.update({
        "AIRFLOW_HOME": str(home), "HOME": str(root / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    })
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)


def make_dag(tasks: int):
    from airflow.sdk import DAG, task

    with DAG(dag_id=f"bench_{tasks}_tasks", schedule=None, params={"scale": 2}) as dag:
        previous = None
        for i in range(tasks):
            @task(task_id=f"step_{i:03d}")
            def step(values: list | None = None, factor: int = 3) -> list:
                base = values or list(range(10))
                return [v * factor % 97 for v in base]

            previous = step(previous) if previous is not None else step()
    return dag


def register(dag) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(SimpleNamespace(import_errors={}, bundle_path=None, dags={dag.dag_id: dag},
                                   dag_warnings=set(), file_last_changed={}), "dags-folder", None)


class HookClock:
    """Adds up the wall time of the listener's task hooks, and notes when each task ended."""

    def __init__(self) -> None:
        from modeldb_core.integrations.airflow import listener

        self.listener = listener
        self.total = 0.0
        self.cpu = 0.0
        self.ends: list[float] = []
        for name in ("_task_started", "_finish"):
            setattr(listener, name, self._timed(getattr(listener, name), name == "_finish"))

    def _timed(self, fn, ends: bool):
        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                # The task thread's own CPU: the writer's is counted apart (Meter).
                now = time.perf_counter()
                self.total += now - start
                self.cpu += time.thread_time() - cpu
                if ends:
                    self.ends.append(now)
        return timed

    def task_durations(self) -> list[float]:
        """One task's whole time: from the end of the one before (its last hook) to its own
        end. The DAG's tasks run one after the other; the first task has no such time."""
        return [b - a for a, b in zip(self.ends, self.ends[1:])]


class Meter:
    """Per DAG run: the writer thread's CPU and the time the garbage collector took."""

    def __init__(self) -> None:
        self.gc_seconds = 0.0
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_start

    @staticmethod
    def writer_cpu() -> float:
        return sum(time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                   for thread in threading.enumerate()
                   if thread.name == "modeldb-writer" and thread.ident is not None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20, help="pairs of DAG runs, tracked and untracked")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="modeldb-bench-airflow-"))
    try:
        setup_airflow(root)
        import modeldb_core
        from modeldb_core.integrations.airflow import listener

        uri = f"sqlite:///{root / 'modeldb.db'}"
        dag = make_dag(args.tasks)
        register(dag)
        clock, meter = HookClock(), Meter()
        figures: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        durations: dict[bool, list[float]] = {True: [], False: []}

        def run(tracked: bool) -> float:
            os.environ["AIRFLOW__MODELDB__ENABLED"] = "true" if tracked else "false"
            listener.reset()
            gc.collect()
            clock.total, clock.cpu, clock.ends, meter.gc_seconds = 0.0, 0.0, [], 0.0
            writer = meter.writer_cpu()
            start = time.perf_counter()
            dr = dag.test()
            # The writer's last batch, written now rather than during the next (untracked) run.
            drained = time.perf_counter()
            modeldb_core.get_client().flush()
            drained = time.perf_counter() - drained
            elapsed = time.perf_counter() - start
            assert dr.state == "success", dr.state
            figures[tracked].append({"wall": elapsed, "hooks": clock.total, "hooks_cpu": clock.cpu,
                                     "writer": meter.writer_cpu() - writer, "gc": meter.gc_seconds,
                                     "drain": drained})
            durations[tracked].extend(clock.task_durations())
            return elapsed

        modeldb_core.configure(uri=uri)
        run(True)   # warm-up: Airflow's one-off start, the store's schema, code versions
        run(False)
        for series in (*figures.values(), *durations.values()):
            series.clear()  # the warm-up does not count
        differences = []
        for i in range(args.repeat):
            # Alternate which goes first (ABBA): a run's position in a pair must not count.
            if i % 2:
                t = run(True)
                differences.append(t - run(False))
            else:
                u = run(False)
                differences.append(run(True) - u)
        runs = len(modeldb_core.get_client().store.list_runs(limit=100_000))
        assert runs == args.tasks * (args.repeat + 1), runs

        def per_task(tracked: bool, key: str) -> float:
            return statistics.median(f[key] for f in figures[tracked]) / args.tasks * 1000

        quartiles = statistics.quantiles([d / args.tasks * 1000 for d in differences], n=4)
        task_t, task_u = (statistics.median(durations[k]) * 1000 for k in (True, False))
        whole = task_t - task_u + per_task(True, "drain")
        # How far that median difference moves when the tasks are drawn again (bootstrap, 95 %).
        draws = random.Random(1)
        spread = sorted(
            statistics.median(draws.choices(durations[True], k=len(durations[True])))
            - statistics.median(draws.choices(durations[False], k=len(durations[False])))
            for _ in range(400))
        low, high = spread[10] * 1000 - (task_t - task_u), spread[389] * 1000 - (task_t - task_u)
        hooks_cpu, writer = per_task(True, "hooks_cpu"), per_task(True, "writer") - per_task(False, "writer")
        gc_extra = per_task(True, "gc") - per_task(False, "gc")
        print(f"dag.test() of a {args.tasks}-task DAG, SQLite store, {args.repeat} pairs of runs, medians:")
        print(f"  untracked task               {task_u:8.1f} ms   (median of {len(durations[False])} tasks)")
        print(f"  tracked task                 {task_t:8.1f} ms   (median of {len(durations[True])} tasks)")
        print(f"  whole task, tracked - untracked {whole:5.2f} ms   (95 %: {whole + low:.1f} .. {whole + high:.1f}; "
              f"target <= 2 ms; with the last batch's drain, {per_task(True, 'drain'):.2f} ms a task)")
        print(f"  whole DAG run, per task      {statistics.median(differences) / args.tasks * 1000:8.2f} ms   "
              f"(median of pairs; quartiles {quartiles[0]:.1f} .. {quartiles[2]:.1f}: the machine's noise)")
        print(f"  tracking's CPU a task        {hooks_cpu + writer + gc_extra:8.2f} ms")
        print(f"    listener hooks             {per_task(True, 'hooks'):8.2f} ms wall, {hooks_cpu:.2f} ms CPU")
        print(f"    writer thread              {writer:8.2f} ms CPU")
        print(f"    more garbage collection    {gc_extra:8.2f} ms")
        print(f"  load average while measuring {os.getloadavg()[0]:8.2f}   (2 cores: above 2, figures inflate)")
        print(f"  runs recorded                {runs:8d}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
