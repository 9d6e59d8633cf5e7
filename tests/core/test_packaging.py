"""A built wheel, installed into a fresh venv, imports every part under modeldb_core."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import importlib, importlib.util, modeldb_core
for name in ("modeldb_core.store", "modeldb_core.store.sql_store", "modeldb_core.store.migrate",
             "modeldb_core.integrations.luigi", "modeldb_core.integrations.prefect",
             "modeldb_core.integrations.airflow", "modeldb_core.cli"):
    importlib.import_module(name)
from modeldb_core.store import migrate
versions = migrate.MIGRATIONS / "versions"
assert (migrate.MIGRATIONS / "env.py").exists() and any(versions.glob("0001_*.py")), "migrations not packaged"
for generic in ("store", "integrations"):
    assert importlib.util.find_spec(generic) is None, f"the wheel claims the top-level name {generic!r}"
print("ok")
"""


def test_wheel_installs_and_imports_under_modeldb_core(tmp_path):
    uv = shutil.which("uv")
    assert uv, "uv is needed to build the wheel (pip install uv)"
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("modeldb-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), str(wheel)], check=True)
    done = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert (venv / "bin" / "modeldb").exists()
