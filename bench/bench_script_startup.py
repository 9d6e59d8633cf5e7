"""What tracking adds to a whole script, printed: one tracked call, paired against the same script untracked.

    python bench/bench_script_startup.py [--pairs 15] [--uri URI]

The script a user runs is a plain function called once; the tracked copy
differs only by ``import modeldb_core`` and ``@tracked_task`` on it. Each
measurement is a new Python process, start to exit, so it includes what the
user waits for: importing ModelDB, opening the store, capturing the code
version and the environment, and writing the run before the process ends.

Target (issue 19): the tracked script finishes within 150 ms of the untracked
one. A script whose writer has not opened the store when it exits hands its
journal to a background writer (``modeldb_core/handoff.py``): the script's
time does not include that writer, so how long after the script's end the run
is in the store is printed too (the next measurement starts after it, so the
two never share the CPUs). Runs are paired (untracked, then tracked, alternately first) and the
median of the pairs' differences is the headline; the medians of each side,
and the child processes' CPU time, are printed too (on a busy machine wall
time includes waiting for a core).

Bytecode: ``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment, ModelDB's packages and SQLAlchemy are compiled with
``compileall`` first, and each script runs twice before measuring, so every
import reads a ``.pyc`` as it does after a normal ``pip install``.
The store is a SQLite file (or ``--uri``) created before the first run: the
cost of the first run ever (schema creation) is printed apart.
"""
from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.150

BODY = '''
def train(rows, learning_rate=0.1):
    weight = 0.0
    for x, y in rows:
        weight += learning_rate * (y - weight * x) * x
    return weight


print(train([(1.0, 2.0), (2.0, 4.1), (3.0, 5.9)]))
'''
UNTRACKED = BODY
TRACKED = "import modeldb_core as mdb\n" + BODY.replace(
    "\ndef train(", '\n@mdb.tracked_task(project="bench-startup", phase="training")\ndef train(', 1)


def run_once(script: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``python script`` from start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compile_bytecode() -> None:
    """Compile what the tracked script imports, as ``pip install`` would have."""
    for name in ("modeldb_core", "sqlalchemy"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=1, workers=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--uri", help="store URI (default: a SQLite file in a temp folder)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="modeldb-bench-startup-"))
    untracked, tracked = folder / "untracked.py", folder / "tracked.py"
    untracked.write_text(UNTRACKED)
    tracked.write_text(TRACKED)
    uri = args.uri or f"sqlite:///{folder / 'modeldb.db'}"
    env = {**os.environ, "HOME": str(folder), "MODELDB_URI": uri,
           "MODELDB_ARTIFACTS": str(folder / "artifacts")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compile_bytecode()

    first_wall, first_cpu = run_once(tracked, env)  # creates the store's schema
    for script in (untracked, tracked, untracked, tracked):  # warm-up: bytecode of the scripts' imports
        run_once(script, env)

    from modeldb_core import handoff, journal
    from modeldb_core.config import normalize_uri

    journals = journal.folder_for(Path(folder) / ".modeldb" / "journal", normalize_uri(uri))

    def settled() -> float:
        """Seconds until what the last tracked script handed off is in the store."""
        start = time.perf_counter()
        handoff.wait(journals)
        return time.perf_counter() - start

    plain_walls, plain_cpus, tracked_walls, tracked_cpus, differences, lags = [], [], [], [], [], []
    for pair in range(args.pairs):
        order = (untracked, tracked) if pair % 2 == 0 else (tracked, untracked)
        measured = {}
        for script in order:
            measured[script] = run_once(script, env)
            if script is tracked:
                lags.append(settled())
        (pw, pc), (tw, tc) = measured[untracked], measured[tracked]
        plain_walls.append(pw)
        plain_cpus.append(pc)
        tracked_walls.append(tw)
        tracked_cpus.append(tc)
        differences.append(tw - pw)

    difference = statistics.median(differences)
    cpu_difference = statistics.median(t - p for t, p in zip(tracked_cpus, plain_cpus))
    print(f"A script whose only tracked work is one call ({os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}), {args.pairs} pairs, bytecode compiled, "
          f"store {uri.split(':', 1)[0]}")
    print(f"  untracked script        {statistics.median(plain_walls):6.3f} s wall  "
          f"{statistics.median(plain_cpus):6.3f} s CPU")
    print(f"  tracked script          {statistics.median(tracked_walls):6.3f} s wall  "
          f"{statistics.median(tracked_cpus):6.3f} s CPU")
    verdict = "OK" if difference <= TARGET_SECONDS else f"OVER the {TARGET_SECONDS * 1000:.0f} ms target"
    print(f"  tracking adds           {difference * 1000:6.0f} ms wall (median of pairs, "
          f"min {min(differences) * 1000:.0f}, max {max(differences) * 1000:.0f})  "
          f"{cpu_difference * 1000:6.0f} ms CPU  {verdict}")
    print(f"  run in the store        {statistics.median(lags) * 1000:6.0f} ms after the script ended "
          f"(median; max {max(lags) * 1000:.0f}; 0 when the script wrote it itself)")
    print(f"  first run ever (schema) {first_wall:6.3f} s wall  {first_cpu:6.3f} s CPU")
    settled()
    if not args.uri:
        import sqlite3

        with sqlite3.connect(folder / "modeldb.db") as db:
            (count,) = db.execute("SELECT count(*) FROM runs").fetchone()
        expected = args.pairs + 3
        print(f"  runs recorded           {count} of {expected}" + ("" if count == expected else "  MISSING RUNS"))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
