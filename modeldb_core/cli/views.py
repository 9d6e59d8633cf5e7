"""Plain dicts of the metadata model, for ``--json`` and for tables."""
from __future__ import annotations

import dataclasses
from typing import Any

from .output import timestamp

RUN_COLUMNS = ["id", "project", "name", "phase", "status", "started", "duration"]


def run_summary(run) -> dict[str, Any]:
    """The columns of a run in a listing (times as readable UTC)."""
    duration = run.duration
    return {"id": run.id, "project": run.project, "name": run.name, "phase": run.phase,
            "status": run.status, "started": timestamp(run.started_at),
            "duration": round(duration, 3) if duration is not None else None}


def run_dict(run) -> dict[str, Any]:
    return dataclasses.asdict(run)


def artifact_dict(version) -> dict[str, Any]:
    return dataclasses.asdict(version)


def io_dict(io) -> dict[str, Any]:
    return {"direction": io.direction, "name": io.name, **artifact_dict(io.artifact)}


def detail_dict(detail) -> dict[str, Any]:
    """Everything recorded about a run, as JSON-able data."""
    return {
        "run": run_dict(detail.run),
        "params": detail.params,
        "metrics": detail.metrics,
        "metric_history": {k: [{"value": m.value, "step": m.step, "timestamp": m.timestamp}
                               for m in v] for k, v in detail.metric_history.items()},
        "tags": detail.tags,
        "notes": [{"text": n.text, "created_at": n.created_at} for n in detail.notes],
        "inputs": [io_dict(i) for i in detail.inputs],
        "outputs": [io_dict(o) for o in detail.outputs],
        "code_version": dataclasses.asdict(detail.code_version) if detail.code_version else None,
        "environment": dataclasses.asdict(detail.environment) if detail.environment else None,
        "children": list(detail.children),
    }


def short_hash(content_hash: str | None, length: int = 12) -> str:
    if not content_hash:
        return ""
    return content_hash.split(":")[-1][:length]
