"""How fast the ``modeldb`` command starts, printed.

    python bench/bench_cli_startup.py [--repeat 15]

Targets (issue 3): ``modeldb --help`` <= 0.3 s; ``modeldb runs list`` on an empty store <= 0.6 s
(MLflow's ``mlflow runs list`` takes about 2.7 s). Each figure is the median over ``--repeat``
runs of the installed console script, after one warm-up run that also lets Python write its
bytecode caches (as ``pip install`` does). Wall time and the child's own CPU time are both
printed: on a busy machine wall time includes waiting for a core.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(cmd: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of running ``cmd``."""
    walls, cpus = [], []
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)  # warm-up
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    exe = Path(sys.executable).with_name("modeldb")
    folder = Path(tempfile.mkdtemp(prefix="modeldb-bench-cli-"))
    env = {**os.environ, "HOME": str(folder)}
    # Let Python cache bytecode like an installed package has it (pip compiles at install).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    uri = f"sqlite:///{folder / 'modeldb.db'}"
    subprocess.run([str(exe), "--uri", uri, "db", "upgrade"], env=env, stdout=subprocess.DEVNULL, check=True)

    print(f"`modeldb` start-up ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}), "
          f"median of {args.repeat}")
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("modeldb --help", [str(exe), "--help"], 0.3),
        ("modeldb runs list (empty store)", [str(exe), "--uri", uri, "runs", "list"], 0.6),
        ("modeldb runs list --json (empty store)", [str(exe), "--uri", uri, "runs", "list", "--json"], 0.6),
    ]
    for label, cmd, target in rows:
        wall, cpu = measure(cmd, env, args.repeat)
        verdict = ""
        if target is not None:
            verdict = "  OK" if wall <= target else f"  OVER the {target} s target (wall)"
            if wall > target and cpu <= target:
                verdict += "; within it in CPU time"
        print(f"  {label:<42} {wall:6.3f} s wall  {cpu:6.3f} s CPU{verdict}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
