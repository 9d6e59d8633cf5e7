"""What tracking adds to an Airflow task, printed.

    .nox/airflow/bin/python bench/bench_airflow.py [--tasks 20] [--repeat 20]

Runs a DAG of ``--tasks`` TaskFlow tasks (each takes the previous task's
return value, so every task has params, an input and an output) with real
``dag.test()``, in one process, in temp dirs. Target (issue 12): a whole task,
tracked minus untracked, at most 2 ms.

This VM's speed drifts by tens of percent within seconds: the same untracked
task takes 55 ms in one DAG run and 90 ms in the next, +-20 ms in all, while
two tasks next to each other in one DAG run differ by a third of that. So the
whole task is measured on tasks next to each other in time:

- **interleaved DAG runs**: tracking is on for tasks in blocks of two and off
  for the blocks between (``T T U U T T ...``; the next run starts with the
  other kind). The second task of a block is compared with the second task of
  the next block: the tracked one follows a tracked task and the untracked one
  an untracked task, as in a fully tracked or untracked DAG run, so what a
  tracked task leaves for the next one to pay (its writer wake-up, colder
  caches) is counted to the tracked side. A task's own time runs from the end
  of the task before it to its own end;
- what tracking does beside the tasks lands on tracked and untracked tasks
  alike there, so it is added in full, spread over the tracked tasks: the
  writer thread's CPU during the DAG run (its own clock: it shares the
  interpreter with the task; an upper bound, as SQLite's C code and the fsyncs
  run beside the task on the second core), the extra garbage collection, and
  the wall time of the last batch's drain after the run,
  measured in **pairs of whole DAG runs**, tracked and untracked, whose order
  alternates (ABBA);
- whole task = the interleaved difference (median, with a 95 % interval from
  resampling whole DAG runs) + those three. The pairs also print the older
  figures: the pooled task medians of tracked and untracked runs, and the
  whole DAG run per task (the machine's drift shows in their spread).

A last tracked DAG run, not timed, counts the Python bytecodes the listener's
hooks run for one task (``sys.settrace``): a figure that does not drift, for
changes of the hooks too small for the timings to show.

Each DAG run starts from a collected heap (``gc.collect()`` before it, not
timed). Without it, one full collection of Airflow's heap (~0.5 s, 10 ms a
task) lands on whichever run the previous runs' garbage happens to tip over,
tracked or untracked alike. Tracking's own garbage is still collected inside
the run that made it.
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
    """Adds up the wall time of the listener's task hooks, and notes when each task ended.

    ``tracks`` (a task id -> bool), when set, says which tasks of an interleaved DAG run
    the listener tracks; the hooks of the others are not called."""

    def __init__(self) -> None:
        from modeldb_core.integrations.airflow import listener

        self.listener = listener
        self.total = 0.0
        self.cpu = 0.0
        self.ends: list[float] = []
        self.tracks = None
        self.counted: str | None = None  # the task whose hooks are counted in bytecodes
        self.bytecodes: dict[str, int] = {}
        for name in ("_task_started", "_finish"):
            setattr(listener, name, self._timed(getattr(listener, name), name == "_finish"))

    def _timed(self, fn, ends: bool):
        def timed(ti, *args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                if self.counted == ti.task_id:
                    hook = "end" if ends else "start"
                    self.bytecodes[hook], result = bytecodes(fn, ti, *args, **kwargs)
                    return result
                if self.tracks is None or self.tracks(ti.task_id):
                    return fn(ti, *args, **kwargs)
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


def bytecodes(fn, *args, **kwargs) -> tuple[int, object]:
    """The Python bytecodes ``fn(*args, **kwargs)`` runs (``sys.settrace``'s opcode events),
    and its result: a count that does not drift with the machine, for changes to the hooks
    too small for the timings to show (C code, such as JSON encoding, is not counted)."""
    count = 0

    def call(frame, event, arg):
        frame.f_trace_opcodes = True
        return opcode

    def opcode(frame, event, arg):
        nonlocal count
        if event == "opcode":
            count += 1
        return opcode

    sys.settrace(call)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(None)
    return count, result


def interleaved(tasks: int, tracked_first: bool):
    """Which tasks an interleaved DAG run tracks (blocks of two), and the differences it
    yields: each block's second task minus the next block's second task, tracked minus
    untracked, from the run's task durations (``durations[i]`` is task ``i + 1``'s)."""
    def tracks_index(index: int) -> bool:
        return (index // 2 % 2 == 0) == tracked_first

    def tracks(task_id: str) -> bool:
        return tracks_index(int(task_id.rsplit("_", 1)[1]))

    def differences(durations: list[float]) -> list[float]:
        seconds = range(1, tasks - 2, 2)  # the second task of each block but the last
        return [(durations[i - 1] - durations[i + 1]) * (1 if tracks_index(i) else -1) for i in seconds]

    return tracks, differences


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
    parser.add_argument("--repeat", type=int, default=20,
                        help="rounds: a pair of whole DAG runs (tracked, untracked) and two interleaved runs")
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
        side_by_side: list[list[float]] = []  # an interleaved run's differences, a list a run
        tracked_tasks = 0

        def run(tracked: bool, tracked_first: bool | None = None) -> float:
            """One DAG run: all tasks tracked or none, or (``tracked_first`` given) interleaved."""
            nonlocal tracked_tasks
            os.environ["AIRFLOW__MODELDB__ENABLED"] = "true" if tracked else "false"
            listener.reset()
            mixed = interleaved(args.tasks, tracked_first) if tracked_first is not None else None
            clock.tracks = mixed[0] if mixed is not None else None
            gc.collect()
            clock.total, clock.cpu, clock.ends, meter.gc_seconds = 0.0, 0.0, [], 0.0
            writer = meter.writer_cpu()
            start = time.perf_counter()
            dr = dag.test()
            # The writer's last batch, written now rather than during the next run: its wall
            # time is counted apart from the writer's CPU during the run (not twice).
            writer = meter.writer_cpu() - writer
            drained = time.perf_counter()
            modeldb_core.get_client().flush()
            drained = time.perf_counter() - drained
            elapsed = time.perf_counter() - start
            assert dr.state == "success", dr.state
            if mixed is not None:
                side_by_side.append(mixed[1](clock.task_durations()))
                tracked_tasks += sum(mixed[0](t) for t in dag.task_ids)
                return elapsed
            figures[tracked].append({"wall": elapsed, "hooks": clock.total, "hooks_cpu": clock.cpu,
                                     "writer": writer, "gc": meter.gc_seconds,
                                     "drain": drained})
            durations[tracked].extend(clock.task_durations())
            tracked_tasks += args.tasks if tracked else 0
            return elapsed

        modeldb_core.configure(uri=uri)
        run(True)   # warm-up: Airflow's one-off start, the store's schema, code versions
        run(False)
        for series in (*figures.values(), *durations.values()):
            series.clear()  # the warm-up does not count
        tracked_tasks = 0
        differences = []
        for i in range(args.repeat):
            # Alternate which goes first (ABBA): a run's position in a round must not count.
            first = i % 2 == 0
            run(True, tracked_first=first)
            if first:
                t = run(True)
                differences.append(t - run(False))
            else:
                u = run(False)
                differences.append(run(True) - u)
            run(True, tracked_first=not first)
        runs = len(modeldb_core.get_client().store.list_runs(limit=100_000))
        assert runs == args.tasks + tracked_tasks, (runs, tracked_tasks)
        # One more tracked DAG run (not timed): its middle task's hooks counted in bytecodes.
        clock.counted = dag.task_ids[args.tasks // 2]
        run(True)
        clock.counted = None
        figures[True].pop()
        del durations[True][-(args.tasks - 1):]

        def per_task(tracked: bool, key: str) -> float:
            return statistics.median(f[key] for f in figures[tracked]) / args.tasks * 1000

        draws = random.Random(1)
        # Beside the tasks: the writer, the garbage collector, the last batch's drain.
        hooks_cpu, writer = per_task(True, "hooks_cpu"), per_task(True, "writer") - per_task(False, "writer")
        gc_extra = per_task(True, "gc") - per_task(False, "gc")
        drain = per_task(True, "drain")
        beside = writer + gc_extra + drain

        def pooled(runs_: list[list[float]]) -> float:
            return statistics.median(d for run_ in runs_ for d in run_) * 1000

        task = pooled(side_by_side)
        # Its interval: whole interleaved DAG runs drawn again (a run's differences share its drift).
        redrawn = sorted(pooled(draws.choices(side_by_side, k=len(side_by_side))) for _ in range(400))
        low, high = redrawn[10], redrawn[389]
        task_t, task_u = (statistics.median(durations[k]) * 1000 for k in (True, False))
        # The pooled medians' interval: the tasks of each side drawn again.
        spread = sorted(
            statistics.median(draws.choices(durations[True], k=len(durations[True])))
            - statistics.median(draws.choices(durations[False], k=len(durations[False])))
            for _ in range(400))
        pooled_low, pooled_high = spread[10] * 1000, spread[389] * 1000
        quartiles = statistics.quantiles([d / args.tasks * 1000 for d in differences], n=4)
        pairs = len(side_by_side) * len(side_by_side[0])
        print(f"dag.test() of a {args.tasks}-task DAG, SQLite store, {args.repeat} rounds "
              f"({2 * args.repeat} interleaved DAG runs, {args.repeat} pairs of whole ones), medians:")
        print(f"  whole task, tracked - untracked {task + beside:5.2f} ms   "
              f"(95 %: {low + beside:.1f} .. {high + beside:.1f}; target <= 2 ms)")
        print(f"    the task itself            {task:8.2f} ms   "
              f"(interleaved: {pairs} differences of tasks close in time; 95 %: {low:.2f} .. {high:.2f})")
        print(f"    beside it, a task          {beside:8.2f} ms   (writer thread CPU {writer:.2f}, "
              f"more garbage collection {gc_extra:.2f}, last batch's drain {drain:.2f})")
        print(f"  pooled tasks of whole runs   {task_t - task_u + drain:8.2f} ms   "
              f"(tracked {task_t:.1f} - untracked {task_u:.1f} + drain; 95 %: "
              f"{pooled_low + drain:.1f} .. {pooled_high + drain:.1f})")
        print(f"  whole DAG run, per task      {statistics.median(differences) / args.tasks * 1000:8.2f} ms   "
              f"(median of pairs; quartiles {quartiles[0]:.1f} .. {quartiles[2]:.1f}: the machine's drift)")
        print(f"  tracking's CPU a task        {hooks_cpu + writer + gc_extra:8.2f} ms   "
              f"(listener hooks {hooks_cpu:.2f} on the task's thread, {per_task(True, 'hooks'):.2f} wall; "
              f"writer {writer:.2f}; more GC {gc_extra:.2f})")
        print(f"  listener hooks' bytecodes    {sum(clock.bytecodes.values()):8d}      (a task's Python bytecodes: "
              f"start {clock.bytecodes['start']}, end {clock.bytecodes['end']}; counted, so they do not drift)")
        print(f"  load average while measuring {os.getloadavg()[0]:8.2f}   (2 cores: above 2, figures inflate)")
        print(f"  runs recorded                {runs:8d}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
