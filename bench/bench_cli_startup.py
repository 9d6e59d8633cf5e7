"""Start-up as a user installs ModelDB: from the wheel, non-editable, bytecode compiled. Printed.

    python bench/bench_cli_startup.py [--repeat 15] [--here]

It builds the wheel of this checkout (``uv build``), installs it into a fresh venv with
``uv pip install --compile-bytecode`` (the bare install: SQLite, CLI, tracking) and times,
each as a whole process with a fresh HOME:

- ``python -c pass``, the floor every figure below includes;
- ``python -c "import modeldb_core"``;
- ``modeldb --help``, ``modeldb runs list`` / ``--json`` on an empty store;
- a script whose only work is one call, untracked and then ``@tracked_task`` (writing to a
  SQLite store that exists already), run as pairs, untracked then tracked; the figure is the
  median of the pairs' differences: what tracking adds to a short script.

Targets (issue 3): ``modeldb --help`` <= 0.3 s; ``modeldb runs list`` on an empty store <= 0.6 s
(MLflow's ``mlflow runs list`` takes about 2.7 s). Each figure is the median over ``--repeat``
runs after one warm-up. Wall time and the child's own CPU time are both printed: on a busy
machine wall time includes waiting for a core. ``--here`` measures the environment running
this script instead (an editable install pays the editable finder on every start).
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

ROOT = Path(__file__).resolve().parents[1]

UNTRACKED = """
def add(a, b):
    return a + b

print(add(1, 2))
"""

TRACKED = """
import modeldb_core

@modeldb_core.tracked_task(project="startup")
def add(a, b):
    return a + b

print(add(1, 2))
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(cmd: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of running ``cmd``."""
    timed(cmd, env)  # warm-up
    samples = [timed(cmd, env) for _ in range(repeat)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def paired(plain: list[str], tracked: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median (wall, CPU) of tracked minus untracked, over back-to-back pairs."""
    timed(plain, env), timed(tracked, env)  # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        wall_a, cpu_a = timed(plain, env)
        wall_b, cpu_b = timed(tracked, env)
        walls.append(wall_b - wall_a)
        cpus.append(cpu_b - cpu_a)
    return statistics.median(walls), statistics.median(cpus)


def install_wheel(folder: Path) -> Path:
    """The bin folder of a fresh venv with this checkout's wheel installed, bytecode compiled."""
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("uv is needed to build and install the wheel (pip install uv), or use --here")
    subprocess.run([uv, "build", "-q", "--wheel", "--out-dir", str(folder / "dist"), str(ROOT)], check=True)
    [wheel] = (folder / "dist").glob("modeldb-*.whl")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), str(wheel)],
                   check=True)
    return python.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--here", action="store_true", help="measure this environment, not a wheel install")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="modeldb-bench-startup-"))
    bin_dir = Path(sys.executable).parent if args.here else install_wheel(folder)
    python, exe = str(bin_dir / "python"), str(bin_dir / "modeldb")
    home = folder / "home"
    home.mkdir()
    uri = f"sqlite:///{folder / 'modeldb.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
    # Bytecode as an installed package has it; the warm-up runs write whatever is missing.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(HOME=str(home), MODELDB_URI=uri)
    subprocess.run([exe, "db", "upgrade"], env=env, stdout=subprocess.DEVNULL, check=True)
    (folder / "untracked.py").write_text(UNTRACKED)
    (folder / "tracked.py").write_text(TRACKED)

    where = "this environment" if args.here else "a non-editable wheel install, bytecode compiled"
    print(f"Start-up from {where} ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}), "
          f"median of {args.repeat}")
    rows = [
        ("python -c pass", [python, "-c", "pass"], None),
        ("python -c 'import modeldb_core'", [python, "-c", "import modeldb_core"], None),
        ("modeldb --help", [exe, "--help"], 0.3),
        ("modeldb runs list (empty store)", [exe, "runs", "list"], 0.6),
        ("modeldb runs list --json (empty store)", [exe, "runs", "list", "--json"], 0.6),
        ("script with one call, untracked", [python, str(folder / "untracked.py")], None),
    ]
    for label, cmd, target in rows:
        wall, cpu = measure(cmd, env, args.repeat)
        verdict = ""
        if target is not None:
            verdict = "  OK" if wall <= target else f"  OVER the {target} s target (wall)"
            if wall > target and cpu <= target:
                verdict += "; within it in CPU time"
        print(f"  {label:<42} {wall:6.3f} s wall  {cpu:6.3f} s CPU{verdict}")
    wall, cpu = paired([python, str(folder / "untracked.py")], [python, str(folder / "tracked.py")],
                       env, args.repeat)
    print(f"  {'the same call tracked, added (paired)':<42} {wall:+6.3f} s wall  {cpu:+6.3f} s CPU")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
