"""The tracking runtime's costs: what the caller pays, what the writer drains, what a replay takes.

    python bench/bench_journal.py [--runs 2000] [--replay 100000] [--postgres URL] [--server]

Prints, for a tracked task logging 10 params, 5 metrics and 3 tags:
- the caller's thread: median time of one tracked call minus the same untracked call;
  ``log_metric`` per call; process CPU per run (caller + writer) over the whole drain;
- drain throughput (runs/s) from the journal into SQLite (and PostgreSQL with --postgres);
- with --server, the same through a ``modeldb server`` on loopback over its own SQLite file
  (``MODELDB_URI=http://...``: the writer posts batches, the caller's path is unchanged);
- replay of ``--replay`` journaled runs into an empty SQLite store.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _task(mdb):
    @mdb.tracked_task(project="bench", phase="training")
    def train(a=1, b=2.0, c="x", d=4, e=5.0, f="y", g=7, h=8.0, i="z", seed=0):
        for k in ("rmse", "mae", "r2", "loss", "acc"):
            mdb.log_metric(k, 0.5)
        mdb.set_tags({"team": "pricing", "owner": "me", "stage": "dev"})
        return None

    def plain(a=1, b=2.0, c="x", d=4, e=5.0, f="y", g=7, h=8.0, i="z", seed=0):
        return None

    return train, plain


def caller_and_drain(uri: str, runs: int) -> dict[str, float]:
    import modeldb_core as mdb

    client = mdb.configure(uri=uri)
    train, plain = _task(mdb)
    train()  # opens the journal and starts the writer
    client.flush(120)
    writer = _WriterClock(client.runtime._writer_store())
    server0 = _server_cpu(uri)
    tracked, untracked = [], []
    cpu0, wall0, caller0 = time.process_time(), time.perf_counter(), time.thread_time()
    for n in range(runs):
        t0 = time.perf_counter()
        train(seed=n)
        t1 = time.perf_counter()
        plain(seed=n)
        t2 = time.perf_counter()
        tracked.append(t1 - t0)
        untracked.append(t2 - t1)
    calls_done = time.perf_counter()
    caller_cpu = time.thread_time() - caller0
    drained = client.flush(600)
    drain_end = time.perf_counter()
    cpu = time.process_time() - cpu0
    server = _server_cpu(uri) - server0
    writer_figures = {
        "writer: runs/s of its time in apply_events (wall)": runs / writer.wall,
        "writer: CPU per run in apply_events (ms, its thread)": writer.cpu / runs * 1e3,
        "writer: transactions (batches)": writer.batches,
    }
    backlog = _backlog(client, train, writer, runs, uri)
    writer.stop()
    with mdb.start_run("metrics", project="bench") as run:
        m0 = time.perf_counter()
        for step in range(20_000):
            run.log_metric("loss", 1.0 / (step + 1))
        per_metric = (time.perf_counter() - m0) / 20_000
    client.flush(600)
    client.close()
    return {
        "tracked call, caller's thread (median ms)": statistics.median(tracked) * 1e3,
        "tracked minus untracked (median ms)": (statistics.median(tracked) - statistics.median(untracked)) * 1e3,
        "log_metric (ms a call)": per_metric * 1e3,
        "caller's thread CPU per run, tracked + untracked call (ms)": caller_cpu / runs * 1e3,
        "process CPU per run, caller + writer (ms)": cpu / runs * 1e3,
        "drain throughput (runs/s, calls to all stored)": runs / (drain_end - wall0) if drained else float("nan"),
        "writer lag after the last call (s)": drain_end - calls_done,
        **writer_figures,
        **({} if math.isnan(server) else {"PostgreSQL backends: CPU per run (ms)": server / runs * 1e3}),
        **backlog,
    }


def _backlog(client, train, writer: "_WriterClock", runs: int, uri: str) -> dict[str, float]:
    """The writer alone draining a backlog (the store was away while ``runs`` calls were
    journaled; the caller is idle meanwhile): from the store's return to all stored."""
    import threading

    gate = threading.Event()
    writer.gate = gate  # the writer's next batch waits at the gate: the events pile up
    train(seed=-1)
    for n in range(runs):
        train(seed=n)
    server0 = _server_cpu(uri)
    cpu0, wall0, batches0 = time.process_time(), time.perf_counter(), writer.batches
    gate.set()
    drained = client.flush(600)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    server = _server_cpu(uri) - server0
    writer.gate = None
    return {
        "backlog drain (runs/s, writer alone)": runs / wall if drained else float("nan"),
        "backlog: process CPU per run (ms)": cpu / runs * 1e3,
        "backlog: transactions": writer.batches - batches0,
        **({} if math.isnan(server) else {"backlog: PostgreSQL backends CPU per run (ms)": server / runs * 1e3}),
    }


