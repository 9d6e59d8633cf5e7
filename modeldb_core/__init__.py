"""ModelDB: the system of record for every model a data team builds.

``import modeldb_core`` is cheap: it imports nothing heavy (no SQLAlchemy, no
orchestrator, no scikit-learn); the names below load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "tracked_task": "task",
    "start_run": "run",
    "active_run": "run",
    "ActiveRun": "run",
    "log_param": "run",
    "log_params": "run",
    "log_metric": "run",
    "log_metrics": "run",
    "set_tag": "run",
    "set_tags": "run",
    "add_note": "run",
    "log_input": "run",
    "log_output": "run",
    "seed_everything": "seeds",
    "reproduce": "reproduction",
    "configure": "client",
    "get_client": "client",
    "search_runs": "query",
    "log_runs": "bulk",
    "flush": "client",
    "open_store": "store",
    "register_model": "registry",
    "resolve_model": "registry",
    "load_model": "registry",
    "record_deployment": "registry",
    "retire_deployment": "registry",
    "mark_degraded": "registry",
    "restore_deployment": "registry",
    "deployments": "registry",
    "Deployment": "registry",
    "monitor": "monitoring",
    "ModelDBError": "errors",
    "ValidationError": "errors",
    "ParamConflictError": "errors",
    "NotFoundError": "errors",
    "QueryError": "errors",
    "StoreError": "errors",
    "Phase": "model",
    "RunStatus": "model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modeldb_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
