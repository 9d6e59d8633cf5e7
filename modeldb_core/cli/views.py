"""Plain dicts of the metadata model, for ``--json`` and for tables.

JSON shape (the same for every command): snake_case keys, times as ISO 8601
strings with their time zone (``2026-12-01T04:59:02.123456+00:00``),
durations as seconds (``duration``), NaN and infinities as strings.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .output import duration as readable_duration
from .output import iso_times, timestamp
from modeldb_core.presentation import short_hash  # noqa: F401 - the one hash length, for the commands

RUN_COLUMNS = ["id", "project", "name", "phase", "status", "started", "duration"]


def run_summary(run, readable: bool = True) -> dict[str, Any]:
    """The columns of a run in a listing: UTC times; durations readable, or seconds for CSV."""
    seconds = run.duration
    if readable:
        shown = readable_duration(seconds)
    else:
        shown = round(seconds, 3) if seconds is not None else None
    return {"id": run.id, "project": run.project, "name": run.name, "phase": run.phase,
            "status": run.status, "started": timestamp(run.started_at), "duration": shown}


def run_json(run, **more: Any) -> dict[str, Any]:
    """A run for JSON: every field, ``duration`` in seconds, then ``more`` (params, metrics, tags)."""
    from modeldb_core.query.detail import run_fields

    return {**run_fields(run), **more}


def artifact_dict(version) -> dict[str, Any]:
    return iso_times(dataclasses.asdict(version))