def _server_cpu(uri: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``uri``'s database (a server on this
    machine: read from /proc), NaN for SQLite or a server elsewhere."""
    if not uri.startswith("postgresql"):
        return float("nan")
    from sqlalchemy import create_engine, text

    engine = create_engine(uri)
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")).scalars().all()
    engine.dispose()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class _WriterClock:
    """Times the store's one write entry point as the writer thread calls it: what the
    writer alone sustains, apart from the caller's thread it shares the interpreter with
    (``time.thread_time`` is the CPU of the writer's own thread)."""

    def __init__(self, store):
        self.store, self.wall, self.cpu, self.batches = store, 0.0, 0.0, 0
        self.gate = None
        apply = store.apply_events

        def timed(events, definitions=None):
            gate = self.gate
            if gate is not None:
                gate.wait()
            w, c = time.perf_counter(), time.thread_time()
            try:
                return apply(events, definitions)
            finally:
                self.wall += time.perf_counter() - w
                self.cpu += time.thread_time() - c
                self.batches += 1
        store.apply_events = timed

    def stop(self) -> None:
        del self.store.apply_events


def replay_speed(runs: int, folder: Path) -> dict[str, float]:
    """Journal ``runs`` runs with the store unreachable, then replay them into an empty SQLite file."""
    import subprocess

    home = folder / "home"
    script = (
        "import modeldb_core as mdb, sys\n"
        "mdb.configure(uri='postgresql+psycopg://nobody@127.0.0.1:1/none', exit_timeout=0.1)\n"
        + "".join(line + "\n" for line in [
            "@mdb.tracked_task(project='bench')",
            "def train(a=1, b=2.0, c='x', d=4, e=5.0, f='y', g=7, h=8.0, i='z', seed=0):",
            "    [mdb.log_metric(k, 0.5) for k in ('rmse', 'mae', 'r2', 'loss', 'acc')]",
            "    mdb.set_tags({'team': 'pricing', 'owner': 'me', 'stage': 'dev'})",
            f"for n in range({runs}): train(seed=n)"]))
    # No handoff at exit: the journal stays for the replay measured here.
    env = {**os.environ, "HOME": str(home), "MODELDB_EXIT_HANDOFF": "0"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    journaled = time.perf_counter() - t0
    from modeldb_core import journal, replay
    from modeldb_core.store import open_store

    store = open_store(f"sqlite:///{folder / 'replay.db'}")
    [sub] = (home / ".modeldb" / "journal").iterdir()
    size = sum(p.stat().st_size for p in journal.journals(sub))
    t1, cpu1 = time.perf_counter(), time.process_time()
    done = replay.replay_folder(store, sub)
    took, cpu = time.perf_counter() - t1, time.process_time() - cpu1
    assert sum(r.runs for r in done) == runs, done
    store.close()
    return {f"journal {runs:,} runs with the store down (s, whole process)": journaled,
            "journal size (MB)": size / 1e6,
            f"replay {runs:,} runs into an empty SQLite store (s)": took,
            "replay: CPU of this process (s)": cpu,
            "replay (runs/s)": runs / took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--replay", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure the drain into as well")
    parser.add_argument("--server", action="store_true", help="and through a `modeldb server` on loopback")
    args = parser.parse_args()
    # Wall figures on a shared machine follow its load: print it beside them.
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["HOME"] = str(folder / "bench-home")
        results = {"SQLite": caller_and_drain(f"sqlite:///{folder / 'bench.db'}", args.runs)}
        if args.postgres:
            results["PostgreSQL"] = caller_and_drain(args.postgres, args.runs)
        if args.server:
            from bench_server import _serve

            process, url = _serve(f"sqlite:///{folder / 'server.db'}", folder)
            try:
                results["modeldb server (SQLite behind it)"] = caller_and_drain(url, args.runs)
            finally:
                process.terminate()
                process.wait(30)
        for name, figures in results.items():
            print(f"== {name}, {args.runs} tracked calls (10 params, 5 metrics, 3 tags)")
            for key, value in figures.items():
                print(f"  {key:<52} {value:10.4f}")
        if args.replay:
            print("== replay (load average {:.1f})".format(os.getloadavg()[0]))
            for key, value in replay_speed(args.replay, folder).items():
                print(f"  {key:<52} {value:10.3f}")


if __name__ == "__main__":
    main()
