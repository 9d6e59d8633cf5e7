"""Importing ModelDB (or its Airflow package) imports no Airflow and no web framework."""
from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_loads_neither_airflow_nor_fastapi():
    code = ("import sys, modeldb_core, modeldb_core.integrations.airflow as a; "
            "assert a.tracked_task is modeldb_core.tracked_task; "
            "print(sorted(m for m in ('airflow', 'fastapi', 'sqlalchemy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
