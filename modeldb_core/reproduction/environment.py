"""``--env rebuild``: a fresh virtual environment made with uv from the run's recorded lock.

The lock is what every run records already: the Python version and the exact version
of every installed distribution. uv makes the venv with that Python and installs
exactly those versions (``--no-deps``: the lock is the whole set), then ModelDB itself
from this installation (it runs the entry point there). A distribution the index no
longer has is a clear error naming it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import ReproductionError
from .plan import ReproductionPlan

SELF = "modeldb"  # this package: installed from here, not from the index
INSTALL_TIMEOUT = 3600


def uv_executable() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not os.path.exists(found):
        raise ReproductionError("--env rebuild needs uv: pip install uv")
    return found


def _source_of_modeldb() -> str:
    """What to install ModelDB from: this checkout (it has setup.py), else the same version."""
    import modeldb_core

    checkout = Path(modeldb_core.__file__).resolve().parents[1]
    if (checkout / "setup.py").exists() or (checkout / "pyproject.toml").exists():
        return str(checkout)
    return f"{SELF}=={modeldb_core.__version__}"


def _unavailable(stderr: str) -> str:
    """The distribution uv could not find, from its message (or its last line)."""
    for pattern in (r"Because ([A-Za-z0-9_.\-]+==\S+) (?:was not found|has no)", r"No matching distribution "
                    r"found for (\S+)", r"not found in the package registry.*?([A-Za-z0-9_.\-]+==\S+)",
                    r"([A-Za-z0-9_.\-]+==[^\s,]+) was not found"):
        found = re.search(pattern, stderr)
        if found:
            return found.group(1)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown"


def rebuild(client: Any, plan: ReproductionPlan, folder: str | os.PathLike) -> str:
    """Make the venv under ``folder`` from the run's lock; the path of its Python."""
    detail = client.store.get_run_detail(plan.run_id)
    env = detail.environment
    if env is None:
        raise ReproductionError(f"run {plan.run_id} recorded no environment to rebuild")
    uv = uv_executable()
    venv = Path(folder) / "venv"
    made = subprocess.run([uv, "venv", "--quiet", "--python", env.python_version, str(venv)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise ReproductionError(f"uv could not make a venv with Python {env.python_version} (the run's): "
                                f"{made.stderr.strip().splitlines()[-1] if made.stderr.strip() else ''}")
    python = str(venv / "bin" / "python")
    lock = Path(folder) / "requirements.lock"
    lock.write_text("".join(f"{name}=={version}\n" for name, version in sorted(env.packages.items())
                            if name != SELF))
    installed = subprocess.run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "-r", str(lock)],
                               capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT)
    if installed.returncode != 0:
        raise ReproductionError(f"the run's environment cannot be rebuilt: {_unavailable(installed.stderr)} is "
                                "not available from the package index (uv said: "
                                f"{installed.stderr.strip()[-500:]})")
    own = subprocess.run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", _source_of_modeldb()],
                         capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT)
    if own.returncode != 0:
        raise ReproductionError(f"ModelDB could not be installed into the rebuilt venv: {own.stderr.strip()[-500:]}")
    return python
