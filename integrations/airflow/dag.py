"""A DAG as ModelDB sees it: whether it is tracked, its structure, its phase hints."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from modeldb_core.model import Phase

from .settings import TrackingSettings

PHASE_TAG = "phase:"
PHASE_PARAM = "modeldb_phase"
_PHASES = {p.value for p in Phase}


def tracked(dag: Any, settings: TrackingSettings) -> bool:
    if not settings.enabled:
        return False
    if settings.track == "all":
        return True
    return settings.tag in set(getattr(dag, "tags", None) or ())


def structure(dag: Any) -> dict[str, Any]:
    """``{"tasks": [...], "edges": [[up, down], ...]}``: the same for the DAG a worker
    parsed and the serialized DAG the scheduler holds, so both find one pipeline."""
    tasks = sorted(dag.task_dict)
    edges = sorted([up, down] for up in tasks for down in dag.task_dict[up].downstream_task_ids)
    return {"tasks": tasks, "edges": edges}


def structure_key(shape: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def tag_phase(dag: Any) -> str | None:
    """A DAG tag ``phase:<phase>`` sets the phase of all its tasks."""
    for tag in getattr(dag, "tags", None) or ():
        if isinstance(tag, str) and tag.startswith(PHASE_TAG) and tag[len(PHASE_TAG):] in _PHASES:
            return tag[len(PHASE_TAG):]
    return None
