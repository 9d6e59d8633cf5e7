"""ModelDB for Apache Airflow 3.3 (the ``airflow`` extra).

Installing the extra registers the ``modeldb`` plugin through the
``airflow.plugins`` entry point. Its listener records every task instance of
every tracked DAG as a run (DAG -> pipeline, DAG run -> pipeline run), and it
mounts the ModelDB web app in Airflow's API server under ``/modeldb``, behind
Airflow's own login. See the README section "Airflow" for the settings.

Importing this package imports nothing from Airflow; the names below load on
first use.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelDBPlugin": "plugin",
    "tracked_task": "decorator",
    "TrackingSettings": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
